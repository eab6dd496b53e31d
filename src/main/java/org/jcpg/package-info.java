/**
 * corosync's Closed Process Group (CPG) API for Java: virtually synchronous
 * group membership and totally ordered multicast, through libcpg and the
 * Foreign Function &amp; Memory API.
 *
 * <h2>What to read first</h2>
 * <ol>
 *   <li>{@link org.jcpg.CpgEventLoop}: the way most programs should receive
 *       events. It dispatches any number of connections on a thread of its
 *       own, optionally hands the callbacks to an executor, and can reconnect
 *       after the daemon went away.</li>
 *   <li>{@link org.jcpg.CpgConnection}: one libcpg handle. Join one group,
 *       {@linkplain org.jcpg.CpgConnection#multicast(Guarantee, byte[]) multicast},
 *       query membership and groups, and {@linkplain org.jcpg.CpgConnection#dispatch(DispatchMode)
 *       dispatch} yourself if you do not use an event loop.</li>
 *   <li>{@link org.jcpg.CpgListener} and the sealed {@link org.jcpg.CpgEvent}
 *       family: {@link org.jcpg.Message}, {@link org.jcpg.MembershipChange},
 *       {@link org.jcpg.TotemChange}, {@link org.jcpg.ConnectionLost},
 *       {@link org.jcpg.Reconnected}. A listener either overrides one method
 *       per kind or switches over {@code onEvent}.</li>
 *   <li>The values: {@link org.jcpg.GroupName} (1-128 bytes, compared byte
 *       for byte), {@link org.jcpg.Member}, {@link org.jcpg.Reason},
 *       {@link org.jcpg.RingId}, {@link org.jcpg.Guarantee}.</li>
 *   <li>Errors: {@link org.jcpg.CpgException} with its
 *       {@link org.jcpg.CpgError}; {@link org.jcpg.CpgException#isRetryable()}
 *       marks {@code TRY_AGAIN}, a full daemon queue.</li>
 *   <li>For large messages written in place: {@link org.jcpg.ZeroCopyBuffer};
 *       for many small ones: the package {@link org.jcpg.bundling}.</li>
 * </ol>
 *
 * <h2>Threads, in two lines</h2>
 * Any number of threads may call any method of one connection at once (jcpg
 * serializes libcpg's requests), and any thread may dispatch. Callbacks run
 * one at a time per connection, on the dispatching thread (or the event
 * loop's executor); a payload is valid only during its callback.
 *
 * <h2>Running</h2>
 * The JVM must grant the module native access:
 * {@code --enable-native-access=org.jcpg} on the module path,
 * {@code --enable-native-access=ALL-UNNAMED} on the class path. At run time
 * the host needs {@code libcpg.so.4} and a running corosync. The project's
 * {@code README.md} and {@code docs/guide.md} (the user guide, with a table
 * from each C call to its method here) say more.
 */
package org.jcpg;
