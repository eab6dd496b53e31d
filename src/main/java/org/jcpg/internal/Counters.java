package org.jcpg.internal;

import java.time.Duration;
import org.jcpg.CpgStatistics;

/**
 * A connection's statistics. Each field is written by one thread at a time
 * (sends under the IPC lock, deliveries by the thread running callbacks,
 * which dispatch or a serial executor orders) and read by any.
 */
public final class Counters {
    volatile long messagesSent;
    volatile long bytesSent;
    volatile long sendsRefused;
    volatile long messagesDelivered;
    volatile long bytesDelivered;
    volatile long otherEvents;
    volatile long callbackFailures;
    volatile long dispatchCalls;
    volatile long callbackNanos;
    /** The queue of an event loop's executor, if any: what waits there was read but not yet delivered. */
    volatile SerialExecutor serial;

    public CpgStatistics snapshot() {
        SerialExecutor queue = serial;
        return new CpgStatistics(messagesSent, bytesSent, sendsRefused, messagesDelivered, bytesDelivered,
                otherEvents, callbackFailures, dispatchCalls, Duration.ofNanos(callbackNanos),
                queue == null ? 0 : queue.waiting());
    }
}
