package io.maglevlb.dataplane.udp;

import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.conntrack.EvictionListener;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.AddressBits;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.SnapshotHolder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP VIP on one event loop, on Netty datagram channels: the loop's SO_REUSEPORT socket of the VIP, its
 * flow table, and the sessions of the flows the kernel steered to that socket. The forwarder uses this engine
 * on NIO (no native epoll); on epoll it uses {@link NativeUdpVipLoop}, which makes the same decisions without an
 * object per datagram. A change to the decisions here belongs there too.
 *
 * <p>Threading: everything here runs on {@link #loop} (the VIP socket, every session socket and the sweep
 * are registered or scheduled on it), so nothing is locked or volatile. Other threads only read
 * {@link #counters} and the flow table's statistics, racily (see {@link UdpLoopCounters}).
 */
@Sharable
final class UdpVipLoop extends ChannelInboundHandlerAdapter implements EvictionListener, UdpLoop {
    /*
     * Design notes.
     *
     * Client datagram: read the clock and the VIP's snapshot once per read batch; FlowTable.resolve maps the
     * 5-tuple to a backend id and an entry id; sessions[entryId] is the flow's session (null = new flow: open
     * a connected socket to the backend on this loop). The datagram's buffer is written to the session
     * socket as is; the socket joins a pending-flush list flushed once at the end of the batch, so several
     * datagrams of one flow leave in one sendmmsg. Backend datagram: the session writes it to the VIP socket
     * addressed to its client, so the reply leaves from the VIP address and port; the VIP socket is flushed
     * by one task per loop iteration, so replies of many flows leave in one sendmmsg.
     *
     * The flow table's eviction listener keeps sessions[] in step: it closes a session before its entry id
     * is reused. A flow whose backend stops keeping flows is moved by resolve(); the next datagram finds
     * session.backendId != the answer and reconnects the session. Backend ids are reused by the control
     * plane after a backend leaves, so a session also checks, once per snapshot generation, that its backend
     * id still has its address; when not, the flow is dropped from the table and placed afresh.
     *
     * Every session holds a file descriptor. When a new session's socket lands in the process's descriptor
     * reserve (its fd number is at or above DescriptorReserve's ceiling, or opening it failed with EMFILE), the
     * loop's least recently seen flow gives its socket back, as when the flow limit is reached: under a flood of
     * new flows the newest are answered and the health checks, the admin API and the TCP VIPs keep their
     * descriptors. Without this, a 20,000-flow burst under a 20,000 descriptor limit left every later new flow
     * without a session (forwarded statelessly, its replies dropped) until the burst's flows went idle.
     *
     * Untracked flows (flow table full of flows seen in this very batch, flood mode, or a backend socket
     * that could not be opened) go through one shared "stateless" socket per backend: the datagram reaches
     * the backend, but replies on that socket cannot be matched to a client and are dropped (counted).
     */
    private static final Logger log = LoggerFactory.getLogger(UdpVipLoop.class);
    private static final int UDP = Protocol.UDP.ipProtocol();
    /** Live entries compared to choose the victim when the VIP's flow limit (not the table) is reached. */
    private static final int LIMIT_SAMPLE = 8;
    private static final int LIMIT_SCAN = 64;

    private final String vipName;
    final EventLoop loop;
    private final boolean epoll;
    private final SnapshotHolder snapshots;
    private final UdpTuning tuning;
    private final HashMode hashMode;
    final FlowTable flowTable;
    private final int requestedCapacity;
    private final UdpSession[] sessions;
    // Settings a reload may change in place (reconfigure): loop thread only, like everything else here.
    private int flowLimit;
    final UdpLoopCounters counters = new UdpLoopCounters();
    private long sweepIntervalNs;
    private int sweepBudget;
    private final Runnable flushVipTask = this::flushVip;
    private final StatelessReplyHandler statelessReplies = new StatelessReplyHandler();
    /** Where {@link #fdCeiling} comes from: {@code DescriptorReserve::udpSessionCeiling} in the daemon. */
    private final LongSupplier descriptorCeiling;
    /** A session socket whose fd number is at or above this eats into the descriptor reserve. */
    private long fdCeiling;
    /** Why the last {@link #connect} failed when that was a local resource error, else null. */
    private LocalError connectLocalError;

    private DatagramChannel vipChannel;
    // Out-values of splitAddress (loop thread only): two longs without an allocation.
    private long splitHi;
    private long splitLo;
    private long dstHi;
    private long dstLo;
    private int dstPort;

    // Per read batch of the VIP socket.
    private boolean batchOpen;
    private long batchNowNs;
    private ForwardingSnapshot batchSnapshot;
    // Per read batch of a backend socket.
    private boolean replyClockValid;
    private long replyNowNs;

    private UdpSession[] pendingFlush = new UdpSession[64];
    private int pendingFlushCount;
    private boolean vipFlushScheduled;
    /** True while this loop flushes sockets: an exception then is a failed send of a queued datagram. */
    private boolean flushing;
    /** True while the loop itself removes an entry to respect {@link #flowLimit}: counted as CAPACITY. */
    private boolean evictingForLimit;
    private int limitHand;

    private DatagramChannel[] statelessChannels = new DatagramChannel[0];
    private InetSocketAddress[] statelessAddresses = new InetSocketAddress[0];

    /** False once the VIP stops accepting new flows (shutdown); tracked flows go on. */
    private boolean accepting = true;
    private long sweptGeneration = Long.MIN_VALUE;
    private ScheduledFuture<?> sweepTask;
    private boolean closed;
    /** The VIP socket went to a successor ({@link #takeOver}): this loop only replies through it, never closes it. */
    private boolean vipChannelHandedOver;

    UdpVipLoop(String vipName, EventLoop loop, boolean epoll, SnapshotHolder snapshots, HashMode hashMode,
            int tableCapacity, int flowLimit, long idleTimeoutNs, int floodThreshold, UdpTuning tuning,
            LongSupplier descriptorCeiling) {
        this.vipName = vipName;
        this.descriptorCeiling = descriptorCeiling;
        this.fdCeiling = descriptorCeiling.getAsLong();
        this.loop = loop;
        this.epoll = epoll;
        this.snapshots = snapshots;
        this.tuning = tuning;
        this.hashMode = hashMode;
        this.requestedCapacity = tableCapacity;
        this.flowTable = new FlowTable(tableCapacity, idleTimeoutNs, floodThreshold, this);
        this.sessions = new UdpSession[flowTable.capacity()];
        this.flowLimit = Math.min(flowLimit, flowTable.capacity());
        sweepFor(idleTimeoutNs);
    }

    private void sweepFor(long idleTimeoutNs) {
        long maxIntervalNs = tuning.maxExpiryInterval().toNanos();
        this.sweepIntervalNs = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(maxIntervalNs, idleTimeoutNs / 4));
        // Enough entries per sweep that the whole table is visited four times per idle timeout, so an idle flow
        // goes at most a quarter of the timeout (plus one interval) late. A visit is two array reads.
        long perSweep = (long) Math.ceil(4.0 * flowTable.capacity() * sweepIntervalNs / idleTimeoutNs);
        this.sweepBudget = (int) Math.min(flowTable.capacity(), Math.max(256, perSweep));
    }

    /** Whether {@link #reconfigure} can apply these settings: same flow key and same table size. */
    @Override
    public boolean canReconfigure(HashMode hashMode, int tableCapacity) {
        return this.hashMode == hashMode && tableCapacity == requestedCapacity;
    }

    /**
     * Runs on {@link #loop}: a reload changed the VIP's idle timeout or flow limit (see
     * {@link UdpForwarder#startInPlaceOf}). Tracked flows stay, with their sessions, and live by the new idle
     * timeout from now on; above a lower limit, each new flow replaces the least recently seen one.
     */
    @Override
    public void reconfigure(long idleTimeoutNs, int flowLimit) {
        flowTable.setIdleTimeoutNs(idleTimeoutNs);
        this.flowLimit = Math.min(flowLimit, flowTable.capacity());
        long oldIntervalNs = sweepIntervalNs;
        sweepFor(idleTimeoutNs);
        if (sweepTask != null && !closed && sweepIntervalNs != oldIntervalNs) {
            sweepTask.cancel(false);
            sweepTask = loop.scheduleAtFixedRate(this::sweep, sweepIntervalNs, sweepIntervalNs,
                    TimeUnit.NANOSECONDS);
        }
    }

    /**
     * The VIP socket is bound: learn its address and start sweeping. Runs before the socket's first read
     * (Netty asks for reads only after channelActive has passed down the pipeline).
     */
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        active((DatagramChannel) ctx.channel());
        ctx.fireChannelActive();
    }

    private void active(DatagramChannel channel) {
        this.vipChannel = channel;
        InetSocketAddress local = channel.localAddress();
        splitAddress(local.getAddress());
        this.dstHi = splitHi;
        this.dstLo = splitLo;
        this.dstPort = local.getPort();
        this.sweepTask = loop.scheduleAtFixedRate(this::sweep, sweepIntervalNs, sweepIntervalNs,
                TimeUnit.NANOSECONDS);
    }

    /**
     * Runs on {@link #loop}: takes over {@code predecessor}'s VIP socket (a reload changed the VIP's settings, not
     * its address). This loop replaces the predecessor in the socket's pipeline, between two read batches, so
     * the next datagram the socket reads is this loop's, and the socket never closes. The predecessor takes no
     * new flows; its tracked flows' replies still leave through the socket, which it no longer closes.
     */
    void takeOver(UdpVipLoop predecessor) {
        DatagramChannel channel = predecessor.vipChannel;
        predecessor.accepting = false;
        predecessor.vipChannelHandedOver = true;
        channel.pipeline().replace(predecessor, null, this);
        active(channel);
    }

    @Override
    public EventLoop eventLoop() {
        return loop;
    }

    @Override
    public FlowTable flowTable() {
        return flowTable;
    }

    @Override
    public UdpLoopCounters counters() {
        return counters;
    }

    /** The VIP socket, once bound. */
    DatagramChannel vipChannel() {
        return vipChannel;
    }

    /**
     * Runs on {@link #loop}: the backend id of the tracked flow from {@code srcHi}:{@code srcLo} port
     * {@code srcPort} to this loop's VIP socket, or {@link ForwardingSnapshot#NO_BACKEND}. Read-only
     * ({@link FlowTable#peek}): the flow is neither refreshed nor counted. Diagnostics (explain), not per datagram.
     */
    @Override
    public int trackedBackend(long srcHi, long srcLo, int srcPort) {
        if (vipChannel == null || closed) {
            return ForwardingSnapshot.NO_BACKEND;
        }
        int entry = flowTable.peek(UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, System.nanoTime());
        return entry == FlowTable.NO_ENTRY ? ForwardingSnapshot.NO_BACKEND : flowTable.backendId(entry);
    }

    /** Runs on {@link #loop}: from now on only tracked flows are forwarded. */
    @Override
    public void stopAccepting() {
        accepting = false;
    }

    /** Runs on {@link #loop}: closes the VIP socket, every session and stateless socket. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (sweepTask != null) {
            sweepTask.cancel(false);
        }
        if (vipChannel != null && !vipChannelHandedOver) {
            vipChannel.close();
        }
        flowTable.clear();
        for (int id = 0; id < statelessChannels.length; id++) {
            closeStateless(id);
        }
    }

    // ------------------------------------------------------------------ client -> backend

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        DatagramPacket packet = (DatagramPacket) msg;
        if (!batchOpen) {
            batchOpen = true;
            batchNowNs = System.nanoTime();
            batchSnapshot = snapshots.current();
        }
        UdpLoopCounters c = counters;
        int bytes = packet.content().readableBytes();
        c.datagramsFromClients++;
        c.bytesFromClients += bytes;
        if (bytes == 0) {
            c.drop(UdpDropReason.EMPTY);
            packet.release();
            return;
        }
        ForwardingSnapshot snapshot = batchSnapshot;
        if (snapshot == null || closed) {
            c.drop(UdpDropReason.NO_BACKEND);
            packet.release();
            return;
        }
        InetSocketAddress sender = packet.sender();
        splitAddress(sender.getAddress());
        long srcHi = splitHi;
        long srcLo = splitLo;
        int srcPort = sender.getPort();
        long hash = FlowHash.of(hashMode, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort);
        if (!accepting && flowTable.find(hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, batchNowNs)
                == FlowTable.NO_ENTRY) {
            c.drop(UdpDropReason.NOT_ACCEPTING);
            packet.release();
            return;
        }
        int backendId = flowTable.resolve(snapshot, hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort,
                batchNowNs);
        if (backendId == ForwardingSnapshot.NO_BACKEND) {
            c.drop(UdpDropReason.NO_BACKEND);
            packet.release();
            return;
        }
        int entry = flowTable.lastResolvedEntry();
        if (entry == FlowTable.NOT_INSERTED) {
            forwardStateless(snapshot, backendId, packet, UdpDropReason.TABLE_FULL);
            return;
        }
        UdpSession session = sessions[entry];
        if (session != null && session.backendId == backendId
                && session.checkedGeneration != snapshot.generation()
                && !backendAddressStill(session, snapshot)) {
            // The id now names another backend (or this one re-addressed): place the flow afresh.
            flowTable.remove(entry);
            backendId = flowTable.resolve(snapshot, hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort,
                    batchNowNs);
            entry = flowTable.lastResolvedEntry();
            if (backendId == ForwardingSnapshot.NO_BACKEND) {
                c.drop(UdpDropReason.NO_BACKEND);
                packet.release();
                return;
            }
            if (entry == FlowTable.NOT_INSERTED) {
                forwardStateless(snapshot, backendId, packet, UdpDropReason.TABLE_FULL);
                return;
            }
            session = sessions[entry];
        }
        if (session == null) {
            session = openSession(entry, sender, backendId, snapshot);
            if (session == null) {
                forwardStateless(snapshot, backendId, packet, UdpDropReason.BACKEND_SOCKET);
                return;
            }
            if (flowTable.size() > flowLimit && !makeRoomForLimit(entry)) {
                removeForLimit(entry); // the new flow is the one that cannot stay
                forwardStateless(snapshot, backendId, packet, UdpDropReason.TABLE_FULL);
                return;
            }
        } else if (session.backendId != backendId) {
            if (!moveSession(session, backendId, snapshot)) {
                flowTable.remove(entry);
                forwardStateless(snapshot, backendId, packet, UdpDropReason.BACKEND_SOCKET);
                return;
            }
        }
        toBackend(session, packet);
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

    private void toBackend(UdpSession session, DatagramPacket packet) {
        DatagramChannel ch = session.channel;
        ByteBuf content = packet.content();
        if (!ch.isWritable()) {
            counters.drop(UdpDropReason.SEND_BUFFER_FULL);
            packet.release();
            return;
        }
        int bytes = content.readableBytes();
        UdpLoopCounters c = counters;
        c.datagramsToBackends++;
        c.bytesToBackends += bytes;
        UdpLoopCounters.PerBackend b = c.backend(session.backendId);
        b.datagramsToBackend++;
        b.bytesToBackend += bytes;
        ch.write(content, ch.voidPromise()); // the buffer now belongs to the socket; the envelope is garbage
        if (tuning.deferFlush()) {
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
                DatagramChannel ch = s.channel;
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
    void backendSocketError(UdpSession session, Throwable cause) {
        UdpLoopCounters c = counters;
        if (flushing) {
            c.drop(UdpDropReason.SEND_ERROR);
        }
        c.backendUnreachable++;
        if (session != null && session.isOpen()) {
            c.backend(session.backendId).unreachable++;
        }
        // Not logged per event: a dead backend port produces one of these per datagram sent to it.
    }

    // ------------------------------------------------------------------ sessions

    private UdpSession openSession(int entry, InetSocketAddress client, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        UdpSession session = new UdpSession(this, entry, client);
        boolean open = backend != null && connect(session, backend.address());
        if (!open && connectLocalError == LocalError.FD_LIMIT && makeRoomForLimit(entry)) {
            open = connect(session, backend.address()); // the least recently seen flow gave its descriptor back
        }
        if (open && inDescriptorReserve(session.channel)) {
            // Give this socket's number back and take the one the least recently seen flow frees: the lowest
            // free number again, below the ceiling, so the next session's number still tells how many are in
            // use. When every other flow was seen in this batch, this one cannot have a socket.
            closeChannel(session);
            open = makeRoomForLimit(entry) && connect(session, backend.address());
        }
        if (!open) {
            counters.sessionOpenFailures++;
            flowTable.remove(entry); // sessions[entry] is still null: the listener counts nothing
            return null;
        }
        session.backendId = backendId;
        session.checkedGeneration = snapshot.generation();
        sessions[entry] = session;
        UdpLoopCounters c = counters;
        c.flowsCreated++;
        UdpLoopCounters.PerBackend b = c.backend(backendId);
        b.flowsCreated++;
        b.flowsActive++;
        return session;
    }

    /** Reconnects a session to {@code backendId} (its flow was moved); false if that failed. */
    private boolean moveSession(UdpSession session, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        UdpLoopCounters c = counters;
        c.backend(session.backendId).flowsActive--;
        closeChannel(session);
        if (backend == null || !connect(session, backend.address())) {
            c.sessionOpenFailures++;
            session.backendId = ForwardingSnapshot.NO_BACKEND;
            return false;
        }
        session.backendId = backendId;
        session.checkedGeneration = snapshot.generation();
        c.flowsMoved++;
        UdpLoopCounters.PerBackend b = c.backend(backendId);
        b.flowsCreated++;
        b.flowsActive++;
        return true;
    }

    private boolean backendAddressStill(UdpSession session, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(session.backendId);
        if (backend != null && backend.address().equals(session.backendAddress)) {
            session.checkedGeneration = snapshot.generation();
            return true;
        }
        return false;
    }

    /**
     * Whether {@code ch} (just opened) took a descriptor of the process's reserve: Linux hands out the lowest
     * free number, so a number at or above the ceiling means that many are in use. Re-reads the ceiling before
     * answering yes, as the limit may have been raised at run time. NIO channels show no descriptor: never.
     */
    private boolean inDescriptorReserve(DatagramChannel ch) {
        if (!(ch instanceof UnixChannel unix)) {
            return false;
        }
        int fd = unix.fd().intValue();
        if (fd < fdCeiling) {
            return false;
        }
        fdCeiling = descriptorCeiling.getAsLong();
        return fd >= fdCeiling;
    }

    /**
     * Opens a socket connected to {@code backend} on this loop, as {@code session}'s socket. On failure
     * {@link #connectLocalError} says whether this host ran out of something (null: it did not).
     */
    private boolean connect(UdpSession session, InetSocketAddress backend) {
        DatagramChannel ch = null;
        connectLocalError = null;
        try {
            ch = UdpChannels.newBackendChannel(epoll, UdpChannels.familyOf(backend.getAddress()));
            ch.pipeline().addLast(session);
            // Both complete inline: we are on the loop the channel registers with, and a UDP connect is a
            // local operation (no handshake).
            loop.register(ch);
            ChannelFuture connected = ch.connect(backend);
            if (!connected.isSuccess()) {
                Throwable cause = connected.cause();
                log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend,
                        cause == null ? "not connected" : cause.toString());
                connectLocalError = cause == null ? null : LocalError.of(cause);
                ch.close();
                return false;
            }
        } catch (RuntimeException e) { // channel creation (EMFILE, ENFILE) fails with a ChannelException
            log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend, e.toString());
            connectLocalError = LocalError.of(e);
            if (ch != null) {
                ch.close();
            }
            return false;
        }
        session.channel = ch;
        session.backendAddress = backend;
        return true;
    }

    private static void closeChannel(UdpSession session) {
        DatagramChannel ch = session.channel;
        if (ch != null) {
            session.channel = null;
            ch.close();
        }
    }

    @Override
    public void evicted(int entryId, int backendId, EvictionReason reason) {
        UdpSession session = sessions[entryId];
        if (session == null) {
            return; // a flow whose session never opened
        }
        sessions[entryId] = null;
        UdpLoopCounters c = counters;
        EvictionReason counted = evictingForLimit ? EvictionReason.CAPACITY : reason;
        c.flowsEvicted[counted.ordinal()]++;
        if (session.channel != null) {
            c.backend(session.backendId).flowsActive--;
        }
        session.entryId = -1;
        closeChannel(session);
    }

    /**
     * The VIP's flow limit (max-connections split over its loops) is below the table's capacity and was
     * just exceeded by the new entry {@code newEntry}, or its session needs a descriptor the process does not
     * have to spare: evicts the least recently seen of a few other live entries, sampled from a rotating hand,
     * as the table itself does when full. False when every sampled entry was seen in this batch.
     */
    private boolean makeRoomForLimit(int newEntry) {
        int capacity = flowTable.capacity();
        int mask = capacity - 1;
        int victim = -1;
        long victimSeenNs = 0;
        int sampled = 0;
        int k = 0;
        for (; k < LIMIT_SCAN && sampled < LIMIT_SAMPLE; k++) {
            int e = (limitHand + k) & mask;
            if (e == newEntry || !flowTable.isLive(e)) {
                continue;
            }
            sampled++;
            long seenNs = flowTable.lastSeenNs(e);
            if (batchNowNs - seenNs > 0 && (victim < 0 || seenNs - victimSeenNs < 0)) {
                victim = e;
                victimSeenNs = seenNs;
            }
        }
        if (victim < 0) {
            limitHand = (limitHand + k) & mask;
            return false;
        }
        limitHand = (victim + 1) & mask;
        removeForLimit(victim);
        return true;
    }

    /** Removes {@code entry} from the table, counted as a {@link EvictionReason#CAPACITY} eviction. */
    private void removeForLimit(int entry) {
        evictingForLimit = true;
        try {
            flowTable.remove(entry);
        } finally {
            evictingForLimit = false;
        }
    }

    // ------------------------------------------------------------------ stateless path

    /**
     * Forwards a datagram of an untracked flow through the backend's shared stateless socket; when that socket
     * cannot be opened either, drops it as {@code noSocketReason}.
     */
    private void forwardStateless(ForwardingSnapshot snapshot, int backendId, DatagramPacket packet,
            UdpDropReason noSocketReason) {
        DatagramChannel ch = statelessChannel(snapshot, backendId);
        UdpLoopCounters c = counters;
        if (ch == null) {
            c.drop(noSocketReason);
            packet.release();
            return;
        }
        if (!ch.isWritable()) {
            c.drop(UdpDropReason.SEND_BUFFER_FULL);
            packet.release();
            return;
        }
        ByteBuf content = packet.content();
        int bytes = content.readableBytes();
        c.statelessDatagrams++;
        c.datagramsToBackends++;
        c.bytesToBackends += bytes;
        UdpLoopCounters.PerBackend b = c.backend(backendId);
        b.datagramsToBackend++;
        b.bytesToBackend += bytes;
        flushing = true;
        try {
            ch.writeAndFlush(content, ch.voidPromise());
        } finally {
            flushing = false;
        }
    }

    private DatagramChannel statelessChannel(ForwardingSnapshot snapshot, int backendId) {
        BackendState backend = snapshot.backend(backendId);
        if (backend == null) {
            return null;
        }
        if (backendId >= statelessChannels.length) {
            int size = Math.max(backendId + 1, statelessChannels.length * 2);
            statelessChannels = Arrays.copyOf(statelessChannels, size);
            statelessAddresses = Arrays.copyOf(statelessAddresses, size);
        }
        DatagramChannel ch = statelessChannels[backendId];
        if (ch != null && backend.address().equals(statelessAddresses[backendId])) {
            return ch;
        }
        closeStateless(backendId);
        try {
            ch = UdpChannels.newBackendChannel(epoll, UdpChannels.familyOf(backend.address().getAddress()));
            ch.pipeline().addLast(statelessReplies);
            loop.register(ch);
            if (!ch.connect(backend.address()).isSuccess()) {
                ch.close();
                counters.sessionOpenFailures++;
                return null;
            }
        } catch (RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            counters.sessionOpenFailures++;
            return null;
        }
        statelessChannels[backendId] = ch;
        statelessAddresses[backendId] = backend.address();
        return ch;
    }

    private void closeStateless(int backendId) {
        if (backendId < statelessChannels.length && statelessChannels[backendId] != null) {
            statelessChannels[backendId].close();
            statelessChannels[backendId] = null;
            statelessAddresses[backendId] = null;
        }
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
            backendSocketError(null, cause);
        }
    }

    // ------------------------------------------------------------------ housekeeping

    /** Periodic, on the loop: bounded idle sweep, and cleanup after backends left the VIP. */
    private void sweep() {
        if (closed) {
            return;
        }
        flowTable.expire(System.nanoTime(), sweepBudget);
        ForwardingSnapshot snapshot = snapshots.current();
        if (snapshot != null && snapshot.generation() != sweptGeneration) {
            sweptGeneration = snapshot.generation();
            dropGoneBackends(snapshot);
        }
    }

    /** Flows and stateless sockets of backends that are no longer in the VIP go now, not at idle timeout. */
    private void dropGoneBackends(ForwardingSnapshot snapshot) {
        UdpLoopCounters.PerBackend[] perBackend = counters.backends;
        for (int id = 1; id < perBackend.length; id++) {
            if (perBackend[id] != null && snapshot.backend(id) == null) {
                flowTable.removeBackend(id);
                perBackend[id].reset();
            }
        }
        for (int id = 1; id < statelessChannels.length; id++) {
            if (statelessChannels[id] != null && snapshot.backend(id) == null) {
                closeStateless(id);
            }
        }
    }

    /** Tracked flows of this loop now. Racy read from other threads. */
    @Override
    public int flowsActive() {
        return flowTable.size();
    }

    // ------------------------------------------------------------------ addresses as two longs

    /** Sets {@link #splitHi} / {@link #splitLo} to the address as FlowHash wants it (IPv4 as IPv4-mapped). */
    private void splitAddress(InetAddress address) {
        byte[] b = address.getAddress(); // a small copy the JIT scalar-replaces (DecisionPathBench: 0 B/op)
        splitHi = AddressBits.hi(b);
        splitLo = AddressBits.lo(b);
    }
}
