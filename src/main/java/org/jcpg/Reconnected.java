package org.jcpg;

/**
 * A {@link CpgEventLoop} with a reconnect policy connected again after
 * {@link ConnectionLost}, and joined the group again if the connection was
 * in one. Messages sent and membership changes made while it was away were
 * not delivered to it and never will be: resynchronize the application's
 * state from here (the membership change of the new join follows).
 *
 * @param attempts how many connection attempts it took
 * @param group    the group joined again, or null
 */
public record Reconnected(int attempts, GroupName group) implements CpgEvent {
}
