package org.jcpg.testsupport;

import java.lang.reflect.Method;

/**
 * Bytes allocated so far by the calling thread (com.sun.management.ThreadMXBean, by reflection:
 * the test module reads neither java.management nor jdk.management).
 */
public final class ThreadAllocation {
    private final Object bean;
    private final Method allocated;

    public ThreadAllocation() throws ReflectiveOperationException {
        bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Class<?> extended = Class.forName("com.sun.management.ThreadMXBean");
        allocated = extended.getMethod("getCurrentThreadAllocatedBytes");
        extended.getMethod("setThreadAllocatedMemoryEnabled", boolean.class).invoke(bean, true);
    }

    /** The calling thread's bytes allocated so far. */
    public long now() throws ReflectiveOperationException {
        return (long) allocated.invoke(bean);
    }

    /** What one call of {@link #now()} allocates itself (boxing, varargs), the least of a few tries. */
    public long overhead() throws ReflectiveOperationException {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < 20; i++) {
            long a = now();
            long b = now();
            least = Math.min(least, b - a);
        }
        return least;
    }
}
