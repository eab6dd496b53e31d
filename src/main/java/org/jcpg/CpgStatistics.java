package org.jcpg;

import java.time.Duration;

/**
 * What one connection has done since it was opened (a snapshot of
 * {@link CpgConnection#statistics()}; each figure is read on its own, so
 * a snapshot taken while traffic flows is not one instant).
 *
 * @param messagesSent      messages libcpg accepted from this connection
 * @param bytesSent         their payload bytes
 * @param sendsRefused      sends the daemon refused with TRY_AGAIN (each retry counts)
 * @param messagesDelivered messages delivered to the listener
 * @param bytesDelivered    their payload bytes
 * @param otherEvents       membership, totem and connection events delivered to the listener
 * @param callbackFailures  callbacks that threw
 * @param dispatchCalls     native dispatches (each {@code dispatch}, or each wake-up of an event loop)
 * @param timeInCallbacks   time spent running the listener's callbacks
 */
public record CpgStatistics(long messagesSent, long bytesSent, long sendsRefused,
                            long messagesDelivered, long bytesDelivered, long otherEvents,
                            long callbackFailures, long dispatchCalls, Duration timeInCallbacks) {
}
