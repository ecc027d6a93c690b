package io.maglevlb.dataplane.udp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Reads the kernel's per-socket drop counter of UDP sockets (the last column of /proc/net/udp and
 * /proc/net/udp6): datagrams the kernel discarded because the socket's receive buffer was full. The forwarder
 * never sees those datagrams, so they appear in no other counter. Read at metrics time, never per datagram.
 */
final class KernelUdpDrops {
    private static final Path[] TABLES = {Path.of("/proc/net/udp"), Path.of("/proc/net/udp6")};
    private static final int INODE_COLUMN = 9;
    private static final int DROPS_COLUMN = 12;

    private KernelUdpDrops() {}

    /**
     * The socket inode behind file descriptor {@code fd} of this process, or -1 when it cannot be read (no
     * /proc, or not a socket).
     */
    static long socketInode(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            if (target.startsWith("socket:[") && target.endsWith("]")) {
                return Long.parseLong(target, 8, target.length() - 1, 10);
            }
        } catch (IOException | UnsupportedOperationException | NumberFormatException e) {
            // Not on Linux, or the fd is gone: the caller reports "unknown".
        }
        return -1;
    }

    /** Sum of the drop counters of the sockets with these inodes, or -1 when the tables cannot be read. */
    static long dropsOf(Set<Long> inodes) {
        if (inodes.isEmpty()) {
            return -1;
        }
        long sum = 0;
        boolean readAny = false;
        for (Path table : TABLES) {
            List<String> lines;
            try {
                lines = Files.readAllLines(table);
            } catch (IOException e) {
                continue;
            }
            readAny = true;
            for (int i = 1; i < lines.size(); i++) {
                String[] cols = lines.get(i).trim().split("\\s+");
                if (cols.length <= DROPS_COLUMN) {
                    continue;
                }
                try {
                    if (inodes.contains(Long.parseLong(cols[INODE_COLUMN]))) {
                        sum += Long.parseLong(cols[DROPS_COLUMN]);
                    }
                } catch (NumberFormatException e) {
                    // A line of another format: not one of ours.
                }
            }
        }
        return readAny ? sum : -1;
    }
}
