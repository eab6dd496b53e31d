package org.jcpg;

import java.util.Objects;

/**
 * The connection to corosync broke (the daemon died, restarted or dropped
 * this client): reported once, by a {@link CpgEventLoop}, which then stops
 * dispatching the connection. Calls on it fail with {@link CpgException}
 * until it is closed or, with a reconnect policy, {@link Reconnected}.
 * Events that were still in flight are lost with the daemon.
 *
 * @param cause what libcpg said, usually {@link CpgError#LIBRARY}
 */
public record ConnectionLost(CpgException cause) implements CpgEvent {
    /**
     * Reports a broken connection.
     *
     * @param cause what libcpg said
     * @throws NullPointerException if {@code cause} is null
     */
    public ConnectionLost {
        Objects.requireNonNull(cause, "cause");
    }
}
