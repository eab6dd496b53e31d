package org.jcpg;

import java.util.List;
import java.util.Objects;

/**
 * A change of a group's membership ({@code cpg_confchg_fn_t}): who is in
 * the group now, who left and who joined, each in the daemon's order.
 *
 * @param group   the group
 * @param members the members after the change
 * @param left    the processes that left, each with its {@link Reason}
 * @param joined  the processes that joined, each with its {@link Reason}
 */
public record MembershipChange(GroupName group, List<Member> members, List<Member> left, List<Member> joined)
        implements CpgEvent {
    /** Copies the lists into unmodifiable ones. */
    public MembershipChange {
        Objects.requireNonNull(group, "group");
        members = List.copyOf(members);
        left = List.copyOf(left);
        joined = List.copyOf(joined);
    }
}
