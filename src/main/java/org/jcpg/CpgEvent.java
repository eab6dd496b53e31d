package org.jcpg;

/**
 * Everything a connection reports to its {@link CpgListener}, as one closed
 * family, so that a listener can handle it with an exhaustive switch:
 *
 * <pre>{@code
 * public void onEvent(CpgConnection cpg, CpgEvent event) {
 *     switch (event) {
 *         case Message m -> handle(m.toByteArray());
 *         case MembershipChange c -> view = c.members();
 *         case TotemChange t -> { }
 *         case ConnectionLost lost -> log(lost.cause());
 *         case Reconnected r -> resynchronize();
 *     }
 * }
 * }</pre>
 */
public sealed interface CpgEvent permits Message, MembershipChange, TotemChange, ConnectionLost, Reconnected {
}
