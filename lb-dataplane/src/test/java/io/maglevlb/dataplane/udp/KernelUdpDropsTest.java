package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The kernel's receive-buffer drops of VIP sockets, read per socket (SO_MEMINFO), not from /proc/net/udp. */
class KernelUdpDropsTest {

    @Test
    void countsWhatTheKernelDroppedForAFullReceiveBuffer() throws Exception {
        assumeTrue(Epoll.isAvailable(), "needs Netty's epoll transport (the native VIP socket closes through it)");
        // A VIP socket that is never registered, so never read, with the smallest receive buffer the kernel grants.
        UdpTuning tuning = UdpTuning.defaults().withVipReceiveBufferBytes(1);
        NativeVipSocket socket = NativeVipSocket.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                tuning);
        try {
            assertEquals(0, KernelUdpDrops.dropsOf(List.of(socket)), "a fresh socket has dropped nothing");
            int sent = 200;
            try (DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                byte[] payload = new byte[1000];
                for (int i = 0; i < sent; i++) {
                    client.send(new DatagramPacket(payload, payload.length, socket.localAddress));
                }
            }
            long drops = KernelUdpDrops.dropsOf(List.of(socket));
            assertTrue(drops > 0 && drops <= sent, "drops " + drops + " of " + sent + " sent");
        } finally {
            socket.close();
        }
        assertEquals(-1, KernelUdpDrops.dropsOf(List.of(socket)), "a closed socket is not read");
    }
}
