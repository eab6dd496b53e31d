package org.jcpg.internal;

/**
 * A connection as a reconnect sees it: implemented by the facade, which
 * owns the listener, counters and flags a new handle needs. The internal
 * layer holds it weakly while the connection is dispatched, so that a
 * connection the application dropped is still reclaimed.
 */
public interface Reconnectable {
    /** {@return whether the application closed the connection} */
    boolean isClosed();

    /**
     * Opens a new handle for the same listener, not joined.
     *
     * @return its dispatcher
     * @throws org.jcpg.CpgException if the daemon does not answer (yet)
     */
    Dispatcher redial();

    /**
     * Puts {@code fresh} in the place of {@code lost}.
     *
     * @param lost  the dispatcher of the broken handle
     * @param fresh the dispatcher of the new one
     * @return false, with {@code fresh}'s handle closed, if the connection was
     *         closed or replaced meanwhile
     */
    boolean replace(Dispatcher lost, Dispatcher fresh);
}
