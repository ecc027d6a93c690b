package io.maglevlb.dataplane.udp;

import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.unix.UnixChannel;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.StandardSocketOptions;

/**
 * Creates the datagram channels of the UDP forwarder's Netty engine ({@link UdpVipLoop}), which the forwarder
 * uses on NIO (the fallback without native epoll: SO_REUSEPORT through the JDK, one datagram per system call).
 * On epoll the forwarder uses {@link NativeUdpVipLoop} and opens its sockets itself, so the epoll branches here
 * are no longer taken by the forwarder.
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
     * hashes every flow to one of them; with epoll, {@code recvmmsg} of up to {@code tuning.recvBatch()}
     * datagrams of up to 64 KiB each per call.
     */
    static DatagramChannel newVipChannel(boolean epoll, SocketProtocolFamily family, UdpTuning tuning) {
        DatagramChannel ch;
        if (epoll) {
            ch = new EpollDatagramChannel(family);
            ch.config().setOption(EpollChannelOption.SO_REUSEPORT, true);
            // Every receive slot holds the largest datagram, so none is truncated; recvmmsg is used when the
            // buffer holds more than one slot.
            ch.config().setOption(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE,
                    tuning.recvBatch() > 1 ? UdpTuning.RECEIVE_SLOT_BYTES : 0);
            ch.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(
                    UdpTuning.RECEIVE_SLOT_BYTES * tuning.recvBatch()).maxMessagesPerRead(VIP_READS_PER_EVENT));
        } else {
            ch = new NioDatagramChannel(family);
            ch.config().setOption(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
            ch.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(UdpTuning.RECEIVE_SLOT_BYTES)
                    .maxMessagesPerRead(VIP_READS_PER_EVENT));
        }
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
    static DatagramChannel newBackendChannel(boolean epoll, SocketProtocolFamily family) {
        DatagramChannel ch = epoll ? new EpollDatagramChannel(family) : new NioDatagramChannel(family);
        ch.config().setRecvByteBufAllocator(BACKEND_RECEIVE);
        ch.config().setWriteBufferWaterMark(SESSION_WATER_MARK);
        ch.config().setAutoClose(false);
        return ch;
    }

    /** The channel's file descriptor number, or -1 when its transport does not expose one. */
    static int fdOf(DatagramChannel ch) {
        return ch instanceof UnixChannel unix ? unix.fd().intValue() : -1;
    }
}
