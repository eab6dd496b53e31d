package org.jcpg;

/** How much {@link CpgConnection#dispatch} does ({@code cs_dispatch_flags_t}). */
public enum DispatchMode {
    /**
     * Wait until an event that runs a callback arrives, then dispatch it (or
     * until the connection is closed). A fragment of a large message runs no
     * callback: the wait goes on until the whole message is delivered.
     */
    ONE(1),
    /** Dispatch every event already waiting, then return; never waits. */
    ALL(2),
    /** Dispatch events as they arrive until the connection is closed, or a callback throws. */
    BLOCKING(3),
    /** Dispatch one event if one is waiting; never waits. */
    ONE_NONBLOCKING(4);

    private final int code;

    DispatchMode(int code) {
        this.code = code;
    }

    /** {@return the numeric {@code cs_dispatch_flags_t} value} */
    public int code() {
        return code;
    }
}
