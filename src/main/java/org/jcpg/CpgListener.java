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
    /** A message was delivered to the group. Its payload is valid during this call only. */
    default void onMessage(CpgConnection connection, Message message) {
    }

    /** The group's membership changed. */
    default void onMembershipChange(CpgConnection connection, MembershipChange change) {
    }

    /**
     * The totem ring changed. Only for connections opened with
     * {@link CpgConnection#open}; the first one after opening comes only with
     * {@link ModelFlag#DELIVER_INITIAL_TOTEM_CONF}.
     */
    default void onTotemChange(CpgConnection connection, TotemChange change) {
    }
}
