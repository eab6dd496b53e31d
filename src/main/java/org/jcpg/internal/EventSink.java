package org.jcpg.internal;

import org.jcpg.CpgEvent;

/**
 * Where a {@link Dispatcher} delivers events: supplied by the facade, which
 * hands each event to the application's listener together with itself.
 *
 * <p>The dispatcher holds its sink weakly, and the facade holds it
 * strongly, so that a connection the application dropped can be reclaimed
 * while the event loop that polls it runs on. One class implements it, so
 * the delivery call stays monomorphic for the JIT.
 */
public interface EventSink {
    /** Runs the application's callback for {@code event}; what it throws, the caller reports. */
    void deliver(CpgEvent event);
}
