package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Benchmark traffic generator: sends pre-built frames round-robin from an AF_PACKET socket with sendmmsg
 * (batches of {@link #BATCH}, qdisc bypassed) as fast as one thread can, for a bounded time. Runs on a thread
 * that entered the generator's namespace.
 */
final class PacketBlaster {
    static final int BATCH = 256;

    private PacketBlaster() {}

    /**
     * Sends {@code frames} round-robin on eth0 of the calling thread's namespace for {@code durationMs}.
     *
     * @return frames the kernel accepted
     */
    static long blast(List<byte[]> frames, long durationMs, int cpu) throws IOException {
        return blast(frames, durationMs, cpu, 0);
    }

    /**
     * As {@link #blast(List, long, int)}, paced to {@code ratePps} frames per second (0 = as fast as possible):
     * small batches, each sent when the schedule says it is due.
     */
    static long blast(List<byte[]> frames, long durationMs, int cpu, long ratePps) throws IOException {
        try (LinuxNative sys = new LinuxNative()) {
            if (cpu >= 0 && sys.pinCurrentThread(cpu) < 0) {
                throw new IOException("pin: " + LinuxNative.describe(sys.errno()));
            }
            int fd = sys.socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("socket: " + LinuxNative.describe(sys.errno()));
            }
            try {
                sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_QDISC_BYPASS, 1);
                sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUF, 4 << 20);
                MemorySegment sll = sys.allocate(20);
                sll.set(JAVA_SHORT, 0, (short) LinuxNative.AF_PACKET);
                sll.set(JAVA_SHORT, 2, LinuxNative.htons(LinuxNative.ETH_P_IP));
                sll.set(JAVA_INT, 4, sys.ifNameToIndex("eth0"));
                if (sys.bind(fd, sll, 20) < 0) {
                    throw new IOException("bind: " + LinuxNative.describe(sys.errno()));
                }
                int n = frames.size();
                int slot = 128;
                MemorySegment data = sys.allocate((long) slot * n);
                for (int i = 0; i < n; i++) {
                    MemorySegment.copy(MemorySegment.ofArray(frames.get(i)), 0, data, (long) slot * i, frames.get(i).length);
                }
                // one mmsghdr + iovec ring covering every frame, sent BATCH at a time
                MemorySegment msgs = sys.allocate(64L * n);
                MemorySegment iovs = sys.allocate(16L * n);
                for (int i = 0; i < n; i++) {
                    iovs.set(JAVA_LONG, 16L * i, data.address() + (long) slot * i);
                    iovs.set(JAVA_LONG, 16L * i + 8, frames.get(i).length);
                    msgs.set(ADDRESS, 64L * i + 16, iovs.asSlice(16L * i));
                    msgs.set(JAVA_LONG, 64L * i + 24, 1L);
                }
                MemorySegment[] from = new MemorySegment[n];
                for (int i = 0; i < n; i++) {
                    from[i] = msgs.asSlice(64L * i);
                }
                long sent = 0;
                long start = System.nanoTime();
                long deadline = start + durationMs * 1_000_000L;
                int next = 0;
                int batch = ratePps > 0 ? 16 : BATCH;
                while (true) {
                    long now = System.nanoTime();
                    if (now >= deadline) {
                        break;
                    }
                    if (ratePps > 0 && sent * 1_000_000_000L / ratePps > now - start) {
                        Thread.onSpinWait();
                        continue;
                    }
                    int count = Math.min(batch, n - next);
                    int r = sys.sendmmsg(fd, from[next], count, 0);
                    if (r > 0) {
                        sent += r;
                        next = (next + r) % n;
                    }
                }
                return sent;
            } finally {
                sys.closeFd(fd);
            }
        }
    }
}
