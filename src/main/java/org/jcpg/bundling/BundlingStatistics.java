package org.jcpg.bundling;

/**
 * What a {@link BundlingSender} has done so far.
 *
 * @param accepted      messages taken by send/trySend
 * @param sent          messages handed to libcpg, inside bundles
 * @param bundles       bundles (CPG messages) handed to libcpg
 * @param refused       sends refused or timed out because the queue was full
 * @param tryAgain      attempts the daemon refused (TRY_AGAIN), each retried later
 * @param largestBundle the largest bundle sent, in bytes with its framing
 * @param queuedBytes   bytes waiting in the queue now, framing included
 */
public record BundlingStatistics(long accepted, long sent, long bundles, long refused, long tryAgain,
                                 long largestBundle, long queuedBytes) {
    /** {@return the messages per bundle on average; 0 before the first bundle} */
    public double messagesPerBundle() {
        return bundles == 0 ? 0 : (double) sent / bundles;
    }
}
