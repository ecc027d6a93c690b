package io.maglevlb.dataplane.udp;

import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioDatagramChannel;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.StandardSocketOptions;

/**
 * Creates the NIO datagram channels of the UDP forwarder's Netty engine ({@link UdpVipLoop}), the fallback without
 * native epoll: SO_REUSEPORT through the JDK, one datagram per system call. On epoll the forwarder uses
 * {@link NativeUdpVipLoop}, which opens its sockets itself ({@link NativeVipSocket}).
 */
final class UdpChannels {
    /**
     * Outbound queue of one socket above which the forwarder drops instead of queueing: a datagram socket
     * queues only while the kernel answers EAGAIN, so this bounds the memory a stalled socket can hold.
     */
    static final WriteBufferWaterMark VIP_WATER_MARK = new WriteBufferWaterMark(2 << 20, 4 << 20);
    static final WriteBufferWaterMark SESSION_WATER_MARK = new WriteBufferWaterMark(256 << 10, 512 << 10);

    /**
     * Receive buffers of backend sockets: one datagram per read, 16 reads per readiness event. Shared by all
     * of them (each channel takes its own handle from it); nothing may change its settings after this.
     */
    private static final RecvByteBufAllocator BACKEND_RECEIVE =
            new FixedRecvByteBufAllocator(UdpTuning.RECEIVE_SLOT_BYTES).maxMessagesPerRead(16);

    /** Datagrams one read event of a VIP socket takes at most before the loop serves its other sockets. */
    private static final int VIP_READS_PER_EVENT = 64;

    private UdpChannels() {}

    /** Whether the JDK's NIO datagram channels can set SO_REUSEPORT here (Linux and the BSDs can). */
    static boolean jdkSupportsReusePort() {
        try (java.nio.channels.DatagramChannel probe = java.nio.channels.DatagramChannel.open()) {
            return probe.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    static SocketProtocolFamily familyOf(InetAddress address) {
        return address instanceof Inet6Address ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET;
    }

    /**
     * An unregistered VIP socket: SO_REUSEPORT, so each loop binds its own socket to the VIP and the kernel
     * hashes every flow to one of them; one datagram of up to 64 KiB per read.
     */
    static DatagramChannel newVipChannel(SocketProtocolFamily family, UdpTuning tuning) {
        DatagramChannel ch = new NioDatagramChannel(family);
        ch.config().setOption(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
        ch.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(UdpTuning.RECEIVE_SLOT_BYTES)
                .maxMessagesPerRead(VIP_READS_PER_EVENT));
        if (tuning.vipReceiveBufferBytes() > 0) {
            ch.config().setOption(ChannelOption.SO_RCVBUF, tuning.vipReceiveBufferBytes());
        }
        if (tuning.vipSendBufferBytes() > 0) {
            ch.config().setOption(ChannelOption.SO_SNDBUF, tuning.vipSendBufferBytes());
        }
        ch.config().setWriteBufferWaterMark(VIP_WATER_MARK);
        ch.config().setAutoClose(false);
        return ch;
    }

    /**
     * An unregistered backend-side socket (one per flow, or the shared stateless socket of a backend): it will
     * be connected to the backend, so the kernel delivers only that backend's datagrams to it and reports ICMP
     * errors for it.
     */
    static DatagramChannel newBackendChannel(SocketProtocolFamily family) {
        DatagramChannel ch = new NioDatagramChannel(family);
        ch.config().setRecvByteBufAllocator(BACKEND_RECEIVE);
        ch.config().setWriteBufferWaterMark(SESSION_WATER_MARK);
        ch.config().setAutoClose(false);
        return ch;
    }
}
