/**
 * Example: a replicated key-value map on CPG ({@link org.jcpg.examples.kv.ReplicatedMap}),
 * built on jcpg's public API only. Not part of the library jar: it lives in {@code examples/}, compiled
 * by the normal build, where its tests ({@code ReplicatedMapTest}) and the demo ({@code scripts/demo.sh}) run it.
 *
 * <h2>How it uses CPG</h2>
 * <ul>
 * <li><b>Updates are multicast, never applied locally first.</b> {@code put} sends the update
 * with agreed order; every member, the sender included, applies it when corosync delivers it.
 * corosync delivers the same messages in the same order to every member, so replicas that have
 * applied the same number of updates are equal, byte for byte.
 * <li><b>Configuration changes are events of the same stream.</b> CPG's virtual synchrony places
 * every membership change at the same point of the message stream for every member that sees
 * it. The replicated state counts them ({@code epoch}) and records every member with the epoch
 * it joined in and whether it holds the state yet: all replicas agree on this bookkeeping
 * without exchanging a message.
 * <li><b>State transfer.</b> A joiner's history starts at its own JOIN change. From there it
 * buffers every delivery (updates, changes, snapshots) instead of applying it. At every change
 * after which some member lacks the state, the lowest member (node id, then pid) that holds it
 * serializes the state <em>as of that change</em>, inside the callback, so no update slips in
 * between, and multicasts it tagged with the change's epoch. A joiner that receives a snapshot
 * tagged with an epoch at or after its own join finds that change in its buffer (the snapshot
 * also carries the joiner's join epoch, so the difference is the change's index in the buffer),
 * installs the snapshot and applies the buffered events that came after that change. Updates
 * delivered before the change are in the snapshot; those after it were buffered; none is in
 * both, none is in neither.
 * <li><b>The sender may die.</b> If the chosen sender fails before its snapshot is delivered,
 * its leave is a change after which the joiner still lacks the state, so the next lowest member
 * holding it sends a snapshot tagged with that newer change. Snapshots that turn out to be
 * superfluous are ignored. Every member marks the waiting members as holding the state when a
 * snapshot that covers them is delivered, so the choice of the next sender stays the same
 * everywhere.
 * <li><b>Large states.</b> A snapshot is sent in chunks of at most
 * {@code maxAtomicMessageSize()} bytes (less if configured), each one atomic: libcpg's own
 * fragmentation of larger messages fails with {@code CS_ERR_INTERRUPT} across a configuration
 * change, and a chunk of a dying sender is simply dropped with it. An update must fit in one
 * atomic message (about 1 MiB): it is applied entirely or not at all.
 * <li><b>Exactly once.</b> Each update carries its sender's sequence number; the replicated state
 * keeps the last one per member and counts anomalies (a duplicate or a gap), so tests can prove
 * none happened.
 * </ul>
 *
 * <h2>Limits</h2>
 * The state lives in the members' memory: if every member holding it fails before a joiner
 * received it, the joiner never gets it ({@code awaitSynced} times out). A member whose
 * connection to corosync is lost cannot know what it missed; it must close and join again.
 * Reads are local and may lag behind a write made elsewhere; a write's future completes once
 * the write is applied locally.
 */
package org.jcpg.examples.kv;
