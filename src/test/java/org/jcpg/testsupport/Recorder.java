package org.jcpg.testsupport;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jcpg.CpgConnection;
import org.jcpg.CpgListener;
import org.jcpg.GroupName;
import org.jcpg.Member;
import org.jcpg.MembershipChange;
import org.jcpg.Message;
import org.jcpg.TotemChange;

/** A listener that keeps every event (messages copied to byte arrays). */
public final class Recorder implements CpgListener {
    public record Received(GroupName group, long nodeId, int pid, byte[] payload, String thread) {
    }

    public final List<Received> messages = new CopyOnWriteArrayList<>();
    public final List<MembershipChange> membershipChanges = new CopyOnWriteArrayList<>();
    public final List<TotemChange> totemChanges = new CopyOnWriteArrayList<>();

    @Override
    public void onMessage(CpgConnection connection, Message message) {
        messages.add(new Received(message.group(), message.nodeId(), message.pid(), message.toByteArray(),
                Thread.currentThread().getName()));
    }

    @Override
    public void onMembershipChange(CpgConnection connection, MembershipChange change) {
        membershipChanges.add(change);
    }

    @Override
    public void onTotemChange(CpgConnection connection, TotemChange change) {
        totemChanges.add(change);
    }

    /** Every member that appeared in a joined list, in order. */
    public List<Member> joins() {
        List<Member> all = new ArrayList<>();
        membershipChanges.forEach(change -> all.addAll(change.joined()));
        return all;
    }

    /** Every member that appeared in a left list, in order. */
    public List<Member> leaves() {
        List<Member> all = new ArrayList<>();
        membershipChanges.forEach(change -> all.addAll(change.left()));
        return all;
    }
}
