package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramChannel;
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
        assumeTrue(Epoll.isAvailable(), "needs Netty's epoll transport");
        MultiThreadIoEventLoopGroup group = UdpHarness.epollLoops(1);
        try {
            // A socket that never reads, with the smallest receive buffer the kernel grants.
            DatagramChannel ch = (DatagramChannel) new Bootstrap().group(group).channel(EpollDatagramChannel.class)
                    .option(ChannelOption.AUTO_READ, false).option(ChannelOption.SO_RCVBUF, 1)
                    .handler(new ChannelInboundHandlerAdapter())
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            try {
                assertEquals(0, KernelUdpDrops.dropsOf(List.of(ch)), "a fresh socket has dropped nothing");
                int sent = 200;
                try (DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                    byte[] payload = new byte[1000];
                    for (int i = 0; i < sent; i++) {
                        client.send(new DatagramPacket(payload, payload.length, ch.localAddress()));
                    }
                }
                long drops = KernelUdpDrops.dropsOf(List.of(ch));
                assertTrue(drops > 0 && drops <= sent, "drops " + drops + " of " + sent + " sent");
            } finally {
                ch.close().sync();
            }
            assertEquals(-1, KernelUdpDrops.dropsOf(List.of(ch)), "a closed socket is not read");
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }
}
