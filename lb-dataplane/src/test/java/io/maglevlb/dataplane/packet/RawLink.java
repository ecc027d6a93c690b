package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.function.Predicate;

/**
 * A plain AF_PACKET socket on eth0 of a test namespace: injects hand-made frames and captures frames as the
 * namespace's interface sees them (both directions), for byte-level checks. Test code of our own, so tests need
 * neither tcpdump nor any capture library.
 */
final class RawLink implements AutoCloseable {
    private final LinuxNative sys;
    private final int fd;
    private final MemorySegment buffer;
    private final MemorySegment pollFd;

    private RawLink(LinuxNative sys, int fd) {
        this.sys = sys;
        this.fd = fd;
        this.buffer = sys.allocate(65536);
        this.pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
    }

    /** Opens the socket on eth0 of {@code namespace} (created on a thread inside it). */
    static RawLink open(String namespace) throws Exception {
        return NetLab.inNamespace(namespace, () -> {
            LinuxNative sys = new LinuxNative();
            int fd = sys.socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC,
                    Short.toUnsignedInt(LinuxNative.htons(LinuxNative.ETH_P_ALL)));
            if (fd < 0) {
                throw new IOException("AF_PACKET socket: " + LinuxNative.describe(sys.errno()));
            }
            int index = sys.ifNameToIndex("eth0");
            MemorySegment sll = sys.allocate(20);
            sll.set(JAVA_SHORT, 0, (short) LinuxNative.AF_PACKET);
            sll.set(JAVA_SHORT, 2, LinuxNative.htons(LinuxNative.ETH_P_ALL));
            sll.set(JAVA_INT, 4, index);
            if (sys.bind(fd, sll, 20) < 0) {
                throw new IOException("bind: " + LinuxNative.describe(sys.errno()));
            }
            return new RawLink(sys, fd);
        });
    }

    synchronized void send(byte[] frame) throws IOException {
        MemorySegment.copy(MemorySegment.ofArray(frame), 0, buffer, 0, frame.length);
        if (sys.sendto(fd, buffer, frame.length, 0, MemorySegment.NULL, 0) != frame.length) {
            throw new IOException("send: " + LinuxNative.describe(sys.errno()));
        }
    }

    /** The next captured frame matching {@code match} within {@code timeoutMs}, or null. */
    synchronized byte[] receive(long timeoutMs, Predicate<byte[]> match) throws IOException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            long leftMs = (deadline - System.nanoTime()) / 1_000_000L;
            if (leftMs <= 0) {
                return null;
            }
            if (sys.poll(pollFd, 1, (int) Math.min(leftMs, 200)) <= 0) {
                continue;
            }
            long n = sys.recv(fd, buffer, 65536, LinuxNative.MSG_DONTWAIT);
            if (n <= 0) {
                continue;
            }
            byte[] frame = buffer.asSlice(0, n).toArray(JAVA_BYTE);
            if (match.test(frame)) {
                return frame;
            }
        }
    }

    /** MAC of eth0 in {@code namespace}. */
    static byte[] macOf(NetLab lab, String namespace) throws IOException {
        String out = NetLab.run("ip", "-n", namespace, "-o", "link", "show", "eth0");
        int at = out.indexOf("link/ether ");
        String mac = out.substring(at + 11, at + 28);
        return java.util.HexFormat.ofDelimiter(":").parseHex(mac);
    }

    @Override
    public void close() {
        sys.closeFd(fd);
        sys.close();
    }
}
