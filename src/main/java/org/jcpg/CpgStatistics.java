package org.jcpg;

import java.time.Duration;

/**
 * What one connection has done since it was opened (a snapshot of
 * {@link CpgConnection#statistics()}; each figure is read on its own, so
 * a snapshot taken while traffic flows is not one instant).
 *
 * <p>Deliveries count what reached the listener: with an event loop's
 * executor, an event counts when its callback is called, not when it is
 * read from the daemon, and an event that the executor refused (and that
 * went to the loop's error handler instead, see {@link CpgEventLoop}) or
 * that {@code close} dropped before it ran does not count.
 *
 * @param messagesSent      messages libcpg accepted from this connection
 * @param bytesSent         their payload bytes
 * @param sendsRefused      sends the daemon refused with TRY_AGAIN (each retry counts)
 * @param messagesDelivered messages the listener was called with
 * @param bytesDelivered    their payload bytes
 * @param otherEvents       membership, totem and connection events the listener was called with
 * @param callbackFailures  callbacks that threw
 * @param dispatchCalls     native dispatches (each {@code dispatch}, or each wake-up of an event loop)
 * @param timeInCallbacks   time spent running the listener's callbacks
 * @param eventsWaiting     events read from the daemon and waiting for an event loop's
 *                          executor now (always 0 without one); an event loop stops reading
 *                          a connection with 10,000 waiting
 */
public record CpgStatistics(long messagesSent, long bytesSent, long sendsRefused,
                            long messagesDelivered, long bytesDelivered, long otherEvents,
                            long callbackFailures, long dispatchCalls, Duration timeInCallbacks,
                            long eventsWaiting) {
}
