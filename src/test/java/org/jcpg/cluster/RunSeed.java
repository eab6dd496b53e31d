package org.jcpg.cluster;

import java.security.SecureRandom;

/**
 * The seed a randomized cluster test draws its run from (its fault schedule): the system
 * property {@value #PROPERTY} if set (decimal, or hex with {@code 0x}), else a fresh one per
 * run, so that every run tries another schedule and a failing one can be replayed with
 * {@link #replay}. Surefire passes {@code -D} properties of the Maven command line on to the
 * test JVM, so {@code scripts/test.sh -Dtest=VirtualSynchronyLoadTest -Djcpg.vs.seed=N} replays.
 *
 * @param value the seed
 * @param given whether it came from the property (else it was drawn for this run)
 */
record RunSeed(long value, boolean given) {
    static final String PROPERTY = "jcpg.vs.seed";

    /** From {@value #PROPERTY}, else a fresh non-negative one; fails loudly on a malformed property. */
    static RunSeed fromPropertyOrFresh() {
        String text = System.getProperty(PROPERTY);
        if (text == null || text.isBlank()) {
            return new RunSeed(new SecureRandom().nextLong() & Long.MAX_VALUE, false);
        }
        return new RunSeed(parse(text), true);
    }

    static long parse(String text) {
        String t = text.strip();
        try {
            return t.startsWith("0x") || t.startsWith("0X") ? Long.parseUnsignedLong(t.substring(2), 16)
                    : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + text + ": not a number (decimal, or hex with 0x)", e);
        }
    }

    /** The command that runs {@code test} again with this seed. */
    String replay(Class<?> test) {
        return "scripts/test.sh -Dtest=" + test.getSimpleName() + " -D" + PROPERTY + "=" + value;
    }

    @Override
    public String toString() {
        return PROPERTY + "=" + value + (given ? " (from the property)" : " (drawn for this run)");
    }
}
