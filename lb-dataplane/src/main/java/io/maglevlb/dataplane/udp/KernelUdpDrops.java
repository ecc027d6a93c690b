package io.maglevlb.dataplane.udp;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Reads the kernel's per-socket drop counter of the VIP's UDP sockets: datagrams the kernel discarded because a
 * socket's receive buffer was full. The forwarder never sees those datagrams, so they appear in no other counter.
 * Read at metrics time, never per datagram.
 *
 * <p>The counter comes from {@code getsockopt(SOL_SOCKET, SO_MEMINFO)} on each VIP socket (the
 * {@code SK_MEMINFO_DROPS} entry, Linux 4.6 and later): one system call per socket, whatever else the host runs.
 * It used to come from {@code /proc/net/udp}, which lists every UDP socket of the network namespace, one flow
 * socket per UDP session included: with 5,000 flows one read took seconds, a scrape several, and a reload that
 * registered a UDP VIP's meters 17 s.
 */
final class KernelUdpDrops {
    private static final int SO_MEMINFO = 55;
    /** Entries of the kernel's sk_meminfo array in 6.x ({@code SK_MEMINFO_VARS}); older kernels return fewer. */
    private static final int MEMINFO_ENTRIES = 9;
    private static final int SK_MEMINFO_DROPS = 8;

    private KernelUdpDrops() {}

    /**
     * Sum of the drop counters of the open sockets among {@code sockets} (a closed one has fd -1 and is skipped),
     * or -1 when none can be read (a kernel without the drops entry).
     */
    static long dropsOf(List<NativeVipSocket> sockets) {
        int[] fds = new int[sockets.size()];
        int n = 0;
        for (NativeVipSocket s : sockets) {
            int fd = s.fd; // racy read: a socket closed meanwhile fails the getsockopt (EBADF) and is skipped
            if (fd >= 0) {
                fds[n++] = fd;
            }
        }
        return dropsOf(fds, n);
    }

    private static long dropsOf(int[] fds, int count) {
        long sum = 0;
        boolean readAny = false;
        // Native memory: the instance's arena, freed when it closes at the end of this call (per call; the
        // control thread calls this at most once per stats sample).
        try (LinuxNative sys = new LinuxNative()) {
            MemorySegment meminfo = sys.allocate(4L * MEMINFO_ENTRIES);
            MemorySegment length = sys.allocate(4);
            for (int i = 0; i < count; i++) {
                int fd = fds[i];
                length.set(ValueLayout.JAVA_INT, 0, 4 * MEMINFO_ENTRIES);
                if (sys.getsockopt(fd, LinuxNative.SOL_SOCKET, SO_MEMINFO, meminfo, length) != 0
                        || length.get(ValueLayout.JAVA_INT, 0) < 4 * (SK_MEMINFO_DROPS + 1)) {
                    continue;
                }
                sum += Integer.toUnsignedLong(meminfo.getAtIndex(ValueLayout.JAVA_INT, SK_MEMINFO_DROPS));
                readAny = true;
            }
        } catch (UnsupportedOperationException | IllegalStateException | LinkageError e) {
            return -1; // no FFM access to libc here: "unknown", as before
        }
        return readAny ? sum : -1;
    }
}
