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
import io.maglevlb.dataplane.linux.DatagramBatch;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP VIP on one epoll event loop, without an object per datagram: the loop's SO_REUSEPORT socket of the VIP
 * ({@link NativeVipSocket}), its flow table, and the sessions of the flows the kernel steered to that socket, each
 * with a connected socket toward its backend. Every socket is registered with the loop's epoll directly (Netty's
 * {@code EpollIoHandler}, as the raw TCP relay does) and read and written with recvmmsg and sendmmsg through FFM
 * ({@link DatagramBatch}); datagrams stay in native memory from the kernel's copy in to its copy out.
 *
 * <p>The forwarding decisions are those of {@link UdpVipLoop} (the Netty engine, kept as the fallback on NIO), and
 * so are the counters; see its design notes. What differs is the I/O:
 * <ul>
 *   <li>Client datagrams: one recvmmsg of up to {@link UdpTuning#recvBatch()} datagrams on the VIP socket; each
 *       is resolved in turn, then runs of consecutive datagrams to one backend socket leave in one sendmmsg
 *       (with {@link UdpTuning#deferFlush()}; else one datagram per call).</li>
 *   <li>Backend datagrams: one recvmmsg on the session's socket, and the batch leaves through the VIP socket in
 *       one sendmmsg addressed to the client.</li>
 *   <li>Nothing is queued in user space: a send the kernel refuses with EAGAIN (the socket buffer is full) is a
 *       {@link UdpDropReason#SEND_BUFFER_FULL} drop, any other failure a {@link UdpDropReason#SEND_ERROR}.</li>
 * </ul>
 *
 * <p><b>Native memory.</b> The four batches (client datagrams in, to backends, backend datagrams in, to clients)
 * and a scratch sockaddr are allocated in the constructor from {@link #sys}'s arena: per VIP forwarder and event
 * loop, about 2 x {@code recvBatch} x 64 KiB, freed by {@link #close()} once every socket of this loop is closed.
 * No native memory is allocated per flow or per datagram.
 *
 * <p><b>Threading.</b> Everything runs on {@link #loop}; other threads only read {@link #counters} and the flow
 * table's statistics, racily (see {@link UdpLoopCounters}).
 */
final class NativeUdpVipLoop implements EvictionListener, UdpLoop {
    private static final Logger log = LoggerFactory.getLogger(NativeUdpVipLoop.class);
    private static final int UDP = Protocol.UDP.ipProtocol();
    /** Live entries compared to choose the victim when the VIP's flow limit (not the table) is reached. */
    private static final int LIMIT_SAMPLE = 8;
    private static final int LIMIT_SCAN = 64;
    /** Datagrams one readiness event of the VIP socket takes at most before the loop serves its other sockets. */
    private static final int VIP_DATAGRAMS_PER_EVENT = 64;
    /** The same for a backend socket (level-triggered: what is left is reported again at once). */
    private static final int BACKEND_DATAGRAMS_PER_EVENT = 16;
    /** Each receive slot holds the largest datagram (IPv6 without jumbograms: 65527 bytes), so none is cut. */
    private static final int SLOT_BYTES = 65536;
    private static final int EHOSTUNREACH = 113;
    private static final int ENETUNREACH = 101;

    private final String vipName;
    final EventLoop loop;
    private final SnapshotHolder snapshots;
    private final UdpTuning tuning;
    private final HashMode hashMode;
    final FlowTable flowTable;
    private final int requestedCapacity;
    private final NativeUdpSession[] sessions;
    // Settings a reload may change in place (reconfigure): loop thread only, like everything else here.
    private int flowLimit;
    final UdpLoopCounters counters = new UdpLoopCounters();
    private long sweepIntervalNs;
    private int sweepBudget;
    /** Where {@link #fdCeiling} comes from: {@code DescriptorReserve::udpSessionCeiling} in the daemon. */
    private final LongSupplier descriptorCeiling;
    /** A session socket whose fd number is at or above this eats into the descriptor reserve. */
    private long fdCeiling;
    /** Why the last {@link #connect} failed when that was a local resource error, else null. */
    private LocalError connectLocalError;
    private final int vipRounds;
    private final int backendRounds;

    // Native memory: allocated here from sys's arena, owned by this loop, freed by close().
    private final LinuxNative sys = new LinuxNative();
    private final DatagramBatch fromClients;
    private final DatagramBatch toBackends;
    private final DatagramBatch fromBackend;
    private final DatagramBatch toClients;
    private final MemorySegment connectTarget;

    // Decisions of the current client batch, by slot (heap, allocated once).
    private final int[] targetFd;
    private final int[] targetBackend;
    private final boolean[] targetTracked;

    private NativeVipSocket vipSocket;
    /** The VIP socket went to a successor ({@link #takeOver}): this loop only replies through it, never closes it. */
    private boolean vipSocketHandedOver;
    private long dstHi;
    private long dstLo;
    private int dstPort;

    private long batchNowNs;
    /** True while the loop itself removes an entry to respect {@link #flowLimit}: counted as CAPACITY. */
    private boolean evictingForLimit;
    private int limitHand;

    private FlowSocket[] statelessSockets = new FlowSocket[0];
    private InetSocketAddress[] statelessAddresses = new InetSocketAddress[0];

    /** False once the VIP stops accepting new flows (shutdown); tracked flows go on. */
    private boolean accepting = true;
    private long sweptGeneration = Long.MIN_VALUE;
    private ScheduledFuture<?> sweepTask;
    private boolean closed;

    NativeUdpVipLoop(String vipName, EventLoop loop, SnapshotHolder snapshots, HashMode hashMode, int tableCapacity,
            int flowLimit, long idleTimeoutNs, int floodThreshold, UdpTuning tuning, LongSupplier descriptorCeiling) {
        this.vipName = vipName;
        this.loop = loop;
        this.snapshots = snapshots;
        this.tuning = tuning;
        this.descriptorCeiling = descriptorCeiling;
        this.fdCeiling = descriptorCeiling.getAsLong();
        this.hashMode = hashMode;
        this.requestedCapacity = tableCapacity;
        this.flowTable = new FlowTable(tableCapacity, idleTimeoutNs, floodThreshold, this);
        this.sessions = new NativeUdpSession[flowTable.capacity()];
        this.flowLimit = Math.min(flowLimit, flowTable.capacity());
        sweepFor(idleTimeoutNs);
        int batch = tuning.recvBatch();
        this.vipRounds = Math.max(1, VIP_DATAGRAMS_PER_EVENT / batch);
        this.backendRounds = Math.max(1, BACKEND_DATAGRAMS_PER_EVENT / batch);
        try {
            this.fromClients = new DatagramBatch(sys, batch, SLOT_BYTES, true);
            this.toBackends = new DatagramBatch(sys, batch, 0, false);
            this.fromBackend = new DatagramBatch(sys, batch, SLOT_BYTES, false);
            this.toClients = new DatagramBatch(sys, batch, 0, true);
            this.connectTarget = sys.allocate(DatagramBatch.NAME_BYTES);
        } catch (RuntimeException | Error e) {
            sys.close();
            throw e;
        }
        this.targetFd = new int[batch];
        this.targetBackend = new int[batch];
        this.targetTracked = new boolean[batch];
    }

    private void sweepFor(long idleTimeoutNs) {
        long maxIntervalNs = tuning.maxExpiryInterval().toNanos();
        this.sweepIntervalNs = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(maxIntervalNs, idleTimeoutNs / 4));
        long perSweep = (long) Math.ceil(4.0 * flowTable.capacity() * sweepIntervalNs / idleTimeoutNs);
        this.sweepBudget = (int) Math.min(flowTable.capacity(), Math.max(256, perSweep));
    }

    @Override
    public boolean canReconfigure(HashMode hashMode, int tableCapacity) {
        return this.hashMode == hashMode && tableCapacity == requestedCapacity;
    }

    /** As {@link UdpVipLoop#reconfigure}: tracked flows keep their sessions and live by the new idle timeout. */
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

    /** As {@link UdpVipLoop#trackedBackend}: read-only ({@link FlowTable#peek}), for explain. */
    @Override
    public int trackedBackend(long srcHi, long srcLo, int srcPort) {
        if (vipSocket == null || closed) {
            return ForwardingSnapshot.NO_BACKEND;
        }
        int entry = flowTable.peek(UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, System.nanoTime());
        return entry == FlowTable.NO_ENTRY ? ForwardingSnapshot.NO_BACKEND : flowTable.backendId(entry);
    }

    /** On {@link #loop}: starts reading {@code socket} (bound, not registered yet) and sweeping. */
    void attach(NativeVipSocket socket) throws Exception {
        socket.register((IoEventLoop) loop);
        active(socket);
    }

    private void active(NativeVipSocket socket) {
        this.vipSocket = socket;
        socket.owner = this;
        InetSocketAddress local = socket.localAddress;
        byte[] raw = local.getAddress().getAddress();
        this.dstHi = AddressBits.hi(raw);
        this.dstLo = AddressBits.lo(raw);
        this.dstPort = local.getPort();
        this.sweepTask = loop.scheduleAtFixedRate(this::sweep, sweepIntervalNs, sweepIntervalNs,
                TimeUnit.NANOSECONDS);
    }

    /**
     * On {@link #loop}: takes over {@code predecessor}'s VIP socket (a reload changed the VIP's settings, not its
     * address). The socket stays open and registered; from the next readiness event on it is read by this loop.
     * The predecessor takes no new flows; its tracked flows' replies still leave through the socket.
     */
    void takeOver(NativeUdpVipLoop predecessor) {
        predecessor.accepting = false;
        predecessor.vipSocketHandedOver = true;
        active(predecessor.vipSocket);
    }

    /** The VIP socket, once attached. */
    NativeVipSocket vipSocket() {
        return vipSocket;
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

    @Override
    public void stopAccepting() {
        accepting = false;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (sweepTask != null) {
            sweepTask.cancel(false);
        }
        if (vipSocket != null && !vipSocketHandedOver) {
            vipSocket.close();
        }
        flowTable.clear();
        for (int id = 0; id < statelessSockets.length; id++) {
            closeStateless(id);
        }
        sys.close(); // every socket that could read into the batches is closed
    }

    @Override
    public int flowsActive() {
        return flowTable.size();
    }

    // ------------------------------------------------------------------ client -> backend

    /** The VIP socket is readable: reads batches until it is empty or this event's share is used up. */
    void vipReadable(NativeVipSocket socket) {
        if (closed) {
            return;
        }
        for (int round = 0; round < vipRounds; round++) {
            int n = fromClients.receive(sys, socket.fd);
            if (n < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EINTR) {
                    continue;
                }
                if (errno != LinuxNative.EAGAIN) {
                    counters.vipSocketErrors++;
                    log.debug("vip {}: error on udp socket: {}", vipName, LinuxNative.describe(errno));
                }
                return;
            }
            clientBatch(n);
            if (n < fromClients.slots() || closed) {
                return;
            }
        }
    }

    private void clientBatch(int n) {
        batchNowNs = System.nanoTime();
        ForwardingSnapshot snapshot = snapshots.current();
        for (int i = 0; i < n; i++) {
            targetFd[i] = resolve(i, snapshot);
        }
        boolean runs = tuning.deferFlush();
        for (int i = 0; i < n;) {
            int fd = targetFd[i];
            if (fd < 0) {
                i++;
                continue;
            }
            int end = i + 1;
            while (runs && end < n && targetFd[end] == fd) {
                end++;
            }
            UdpLoopCounters c = counters;
            for (int k = i; k < end; k++) {
                // Counted as sent before the call, as a datagram a peer may already have answered must be; a
                // failed send is counted as a drop too.
                int bytes = fromClients.length(k);
                c.datagramsToBackends++;
                c.bytesToBackends += bytes;
                UdpLoopCounters.PerBackend b = c.backend(targetBackend[k]);
                b.datagramsToBackend++;
                b.bytesToBackend += bytes;
                toBackends.setPayload(k, fromClients.bufferAddress(k), bytes);
            }
            sendToBackend(fd, i, end);
            i = end;
        }
    }

    /**
     * Decides where client datagram {@code i} of the batch goes: the descriptor of its session's socket or of the
     * backend's stateless socket (with {@link #targetBackend} and {@link #targetTracked} set), or -1 when it is
     * dropped (counted here).
     */
    private int resolve(int i, ForwardingSnapshot snapshot) {
        UdpLoopCounters c = counters;
        int bytes = fromClients.length(i);
        c.datagramsFromClients++;
        c.bytesFromClients += bytes;
        if (bytes == 0) {
            c.drop(UdpDropReason.EMPTY);
            return -1;
        }
        if (snapshot == null || closed) {
            c.drop(UdpDropReason.NO_BACKEND);
            return -1;
        }
        long srcHi = fromClients.nameHi(i);
        long srcLo = fromClients.nameLo(i);
        int srcPort = fromClients.namePort(i);
        long hash = FlowHash.of(hashMode, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort);
        if (!accepting && flowTable.find(hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, batchNowNs)
                == FlowTable.NO_ENTRY) {
            c.drop(UdpDropReason.NOT_ACCEPTING);
            return -1;
        }
        int backendId = flowTable.resolve(snapshot, hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort,
                batchNowNs);
        if (backendId == ForwardingSnapshot.NO_BACKEND) {
            c.drop(UdpDropReason.NO_BACKEND);
            return -1;
        }
        int entry = flowTable.lastResolvedEntry();
        if (entry == FlowTable.NOT_INSERTED) {
            return stateless(snapshot, backendId, UdpDropReason.TABLE_FULL);
        }
        NativeUdpSession session = sessions[entry];
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
                return -1;
            }
            if (entry == FlowTable.NOT_INSERTED) {
                return stateless(snapshot, backendId, UdpDropReason.TABLE_FULL);
            }
            session = sessions[entry];
        }
        if (session == null) {
            session = openSession(entry, i, backendId, snapshot);
            if (session == null) {
                return stateless(snapshot, backendId, UdpDropReason.BACKEND_SOCKET);
            }
            if (flowTable.size() > flowLimit && !makeRoomForLimit(entry)) {
                removeForLimit(entry); // the new flow is the one that cannot stay
                return stateless(snapshot, backendId, UdpDropReason.TABLE_FULL);
            }
        } else if (session.backendId != backendId) {
            if (!moveSession(session, backendId, snapshot)) {
                flowTable.remove(entry);
                return stateless(snapshot, backendId, UdpDropReason.BACKEND_SOCKET);
            }
        }
        targetBackend[i] = session.backendId;
        targetTracked[i] = true;
        return session.socket.fd;
    }

    /** Sends messages {@code from} .. {@code end - 1} of {@link #toBackends} on {@code fd}; counts failures. */
    private void sendToBackend(int fd, int from, int end) {
        UdpLoopCounters c = counters;
        int k = from;
        while (k < end) {
            int sent = toBackends.send(sys, fd, k, end - k);
            if (sent > 0) {
                k += sent;
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EINTR) {
                continue;
            }
            if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                // The socket's send buffer is full: drop what is left rather than queue it (see UdpDropReason).
                for (; k < end; k++) {
                    c.drop(UdpDropReason.SEND_BUFFER_FULL);
                }
                return;
            }
            // The kernel failed this datagram (ECONNREFUSED after an ICMP port unreachable, ...): the rest go on.
            c.drop(UdpDropReason.SEND_ERROR);
            if (isUnreachable(errno)) {
                c.backendUnreachable++;
                if (targetTracked[k]) {
                    c.backend(targetBackend[k]).unreachable++;
                }
            }
            k++;
        }
    }

    private static boolean isUnreachable(int errno) {
        return errno == LinuxNative.ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH;
    }

    // ------------------------------------------------------------------ backend -> client

    /** A session's backend socket is readable: its datagrams go to the client through the VIP socket. */
    void backendReadable(FlowSocket socket) {
        NativeUdpSession session = socket.session;
        if (closed || socket.closed) {
            return;
        }
        if (session == null) {
            statelessReadable(socket);
            return;
        }
        UdpLoopCounters c = counters;
        for (int round = 0; round < backendRounds; round++) {
            int n = fromBackend.receive(sys, socket.fd);
            if (n < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EAGAIN) {
                    return;
                }
                if (errno != LinuxNative.EINTR) {
                    backendSocketError(session); // an ICMP error the kernel reported for the backend
                }
                continue;
            }
            long nowNs = System.nanoTime();
            // A reply is traffic too: the flow is not idle while the backend talks.
            flowTable.touch(session.entryId, nowNs);
            UdpLoopCounters.PerBackend b = c.backend(session.backendId);
            for (int i = 0; i < n; i++) {
                int bytes = fromBackend.length(i);
                c.datagramsFromBackends++;
                c.bytesFromBackends += bytes;
                b.datagramsFromBackend++;
                b.bytesFromBackend += bytes;
                c.datagramsToClients++; // before the send, as for backends
                c.bytesToClients += bytes;
                toClients.setName(i, session.client);
                toClients.setPayload(i, fromBackend.bufferAddress(i), bytes);
            }
            sendToClients(n);
            if (n < fromBackend.slots() || socket.closed) {
                return;
            }
        }
    }

    /** Sends messages 0 .. {@code n - 1} of {@link #toClients} through the VIP socket; counts failures. */
    private void sendToClients(int n) {
        UdpLoopCounters c = counters;
        int k = 0;
        while (k < n) {
            int fd = vipSocket.fd;
            if (fd < 0) { // the VIP socket closed (its new owner stopped) while this loop's flows still talked
                for (; k < n; k++) {
                    c.drop(UdpDropReason.SEND_ERROR);
                }
                return;
            }
            int sent = tuning.deferFlush() ? toClients.send(sys, fd, k, n - k) : toClients.send(sys, fd, k, 1);
            if (sent > 0) {
                k += sent;
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EINTR) {
                continue;
            }
            if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                for (; k < n; k++) {
                    c.drop(UdpDropReason.SEND_BUFFER_FULL);
                }
                return;
            }
            c.drop(UdpDropReason.SEND_ERROR);
            k++;
        }
    }

    /** Replies on a stateless socket cannot be matched to a client: read and counted, never forwarded. */
    private void statelessReadable(FlowSocket socket) {
        UdpLoopCounters c = counters;
        for (int round = 0; round < backendRounds; round++) {
            int n = fromBackend.receive(sys, socket.fd);
            if (n < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EAGAIN) {
                    return;
                }
                if (errno != LinuxNative.EINTR) {
                    backendSocketError(null);
                }
                continue;
            }
            for (int i = 0; i < n; i++) {
                c.datagramsFromBackends++;
                c.drop(UdpDropReason.STATELESS_REPLY);
            }
            if (n < fromBackend.slots()) {
                return;
            }
        }
    }

    /** An error the kernel reported on a backend socket: an ICMP error (port or host unreachable). */
    private void backendSocketError(NativeUdpSession session) {
        UdpLoopCounters c = counters;
        c.backendUnreachable++;
        if (session != null && session.isOpen()) {
            c.backend(session.backendId).unreachable++;
        }
        // Not logged per event: a dead backend port produces one of these per datagram sent to it.
    }

    // ------------------------------------------------------------------ sessions

    private NativeUdpSession openSession(int entry, int slot, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        NativeUdpSession session = new NativeUdpSession(entry, fromClients.copyName(slot));
        boolean open = backend != null && connect(session, backend.address());
        if (!open && connectLocalError == LocalError.FD_LIMIT && makeRoomForLimit(entry)) {
            open = connect(session, backend.address()); // the least recently seen flow gave its descriptor back
        }
        if (open && inDescriptorReserve(session.socket.fd)) {
            // As UdpVipLoop's: give this number back and take the one the least recently seen flow frees, the
            // lowest free number again, below the ceiling. When every other flow was seen in this batch, this
            // one cannot have a socket.
            closeSocket(session);
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
    private boolean moveSession(NativeUdpSession session, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        UdpLoopCounters c = counters;
        c.backend(session.backendId).flowsActive--;
        closeSocket(session);
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

    private boolean backendAddressStill(NativeUdpSession session, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(session.backendId);
        if (backend != null && backend.address().equals(session.backendAddress)) {
            session.checkedGeneration = snapshot.generation();
            return true;
        }
        return false;
    }

    /**
     * Whether a session socket just opened as {@code fd} took a descriptor of the process's reserve: Linux hands
     * out the lowest free number, so a number at or above the ceiling means that many are in use. Re-reads the
     * ceiling before answering yes, as the limit may have been raised at run time.
     */
    private boolean inDescriptorReserve(int fd) {
        if (fd < fdCeiling) {
            return false;
        }
        fdCeiling = descriptorCeiling.getAsLong();
        return fd >= fdCeiling;
    }

    /**
     * Opens {@code session}'s socket toward {@code backend}. On failure {@link #connectLocalError} says whether
     * this host ran out of something (null: it did not).
     */
    private boolean connect(NativeUdpSession session, InetSocketAddress backend) {
        connectLocalError = null;
        FlowSocket socket = openFlowSocket(backend, session);
        if (socket == null) {
            return false;
        }
        session.socket = socket;
        session.backendAddress = backend;
        return true;
    }

    /**
     * A non-blocking UDP socket connected to {@code backend} (so the kernel delivers only that backend's datagrams
     * to it and reports its ICMP errors), registered with this loop's epoll; null when that failed (logged at
     * debug: out of descriptors, or the address is unreachable).
     */
    private FlowSocket openFlowSocket(InetSocketAddress backend, NativeUdpSession session) {
        byte[] sockaddr = DatagramBatch.encode(backend);
        int family = backend.getAddress() instanceof Inet6Address ? LinuxNative.AF_INET6 : LinuxNative.AF_INET;
        int fd = sys.socket(family, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int errno = sys.errno();
            log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend, LinuxNative.describe(errno));
            if (session != null) {
                connectLocalError = LocalError.ofErrno(errno);
            }
            return null;
        }
        MemorySegment.copy(sockaddr, 0, connectTarget, ValueLayout.JAVA_BYTE, 0, sockaddr.length);
        // A UDP connect is local (no handshake): it completes here.
        if (sys.connect(fd, connectTarget, sockaddr.length) != 0) {
            int errno = sys.errno();
            log.debug("vip {}: cannot connect udp socket to {}: {}", vipName, backend, LinuxNative.describe(errno));
            if (session != null) {
                connectLocalError = LocalError.ofErrno(errno);
            }
            sys.closeFd(fd);
            return null;
        }
        FlowSocket socket = new FlowSocket(this, fd, session);
        Future<IoRegistration> registered = ((IoEventLoop) loop).register(socket); // inline: we are on the loop
        if (!registered.isSuccess()) {
            log.debug("vip {}: cannot register udp socket to {}: {}", vipName, backend, registered.cause());
            socket.close();
            return null;
        }
        socket.registration = registered.getNow();
        socket.registration.submit(EpollIoOps.EPOLLIN);
        return socket;
    }

    private static void closeSocket(NativeUdpSession session) {
        FlowSocket socket = session.socket;
        if (socket != null) {
            session.socket = null;
            socket.close();
        }
    }

    @Override
    public void evicted(int entryId, int backendId, EvictionReason reason) {
        NativeUdpSession session = sessions[entryId];
        if (session == null) {
            return; // a flow whose session never opened
        }
        sessions[entryId] = null;
        UdpLoopCounters c = counters;
        EvictionReason counted = evictingForLimit ? EvictionReason.CAPACITY : reason;
        c.flowsEvicted[counted.ordinal()]++;
        if (session.socket != null) {
            c.backend(session.backendId).flowsActive--;
        }
        session.entryId = -1;
        closeSocket(session);
    }

    /** As {@link UdpVipLoop}'s: evicts the least recently seen of a few sampled live entries; false if none. */
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
     * Routes client datagram through the backend's shared stateless socket: its descriptor, or -1 (dropped as
     * {@code noSocketReason}) when that socket cannot be opened either.
     */
    private int stateless(ForwardingSnapshot snapshot, int backendId, UdpDropReason noSocketReason) {
        FlowSocket socket = statelessSocket(snapshot, backendId);
        if (socket == null) {
            counters.drop(noSocketReason);
            return -1;
        }
        counters.statelessDatagrams++;
        return socket.fd;
    }

    private FlowSocket statelessSocket(ForwardingSnapshot snapshot, int backendId) {
        BackendState backend = snapshot.backend(backendId);
        if (backend == null) {
            return null;
        }
        if (backendId >= statelessSockets.length) {
            int size = Math.max(backendId + 1, statelessSockets.length * 2);
            statelessSockets = Arrays.copyOf(statelessSockets, size);
            statelessAddresses = Arrays.copyOf(statelessAddresses, size);
        }
        FlowSocket socket = statelessSockets[backendId];
        if (socket != null && backend.address().equals(statelessAddresses[backendId])) {
            return socket;
        }
        closeStateless(backendId);
        socket = openFlowSocket(backend.address(), null);
        if (socket == null) {
            counters.sessionOpenFailures++;
            return null;
        }
        statelessSockets[backendId] = socket;
        statelessAddresses[backendId] = backend.address();
        return socket;
    }

    private void closeStateless(int backendId) {
        if (backendId < statelessSockets.length && statelessSockets[backendId] != null) {
            statelessSockets[backendId].close();
            statelessSockets[backendId] = null;
            statelessAddresses[backendId] = null;
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

    private void dropGoneBackends(ForwardingSnapshot snapshot) {
        UdpLoopCounters.PerBackend[] perBackend = counters.backends;
        for (int id = 1; id < perBackend.length; id++) {
            if (perBackend[id] != null && snapshot.backend(id) == null) {
                flowTable.removeBackend(id);
                perBackend[id].reset();
            }
        }
        for (int id = 1; id < statelessSockets.length; id++) {
            if (statelessSockets[id] != null && snapshot.backend(id) == null) {
                closeStateless(id);
            }
        }
    }

    // ------------------------------------------------------------------ sockets and sessions

    /**
     * One tracked flow: the client's socket address (encoded as the kernel wants it, copied once when the flow
     * starts) and the connected socket toward its backend. On the loop only.
     */
    static final class NativeUdpSession {
        /** Flow table entry id, or -1 once the session is closed. */
        int entryId;
        final byte[] client;
        int backendId;
        InetSocketAddress backendAddress;
        FlowSocket socket;
        /** Generation of the last snapshot this session's backend address was checked against. */
        long checkedGeneration;

        NativeUdpSession(int entryId, byte[] client) {
            this.entryId = entryId;
            this.client = client;
        }

        boolean isOpen() {
            return entryId >= 0;
        }
    }

    /**
     * A backend-side socket, as epoll's handle for it: a session's (then {@link #session} is set) or a backend's
     * shared stateless socket (null). Registered level-triggered for reading; closed by its loop.
     */
    static final class FlowSocket implements EpollIoHandle {
        private final NativeUdpVipLoop owner;
        final int fd;
        private final FileDescriptor descriptor;
        final NativeUdpSession session;
        IoRegistration registration;
        boolean closed;

        FlowSocket(NativeUdpVipLoop owner, int fd, NativeUdpSession session) {
            this.owner = owner;
            this.fd = fd;
            this.descriptor = new FileDescriptor(fd);
            this.session = session;
        }

        @Override
        public FileDescriptor fd() {
            return descriptor;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            owner.backendReadable(this);
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                // Closed before the registration is cancelled: close() already took it out of epoll.
                descriptor.close();
            } catch (IOException e) {
                log.debug("close of udp socket fd {} failed", fd, e);
            }
            if (registration != null) {
                registration.cancel();
            }
        }
    }
}
