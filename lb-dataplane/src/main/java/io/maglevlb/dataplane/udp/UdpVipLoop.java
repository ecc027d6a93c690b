package io.maglevlb.dataplane.udp;

import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.AddressBits;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.SnapshotHolder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP VIP on one event loop, on Netty datagram channels: the portable fallback the forwarder uses on NIO (no
 * native epoll; SO_REUSEPORT through the JDK, one datagram per system call, a {@code DatagramPacket} and an
 * {@code InetSocketAddress} per datagram). On epoll the forwarder uses {@link NativeUdpVipLoop}. The decisions and
 * counters are {@link UdpFlowLoop}'s, shared by both; this class moves the datagrams.
 *
 * <p>Client datagram: {@link UdpFlowLoop#route} picks the socket; the datagram's buffer is written to it as is.
 * A session socket joins a pending-flush list flushed once at the end of the read batch, so several datagrams of
 * one flow leave in one sendmmsg; a stateless socket is flushed at once. Backend datagram: the session writes it
 * to the VIP socket addressed to its client, so the reply leaves from the VIP address and port; the VIP socket is
 * flushed by one task per loop iteration, so replies of many flows leave in one sendmmsg.
 *
 * <p>Threading: everything here runs on {@link #loop}, as in {@link UdpFlowLoop}.
 */
final class UdpVipLoop extends UdpFlowLoop<DatagramChannel, UdpSession> {
    private static final Logger log = LoggerFactory.getLogger(UdpVipLoop.class);

    private final Runnable flushVipTask = this::flushVip;
    private final VipHandler vipHandler = new VipHandler();
    private final StatelessReplyHandler statelessReplies = new StatelessReplyHandler();

    private DatagramChannel vipChannel;

    // Per read batch of the VIP socket.
    private boolean batchOpen;
    private ForwardingSnapshot batchSnapshot;
    /** The sender of the datagram {@link #route} is deciding: {@link #newSession} keeps it. */
    private InetSocketAddress routingSender;
    // Per read batch of a backend socket.
    private boolean replyClockValid;
    private long replyNowNs;

    private UdpSession[] pendingFlush = new UdpSession[64];
    private int pendingFlushCount;
    private boolean vipFlushScheduled;
    /** True while this loop flushes sockets: an exception then is a failed send of a queued datagram. */
    private boolean flushing;
    /** The VIP socket went to a successor ({@link #takeOver}): this loop only replies through it, never closes it. */
    private boolean vipChannelHandedOver;

    UdpVipLoop(String vipName, EventLoop loop, SnapshotHolder snapshots, HashMode hashMode, int tableCapacity,
            int flowLimit, long idleTimeoutNs, int floodThreshold, UdpTuning tuning, LongSupplier descriptorCeiling) {
        super(vipName, loop, snapshots, hashMode, tableCapacity, flowLimit, idleTimeoutNs, floodThreshold, tuning,
                descriptorCeiling);
    }

    /** The handler to put in the VIP socket's pipeline. */
    ChannelHandler vipHandler() {
        return vipHandler;
    }

    private void active(DatagramChannel channel) {
        this.vipChannel = channel;
        active(channel.localAddress());
    }

    /**
     * Runs on {@link #loop}: takes over {@code predecessor}'s VIP socket (a reload changed the VIP's settings, not
     * its address). This loop's handler replaces the predecessor's in the socket's pipeline, between two read
     * batches, so the next datagram the socket reads is this loop's, and the socket never closes. The predecessor
     * takes no new flows; its tracked flows' replies still leave through the socket, which it no longer closes.
     */
    void takeOver(UdpVipLoop predecessor) {
        DatagramChannel channel = predecessor.vipChannel;
        predecessor.accepting = false;
        predecessor.vipChannelHandedOver = true;
        channel.pipeline().replace(predecessor.vipHandler, null, vipHandler);
        active(channel);
    }

    /** The VIP socket, once bound. */
    DatagramChannel vipChannel() {
        return vipChannel;
    }

    /** Runs on {@link #loop}: closes the VIP socket (unless handed over), every session and stateless socket. */
    @Override
    public void close() {
        if (closeFlows() && vipChannel != null && !vipChannelHandedOver) {
            vipChannel.close();
        }
    }

    // ------------------------------------------------------------------ client -> backend

    /** Handler of the VIP socket. */
    @Sharable
    private final class VipHandler extends ChannelInboundHandlerAdapter {
        /**
         * The VIP socket is bound: learn its address and start sweeping. Runs before the socket's first read
         * (Netty asks for reads only after channelActive has passed down the pipeline).
         */
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active((DatagramChannel) ctx.channel());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            fromClient((DatagramPacket) msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            batchOpen = false;
            batchSnapshot = null;
            flushSessions();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // The VIP socket stays open whatever happens to one datagram.
            if (flushing) {
                counters.drop(UdpDropReason.SEND_ERROR);
            } else {
                counters.vipSocketErrors++;
                log.debug("vip {}: error on udp socket {}: {}", vipName, ctx.channel(), cause.toString());
            }
        }
    }

    private void fromClient(DatagramPacket packet) {
        if (!batchOpen) {
            batchOpen = true;
            batchNowNs = System.nanoTime();
            batchSnapshot = snapshots.current();
        }
        InetSocketAddress sender = packet.sender();
        InetAddress address = sender.getAddress();
        byte[] raw = address.getAddress(); // a small copy the JIT scalar-replaces (DecisionPathBench: 0 B/op)
        routingSender = sender;
        DatagramChannel ch = route(batchSnapshot, packet.content().readableBytes(), AddressBits.hi(raw),
                AddressBits.lo(raw), sender.getPort());
        routingSender = null;
        if (ch == null) {
            packet.release();
            return;
        }
        UdpSession session = routedSession;
        if (!ch.isWritable()) {
            counters.drop(UdpDropReason.SEND_BUFFER_FULL);
            packet.release();
            return;
        }
        ByteBuf content = packet.content();
        int bytes = content.readableBytes();
        UdpLoopCounters c = counters;
        c.datagramsToBackends++;
        c.bytesToBackends += bytes;
        UdpLoopCounters.PerBackend b = c.backend(routedBackend);
        b.datagramsToBackend++;
        b.bytesToBackend += bytes;
        ch.write(content, ch.voidPromise()); // the buffer now belongs to the socket; the envelope is garbage
        if (session != null && tuning.deferFlush()) {
            if (!session.flushPending) {
                session.flushPending = true;
                if (pendingFlushCount == pendingFlush.length) {
                    pendingFlush = Arrays.copyOf(pendingFlush, pendingFlushCount * 2);
                }
                pendingFlush[pendingFlushCount++] = session;
            }
        } else {
            flushing = true;
            try {
                ch.flush();
            } finally {
                flushing = false;
            }
        }
    }

    @Override
    UdpSession newSession(int entry) {
        return new UdpSession(this, entry, routingSender);
    }

    private void flushSessions() {
        int n = pendingFlushCount;
        if (n == 0) {
            return;
        }
        UdpSession[] pending = pendingFlush;
        flushing = true;
        try {
            for (int i = 0; i < n; i++) {
                UdpSession s = pending[i];
                pending[i] = null;
                s.flushPending = false;
                DatagramChannel ch = s.socket;
                if (ch != null) {
                    ch.flush();
                }
            }
        } finally {
            flushing = false;
            pendingFlushCount = 0;
        }
    }

    // ------------------------------------------------------------------ backend -> client

    void fromBackend(UdpSession session, DatagramPacket packet) {
        if (!replyClockValid) {
            replyClockValid = true;
            replyNowNs = System.nanoTime();
        }
        ByteBuf content = packet.content();
        int bytes = content.readableBytes();
        UdpLoopCounters c = counters;
        c.datagramsFromBackends++;
        c.bytesFromBackends += bytes;
        UdpLoopCounters.PerBackend b = c.backend(session.backendId);
        b.datagramsFromBackend++;
        b.bytesFromBackend += bytes;
        // A reply is traffic too: the flow is not idle while the backend talks.
        flowTable.touch(session.entryId, replyNowNs);
        DatagramChannel vip = vipChannel;
        if (!vip.isWritable()) {
            c.drop(UdpDropReason.SEND_BUFFER_FULL);
            packet.release();
            return;
        }
        c.datagramsToClients++;
        c.bytesToClients += bytes;
        vip.write(new DatagramPacket(content, session.client), vip.voidPromise());
        if (tuning.deferFlush()) {
            if (!vipFlushScheduled) {
                vipFlushScheduled = true;
                loop.execute(flushVipTask); // runs after this loop iteration's I/O: one flush for all flows
            }
        } else {
            flushing = true;
            try {
                vip.flush();
            } finally {
                flushing = false;
            }
        }
    }

    void backendReadComplete() {
        replyClockValid = false;
    }

    private void flushVip() {
        vipFlushScheduled = false;
        flushing = true;
        try {
            vipChannel.flush();
        } finally {
            flushing = false;
        }
    }

    /** An exception on a backend socket: an ICMP error the kernel reported, or a failed send. */
    void backendSocketError(UdpSession session) {
        if (flushing) {
            counters.drop(UdpDropReason.SEND_ERROR);
        }
        backendUnreachable(session);
    }

    // ------------------------------------------------------------------ sockets

    /**
     * Opens a socket connected to {@code backend} on this loop, read by {@code session} (null: the stateless
     * replies' handler); null on failure, with {@link #connectLocalError} set for a local resource error.
     */
    @Override
    DatagramChannel openSocket(InetSocketAddress backend, UdpSession session) {
        DatagramChannel ch = null;
        try {
            ch = UdpChannels.newBackendChannel(UdpChannels.familyOf(backend.getAddress()));
            ch.pipeline().addLast(session != null ? session.reader : statelessReplies);
            // Both complete inline: we are on the loop the channel registers with, and a UDP connect is a
            // local operation (no handshake).
            loop.register(ch);
            ChannelFuture connected = ch.connect(backend);
            if (!connected.isSuccess()) {
                Throwable cause = connected.cause();
                log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend,
                        cause == null ? "not connected" : cause.toString());
                if (session != null) {
                    connectLocalError = cause == null ? null : LocalError.of(cause);
                }
                ch.close();
                return null;
            }
        } catch (RuntimeException e) { // channel creation (EMFILE, ENFILE) fails with a ChannelException
            log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend, e.toString());
            if (session != null) {
                connectLocalError = LocalError.of(e);
            }
            if (ch != null) {
                ch.close();
            }
            return null;
        }
        return ch;
    }

    @Override
    void closeSocket(DatagramChannel socket) {
        socket.close();
    }

    /** NIO channels show no descriptor number. */
    @Override
    int fdOf(DatagramChannel socket) {
        return -1;
    }

    /** Handler of the stateless sockets: replies there have no known client. */
    @Sharable
    private final class StatelessReplyHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            UdpLoopCounters c = counters;
            c.datagramsFromBackends++;
            c.drop(UdpDropReason.STATELESS_REPLY);
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            backendSocketError(null);
        }
    }
}
