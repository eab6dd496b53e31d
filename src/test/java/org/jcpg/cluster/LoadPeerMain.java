package org.jcpg.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.jcpg.GroupName;
import org.jcpg.testsupport.ChildProtocol;

/**
 * A child JVM that is a {@link LoadMember} through every node ({@link LoadGroup}):
 * a second process per node for the virtual-synchrony load test. It speaks
 * {@link ChildProtocol}; its commands:
 * <ul>
 * <li>{@code start GROUPHEX PERSECOND MAXSIZE SENDING NETNS...}: starts the members, sending
 *     as {@link LoadMember.Sending#parse} reads SENDING ({@code plain}, {@code bundled:THREADS:BURST});
 * <li>{@code status}: answers {@link LoadGroup#status()};
 * <li>{@code stop}: stops sending;
 * <li>{@code finish FILE}: closes the members and writes their histories to FILE;
 * <li>{@code exit} (the protocol's): halts.
 * </ul>
 */
public final class LoadPeerMain {
    private static LoadGroup group;

    private LoadPeerMain() {
    }

    public static void main(String[] args) {
        new ChildProtocol()
                .on("start", c -> group = new LoadGroup(c.wordsFrom(5).stream().map(Path::of).toList(),
                        GroupName.ofBytes(HexFormat.of().parseHex(c.word(1))), c.intWord(2), c.intWord(3),
                        LoadMember.Sending.parse(c.word(4))))
                .answer("status", c -> group.status())
                .on("stop", c -> group.stopSending())
                .on("finish", c -> Files.writeString(Path.of(c.word(1)), VsHistory.write(group.finish())))
                .serve();
    }
}
