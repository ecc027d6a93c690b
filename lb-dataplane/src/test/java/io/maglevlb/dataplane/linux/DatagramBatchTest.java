package io.maglevlb.dataplane.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.dataplane.AddressBits;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The mmsghdr batches of the UDP forwarder against real sockets on loopback, IPv4 and IPv6. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DatagramBatchTest {

    @Test
    void receivesABatchWithSendersAndSendsItBackInPlace() throws Exception {
        roundTrip(InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void sameOverIpv6() throws Exception {
        roundTrip(InetAddress.getByName("::1"));
    }

    private static void roundTrip(InetAddress loopback) throws Exception {
        try (LinuxNative sys = new LinuxNative();
                DatagramSocket a = new DatagramSocket(new InetSocketAddress(loopback, 0));
                DatagramSocket b = new DatagramSocket(new InetSocketAddress(loopback, 0))) {
            int family = loopback.getAddress().length == 4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
            int fd = sys.socket(family, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK
                    | LinuxNative.SOCK_CLOEXEC, 0);
            assertTrue(fd >= 0);
            try {
                byte[] bind = DatagramBatch.encode(new InetSocketAddress(loopback, 0));
                MemorySegment sockaddr = sys.allocate(DatagramBatch.NAME_BYTES);
                MemorySegment.copy(bind, 0, sockaddr, ValueLayout.JAVA_BYTE, 0, bind.length);
                assertEquals(0, sys.bind(fd, sockaddr, bind.length));
                MemorySegment length = sys.allocate(4);
                length.set(ValueLayout.JAVA_INT, 0, DatagramBatch.NAME_BYTES);
                assertEquals(0, sys.getsockname(fd, sockaddr, length));
                InetSocketAddress local = DatagramBatch.decode(sockaddr);
                assertEquals(loopback, local.getAddress());

                DatagramBatch batch = new DatagramBatch(sys, 4, 2048, true);
                assertEquals(-1, batch.receive(sys, fd), "nothing queued yet");
                assertEquals(LinuxNative.EAGAIN, sys.errno());
                send(a, local, "one");
                send(b, local, "two, longer");
                send(a, local, "");
                int n = 0;
                for (int tries = 0; n < 3 && tries < 500; tries++) { // loopback delivers at once; allow a moment
                    int got = batch.receive(sys, fd);
                    if (got > 0) {
                        assertEquals(0, n, "all three arrive in one batch");
                        n = got;
                    } else {
                        Thread.sleep(10);
                    }
                }
                assertEquals(3, n);
                DatagramSocket[] senders = {a, b, a};
                String[] payloads = {"one", "two, longer", ""};
                for (int i = 0; i < n; i++) {
                    InetSocketAddress sender = (InetSocketAddress) senders[i].getLocalSocketAddress();
                    byte[] raw = sender.getAddress().getAddress();
                    assertEquals(family, batch.nameFamily(i));
                    assertEquals(sender.getPort(), batch.namePort(i));
                    assertEquals(AddressBits.hi(raw), batch.nameHi(i));
                    assertEquals(AddressBits.lo(raw), batch.nameLo(i));
                    assertArrayEquals(DatagramBatch.encode(sender), batch.copyName(i));
                    assertEquals(payloads[i].length(), batch.length(i));
                    byte[] data = new byte[batch.length(i)];
                    MemorySegment.copy(MemorySegment.ofAddress(batch.bufferAddress(i)).reinterpret(2048),
                            ValueLayout.JAVA_BYTE, 0, data, 0, data.length);
                    assertEquals(payloads[i], new String(data, StandardCharsets.UTF_8));
                    batch.setPayloadLength(i, batch.length(i));
                }
                // Echo the first two back where they came from; the empty one stays.
                assertEquals(2, batch.send(sys, fd, 0, 2));
                assertEquals("one", receive(a));
                assertEquals("two, longer", receive(b));

                // A sending batch without buffers of its own, pointed at the receiving batch's buffer, named.
                DatagramBatch out = new DatagramBatch(sys, 2, 0, true);
                out.setPayload(1, batch.bufferAddress(1), batch.length(1));
                out.setName(1, DatagramBatch.encode((InetSocketAddress) a.getLocalSocketAddress()));
                assertEquals(1, out.send(sys, fd, 1, 1));
                assertEquals("two, longer", receive(a));
            } finally {
                sys.closeFd(fd);
            }
        }
    }

    @Test
    void aGsoMessageArrivesAsOneDatagramPerSegment() throws Exception {
        try (LinuxNative sys = new LinuxNative();
                DatagramSocket peer = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK
                    | LinuxNative.SOCK_CLOEXEC, 0);
            assertTrue(fd >= 0);
            try {
                // Three payloads in three separate buffers: two of the segment size, a shorter last one.
                String[] payloads = {"seg-1", "seg-2", "end"};
                MemorySegment buffers = sys.allocate(3 * 16);
                DatagramBatch out = new DatagramBatch(sys, 4, 0, true);
                for (int i = 0; i < payloads.length; i++) {
                    byte[] b = payloads[i].getBytes(StandardCharsets.UTF_8);
                    MemorySegment.copy(b, 0, buffers, ValueLayout.JAVA_BYTE, 16L * i, b.length);
                    out.setPayload(1 + i, buffers.address() + 16L * i, b.length);
                }
                // Packed as message 0 (its payloads from 1 on, as a forwarder packs them), then a plain one.
                out.setMessage(0, 1, 3, 5);
                out.setName(0, DatagramBatch.encode((InetSocketAddress) peer.getLocalSocketAddress()));
                assertEquals(5, out.payloadLength(1));
                assertEquals(3, out.payloadLength(3));
                assertEquals(1, out.send(sys, fd, 0, 1), "one message: " + LinuxNative.describe(sys.errno()));
                for (String expected : payloads) {
                    assertEquals(expected, receive(peer), "each segment is a datagram of its own, in order");
                }
                out.setMessage(1, 2, 1, 0);
                out.setName(1, DatagramBatch.encode((InetSocketAddress) peer.getLocalSocketAddress()));
                assertEquals(1, out.send(sys, fd, 1, 1));
                assertEquals("seg-2", receive(peer));
            } finally {
                sys.closeFd(fd);
            }
        }
    }

    private static void send(DatagramSocket from, InetSocketAddress to, String text) throws Exception {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        from.send(new DatagramPacket(b, b.length, to));
    }

    private static String receive(DatagramSocket s) throws Exception {
        s.setSoTimeout(5000);
        DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
        s.receive(p);
        return new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
    }
}
