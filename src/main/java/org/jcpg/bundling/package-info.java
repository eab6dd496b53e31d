/**
 * Bundling: many small application messages per CPG message, with CPG's
 * total order and virtual synchrony intact.
 *
 * <p>corosync spends tens of microseconds of CPU on every CPG message,
 * whatever its size. With bundling, every member of a group uses the same
 * {@link org.jcpg.bundling.Bundling}: a {@link org.jcpg.bundling.BundlingSender}
 * (any number of threads may send through it) packs queued messages into
 * bundles, one CPG message each, and a {@link org.jcpg.bundling.BundlingReceiver}
 * (the listener given to {@link org.jcpg.CpgConnection#open(org.jcpg.CpgListener, org.jcpg.ModelFlag...)}
 * or {@link org.jcpg.CpgEventLoop#open(org.jcpg.CpgListener, org.jcpg.ModelFlag...)})
 * unpacks them, so that the application's listener sees each message as a
 * {@link org.jcpg.Message} of its own, with its sender's node id and pid.
 * A sender's {@link org.jcpg.bundling.BundlingStatistics} count the messages
 * accepted and sent, the bundles, and the refusals.
 *
 * <p>A bundle is one CPG message: it is delivered whole, in agreed order,
 * within one view, or not at all. Under low load a message goes out at once,
 * alone; under load, messages wait for the bundles in flight and fill the
 * next one. The frame format is documented in {@link org.jcpg.bundling.Bundling}.
 * Bundling sends through the public API of {@code org.jcpg} only.
 */
package org.jcpg.bundling;
