package org.jcpg;

/**
 * Receives a connection's events. Every method does nothing by default:
 * override the ones you need.
 *
 * <p>Callbacks run only inside {@link CpgConnection#dispatch}, on the thread
 * that called it, one at a time per connection. They may call the
 * connection (send, leave, even {@link CpgConnection#close()}), but not
 * {@code dispatch} of the same connection (another connection's is fine).
 * Whatever a callback throws never reaches native code: the events that
 * dispatch already took from libcpg are still delivered, so none is lost,
 * and then the first throwable is thrown from {@code dispatch} (see there).
 */
public interface CpgListener {
    /**
     * Every event goes through here first. By default it calls the method
     * for the event's kind; override it instead to handle all kinds in one
     * exhaustive {@code switch} (see {@link CpgEvent}).
     *
     * @param connection the connection that delivered it
     * @param event      the event
     */
    default void onEvent(CpgConnection connection, CpgEvent event) {
        switch (event) {
            case Message message -> onMessage(connection, message);
            case MembershipChange change -> onMembershipChange(connection, change);
            case TotemChange change -> onTotemChange(connection, change);
            case ConnectionLost lost -> onConnectionLost(connection, lost);
            case Reconnected reconnected -> onReconnected(connection, reconnected);
        }
    }

    /**
     * A message was delivered to the group. Its payload is valid during this call only.
     *
     * @param connection the connection that delivered it
     * @param message    the message
     */
    default void onMessage(CpgConnection connection, Message message) {
    }

    /**
     * The group's membership changed.
     *
     * @param connection the connection that delivered it
     * @param change     the new members, and who joined and left, with reasons
     */
    default void onMembershipChange(CpgConnection connection, MembershipChange change) {
    }

    /**
     * The totem ring changed. Only for connections opened with
     * {@link CpgConnection#open}; the first one after opening comes only with
     * {@link ModelFlag#DELIVER_INITIAL_TOTEM_CONF}.
     *
     * @param connection the connection that delivered it
     * @param change     the new ring and its nodes
     */
    default void onTotemChange(CpgConnection connection, TotemChange change) {
    }

    /**
     * The connection to corosync broke; reported by a {@link CpgEventLoop}.
     *
     * @param connection the connection that broke
     * @param lost       why
     */
    default void onConnectionLost(CpgConnection connection, ConnectionLost lost) {
    }

    /**
     * A {@link CpgEventLoop}'s reconnect policy connected (and joined) again.
     *
     * @param connection  the connection, usable again
     * @param reconnected what was restored
     */
    default void onReconnected(CpgConnection connection, Reconnected reconnected) {
    }
}
