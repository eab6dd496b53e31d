package org.jcpg.cluster;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.jcpg.GroupName;

/**
 * A child JVM that is a {@link LoadMember} through every node ({@link LoadGroup}):
 * a second process per node for the virtual-synchrony load test. Prints
 * {@code READY pid}, then answers each command line with {@code OK ...} or
 * {@code ERR ...}:
 * <ul>
 * <li>{@code start GROUPHEX PERSECOND MAXSIZE SENDING NETNS...}: starts the members, sending
 *     as {@link LoadMember.Sending#parse} reads SENDING ({@code plain}, {@code bundled:THREADS:BURST});
 * <li>{@code status}: {@code OK} and {@link LoadGroup#status()};
 * <li>{@code stop}: stops sending;
 * <li>{@code finish FILE}: closes the members and writes their histories to FILE;
 * <li>{@code exit} (or end of input): halts.
 * </ul>
 */
public final class LoadPeerMain {
    private LoadPeerMain() {
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, UTF_8));
        System.out.println("READY " + ProcessHandle.current().pid());
        System.out.flush();
        LoadGroup group = null;
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            String reply;
            try {
                reply = switch (w[0]) {
                    case "start" -> {
                        List<Path> netns = Arrays.stream(w, 5, w.length).map(Path::of).toList();
                        group = new LoadGroup(netns, GroupName.ofBytes(HexFormat.of().parseHex(w[1])),
                                Integer.parseInt(w[2]), Integer.parseInt(w[3]), LoadMember.Sending.parse(w[4]));
                        yield "OK";
                    }
                    case "status" -> "OK " + group.status();
                    case "stop" -> {
                        group.stopSending();
                        yield "OK";
                    }
                    case "finish" -> {
                        Files.writeString(Path.of(w[1]), VsHistory.write(group.finish()));
                        yield "OK";
                    }
                    case "exit" -> {
                        Runtime.getRuntime().halt(0);
                        yield "OK";
                    }
                    default -> "ERR unknown command " + line;
                };
            } catch (Throwable t) {
                reply = "ERR " + t;
            }
            System.out.println(reply);
            System.out.flush();
        }
        Runtime.getRuntime().halt(0);
    }
}
