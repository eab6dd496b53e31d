package org.jcpg.internal;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a dead daemon leaves of this process's connections in /dev/shm.
 * libqb keeps each connection's rings in a directory
 * {@code /dev/shm/qb-SERVER-CLIENT-CONN-RANDOM}; the daemon removes it when
 * it closes the connection. When the daemon died, the client's finalize
 * unlinks the ring files (if the daemon is already reaped) but never the
 * directory, and nobody else will. Only empty directories are removed:
 * files left in one mean libqb still counts the connection as live.
 */
final class ShmLeftovers {
    private static final Path SHM = Path.of("/dev/shm");
    private static final Pattern OURS = Pattern.compile(
            "qb-(\\d+)-" + ProcessHandle.current().pid() + "-\\d+-\\w+");

    private ShmLeftovers() {
    }

    /** Removes the empty ring directories of this process whose daemon no longer runs. Best effort. */
    static void removeEmptyOfDeadDaemons() {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(SHM, "qb-*")) {
            for (Path entry : entries) {
                Matcher name = OURS.matcher(entry.getFileName().toString());
                if (name.matches() && !running(Long.parseLong(name.group(1))) && Files.isDirectory(entry)) {
                    try {
                        Files.delete(entry);
                    } catch (IOException notEmptyOrGone) {
                        // Not ours to force.
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // /dev/shm unreadable: nothing to clean that we could see.
        }
    }

    /** Alive and not a zombie. */
    private static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException | RuntimeException gone) {
            return false;
        }
    }
}
