package org.jcpg.cluster;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jcpg.GroupName;
import org.jcpg.bundling.BundlingStatistics;

/** This process as a {@link LoadMember} of one group through each of several nodes (node ids 1..n). */
public final class LoadGroup {
    private final List<LoadMember> members = new ArrayList<>();

    public LoadGroup(List<Path> netns, GroupName group, int perSecond, int maxSize) {
        this(netns, group, perSecond, maxSize, new LoadMember.Sending.Plain());
    }

    public LoadGroup(List<Path> netns, GroupName group, int perSecond, int maxSize, LoadMember.Sending sending) {
        for (int i = 0; i < netns.size(); i++) {
            members.add(new LoadMember(netns.get(i), i + 1, group, perSecond, maxSize, sending).start());
        }
    }

    public boolean connected() {
        return members.stream().allMatch(LoadMember::connected);
    }

    /** The smallest latest-view size over the members (0 if one is not connected). */
    public int minViewSize() {
        return members.stream().mapToInt(LoadMember::viewSize).min().orElse(0);
    }

    public void stopSending() {
        members.forEach(LoadMember::stopSending);
    }

    public boolean selfDelivered() {
        return members.stream().allMatch(LoadMember::selfDelivered);
    }

    public long deliveries() {
        return members.stream().mapToLong(LoadMember::deliveries).sum();
    }

    public List<VsHistory> finish() {
        List<VsHistory> all = new ArrayList<>();
        members.forEach(m -> all.addAll(m.finish()));
        return all;
    }

    /** The members' bundling statistics, summed (all zero for plain members). */
    public BundlingStatistics bundlingStatistics() {
        return LoadMember.sum(members.stream().map(LoadMember::bundlingStatistics).toList());
    }

    /**
     * "connected minViewSize selfDelivered deliveries bundledSent bundles largestBundle", for a
     * parent process (the last three: {@link #bundlingStatistics()}).
     */
    public String status() {
        BundlingStatistics b = bundlingStatistics();
        return connected() + " " + minViewSize() + " " + selfDelivered() + " " + deliveries() + " " + b.sent() + " "
                + b.bundles() + " " + b.largestBundle();
    }
}
