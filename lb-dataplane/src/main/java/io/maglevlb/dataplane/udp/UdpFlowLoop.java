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
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The flow decisions of one UDP VIP on one event loop, written once for both engines: the flow table, the
 * sessions (one connected socket toward the backend per tracked flow), the VIP's flow limit, the descriptor
 * reserve, the stateless sockets of untracked flows, the idle sweep, the counters. The engines only move
 * datagrams: {@link NativeUdpVipLoop} (epoll: recvmmsg/sendmmsg through FFM, no object per datagram) and
 * {@link UdpVipLoop} (Netty datagram channels, the portable fallback on NIO). Each says how to open, close and
 * number its backend sockets ({@code K}) and how to make a session ({@code S}) for the datagram it is routing.
 *
 * <p><b>Threading.</b> Everything here runs on {@link #loop} (the VIP socket, every session socket and the sweep
 * are registered or scheduled on it), so nothing is locked or volatile. Other threads only read
 * {@link #counters} and the flow table's statistics, racily (see {@link UdpLoopCounters}).
 *
 * @param <K> a backend-side socket of the engine
 * @param <S> the engine's session
 */
abstract class UdpFlowLoop<K, S extends UdpFlowLoop.Session<K>> implements EvictionListener, UdpLoop {
    /*
     * Design notes.
     *
     * Client datagram: the engine reads the clock and the VIP's snapshot once per read batch (batchNowNs) and
     * calls route() per datagram; FlowTable.resolve maps the 5-tuple to a backend id and an entry id;
     * sessions[entryId] is the flow's session (null = new flow: open a connected socket to the backend on this
     * loop). The engine then sends the datagram on the socket route() returned.
     *
     * The flow table's eviction listener keeps sessions[] in step: it closes a session before its entry id is
     * reused. A flow whose backend stops keeping flows is moved by resolve(); the next datagram finds
     * session.backendId != the answer and reconnects the session. Backend ids are reused by the control plane
     * after a backend leaves, so a session also checks, once per snapshot generation, that its backend id still
     * has its address; when not, the flow is dropped from the table and placed afresh.
     *
     * Every session holds a file descriptor. When a new session's socket lands in the process's descriptor
     * reserve (its fd number is at or above DescriptorReserve's ceiling, or opening it failed with EMFILE), the
     * loop's least recently seen flow gives its socket back, as when the flow limit is reached: under a flood of
     * new flows the newest are answered and the health checks, the admin API and the TCP VIPs keep their
     * descriptors. Without this, a 20,000-flow burst under a 20,000 descriptor limit left every later new flow
     * without a session (forwarded statelessly, its replies dropped) until the burst's flows went idle.
     *
     * Untracked flows (flow table full of flows seen in this very batch, flood mode, or a backend socket that
     * could not be opened) go through one shared "stateless" socket per backend: the datagram reaches the
     * backend, but replies on that socket cannot be matched to a client and are dropped (counted).
     */
    static final int UDP = Protocol.UDP.ipProtocol();
    /** Live entries compared to choose the victim when the VIP's flow limit (not the table) is reached. */
    private static final int LIMIT_SAMPLE = 8;
    private static final int LIMIT_SCAN = 64;

    /**
     * What both engines keep of one tracked flow: its table entry, its backend and the connected socket toward
     * it. The engine's subclass adds the client's address in its own form. On the loop only.
     */
    abstract static class Session<K> {
        /** Flow table entry id, or -1 once the session is closed. */
        int entryId;
        int backendId;
        InetSocketAddress backendAddress;
        K socket;
        /** Generation of the last snapshot this session's backend address was checked against. */
        long checkedGeneration;

        Session(int entryId) {
            this.entryId = entryId;
        }

        final boolean isOpen() {
            return entryId >= 0;
        }
    }

    final String vipName;
    final EventLoop loop;
    final SnapshotHolder snapshots;
    final UdpTuning tuning;
    private final HashMode hashMode;
    final FlowTable flowTable;
    private final int requestedCapacity;
    private final Session<K>[] sessions;
    // Settings a reload may change in place (reconfigure): loop thread only, like everything else here.
    private int flowLimit;
    final UdpLoopCounters counters = new UdpLoopCounters();
    private long sweepIntervalNs;
    private int sweepBudget;
    /** Where {@link #fdCeiling} comes from: {@code DescriptorReserve::udpSessionCeiling} in the daemon. */
    private final LongSupplier descriptorCeiling;
    /** A session socket whose fd number is at or above this eats into the descriptor reserve. */
    private long fdCeiling;
    /** Why the last {@link #openSocket} failed when that was a local resource error, else null: set by it. */
    LocalError connectLocalError;

    /** The VIP socket's address as FlowHash takes it; set by {@link #active}. */
    private long dstHi;
    private long dstLo;
    private int dstPort;
    private boolean attached;

    /** The clock of the current client read batch: the engine sets it before {@link #route}. */
    long batchNowNs;
    /** True while the loop itself removes an entry to respect {@link #flowLimit}: counted as CAPACITY. */
    private boolean evictingForLimit;
    private int limitHand;

    /** After {@link #route}: the backend the datagram goes to, and its session (null: a stateless socket). */
    int routedBackend;
    S routedSession;

    private Object[] statelessSockets = new Object[0];
    private InetSocketAddress[] statelessAddresses = new InetSocketAddress[0];

    /** False once the VIP stops accepting new flows (shutdown, or a successor took the VIP socket). */
    boolean accepting = true;
    private long sweptGeneration = Long.MIN_VALUE;
    private ScheduledFuture<?> sweepTask;
    boolean closed;

    @SuppressWarnings("unchecked")
    UdpFlowLoop(String vipName, EventLoop loop, SnapshotHolder snapshots, HashMode hashMode, int tableCapacity,
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
        this.sessions = new Session[flowTable.capacity()];
        this.flowLimit = Math.min(flowLimit, flowTable.capacity());
        sweepFor(idleTimeoutNs);
    }

    // ------------------------------------------------------------------ what each engine provides

    /** A session for the flow at {@code entry}, of the client whose datagram {@link #route} is deciding. */
    abstract S newSession(int entry);

    /**
     * A socket connected to {@code backend} and registered with this loop for reading, as {@code session}'s
     * (null: a backend's stateless socket); null when that failed, with {@link #connectLocalError} set when this
     * host ran out of something.
     */
    abstract K openSocket(InetSocketAddress backend, S session);

    abstract void closeSocket(K socket);

    /** The socket's descriptor number, or -1 when the transport shows none (NIO). */
    abstract int fdOf(K socket);

    // ------------------------------------------------------------------ UdpLoop

    private void sweepFor(long idleTimeoutNs) {
        long maxIntervalNs = tuning.maxExpiryInterval().toNanos();
        this.sweepIntervalNs = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(maxIntervalNs, idleTimeoutNs / 4));
        // Enough entries per sweep that the whole table is visited four times per idle timeout, so an idle flow
        // goes at most a quarter of the timeout (plus one interval) late. A visit is two array reads.
        long perSweep = (long) Math.ceil(4.0 * flowTable.capacity() * sweepIntervalNs / idleTimeoutNs);
        this.sweepBudget = (int) Math.min(flowTable.capacity(), Math.max(256, perSweep));
    }

    @Override
    public final boolean canReconfigure(HashMode hashMode, int tableCapacity) {
        return this.hashMode == hashMode && tableCapacity == requestedCapacity;
    }

    /**
     * Runs on {@link #loop}: a reload changed the VIP's idle timeout or flow limit (see
     * {@link UdpForwarder#startInPlaceOf}). Tracked flows stay, with their sessions, and live by the new idle
     * timeout from now on; above a lower limit, each new flow replaces the least recently seen one.
     */
    @Override
    public final void reconfigure(long idleTimeoutNs, int flowLimit) {
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

    /** On {@link #loop}: the VIP socket bound to {@code local} is this loop's now; starts sweeping. */
    final void active(InetSocketAddress local) {
        byte[] raw = local.getAddress().getAddress();
        this.dstHi = AddressBits.hi(raw);
        this.dstLo = AddressBits.lo(raw);
        this.dstPort = local.getPort();
        this.attached = true;
        this.sweepTask = loop.scheduleAtFixedRate(this::sweep, sweepIntervalNs, sweepIntervalNs,
                TimeUnit.NANOSECONDS);
    }

    /**
     * Runs on {@link #loop}: the backend id of the tracked flow from {@code srcHi}:{@code srcLo} port
     * {@code srcPort} to this loop's VIP socket, or {@link ForwardingSnapshot#NO_BACKEND}. Read-only
     * ({@link FlowTable#peek}): the flow is neither refreshed nor counted. Diagnostics (explain), not per datagram.
     */
    @Override
    public final int trackedBackend(long srcHi, long srcLo, int srcPort) {
        if (!attached || closed) {
            return ForwardingSnapshot.NO_BACKEND;
        }
        int entry = flowTable.peek(UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, System.nanoTime());
        return entry == FlowTable.NO_ENTRY ? ForwardingSnapshot.NO_BACKEND : flowTable.backendId(entry);
    }

    @Override
    public final EventLoop eventLoop() {
        return loop;
    }

    @Override
    public final FlowTable flowTable() {
        return flowTable;
    }

    @Override
    public final UdpLoopCounters counters() {
        return counters;
    }

    /** Tracked flows of this loop now. Racy read from other threads. */
    @Override
    public final int flowsActive() {
        return flowTable.size();
    }

    /** Runs on {@link #loop}: from now on only tracked flows are forwarded. */
    @Override
    public final void stopAccepting() {
        accepting = false;
    }

    /**
     * Runs on {@link #loop}: marks the loop closed and closes every session and stateless socket; false when it
     * was closed already. The engine closes its VIP socket (unless handed over) and its native memory.
     */
    final boolean closeFlows() {
        if (closed) {
            return false;
        }
        closed = true;
        if (sweepTask != null) {
            sweepTask.cancel(false);
        }
        flowTable.clear();
        for (int id = 0; id < statelessSockets.length; id++) {
            closeStateless(id);
        }
        return true;
    }

    // ------------------------------------------------------------------ the decision

    /**
     * Decides where a client datagram of {@code bytes} bytes from {@code srcHi}:{@code srcLo} port {@code srcPort}
     * goes, counting it as read from a client: the socket to send it on (then {@link #routedBackend} is its
     * backend and {@link #routedSession} its session, or null for a backend's stateless socket), or null when it
     * is dropped (counted here). Opens, moves and replaces sessions as needed.
     */
    final K route(ForwardingSnapshot snapshot, int bytes, long srcHi, long srcLo, int srcPort) {
        UdpLoopCounters c = counters;
        c.datagramsFromClients++;
        c.bytesFromClients += bytes;
        if (bytes == 0) {
            c.drop(UdpDropReason.EMPTY);
            return null;
        }
        if (snapshot == null || closed) {
            c.drop(UdpDropReason.NO_BACKEND);
            return null;
        }
        long hash = FlowHash.of(hashMode, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort);
        if (!accepting && flowTable.find(hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, batchNowNs)
                == FlowTable.NO_ENTRY) {
            c.drop(UdpDropReason.NOT_ACCEPTING);
            return null;
        }
        int backendId = flowTable.resolve(snapshot, hash, UDP, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort,
                batchNowNs);
        if (backendId == ForwardingSnapshot.NO_BACKEND) {
            c.drop(UdpDropReason.NO_BACKEND);
            return null;
        }
        int entry = flowTable.lastResolvedEntry();
        if (entry == FlowTable.NOT_INSERTED) {
            return stateless(snapshot, backendId, UdpDropReason.TABLE_FULL);
        }
        S session = session(entry);
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
                return null;
            }
            if (entry == FlowTable.NOT_INSERTED) {
                return stateless(snapshot, backendId, UdpDropReason.TABLE_FULL);
            }
            session = session(entry);
        }
        if (session == null) {
            session = openSession(entry, backendId, snapshot);
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
        routedBackend = session.backendId;
        routedSession = session;
        return session.socket;
    }

    @SuppressWarnings("unchecked")
    private S session(int entry) {
        return (S) sessions[entry];
    }

    // ------------------------------------------------------------------ sessions

    private S openSession(int entry, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        S session = newSession(entry);
        boolean open = backend != null && connect(session, backend.address());
        if (!open && connectLocalError == LocalError.FD_LIMIT && makeRoomForLimit(entry)) {
            open = connect(session, backend.address()); // the least recently seen flow gave its descriptor back
        }
        if (open && inDescriptorReserve(fdOf(session.socket))) {
            // Give this socket's number back and take the one the least recently seen flow frees: the lowest
            // free number again, below the ceiling, so the next session's number still tells how many are in
            // use. When every other flow was seen in this batch, this one cannot have a socket.
            closeSessionSocket(session);
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
    private boolean moveSession(S session, int backendId, ForwardingSnapshot snapshot) {
        BackendState backend = snapshot.backend(backendId);
        UdpLoopCounters c = counters;
        c.backend(session.backendId).flowsActive--;
        closeSessionSocket(session);
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

    private boolean backendAddressStill(S session, ForwardingSnapshot snapshot) {
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
     * ceiling before answering yes, as the limit may have been raised at run time. Never for -1 (NIO shows no
     * descriptor: there only EMFILE triggers the replacement).
     */
    private boolean inDescriptorReserve(int fd) {
        if (fd < 0 || fd < fdCeiling) {
            return false;
        }
        fdCeiling = descriptorCeiling.getAsLong();
        return fd >= fdCeiling;
    }

    /** Opens {@code session}'s socket toward {@code backend}; see {@link #connectLocalError} on failure. */
    private boolean connect(S session, InetSocketAddress backend) {
        connectLocalError = null;
        K socket = openSocket(backend, session);
        if (socket == null) {
            return false;
        }
        session.socket = socket;
        session.backendAddress = backend;
        return true;
    }

    private void closeSessionSocket(S session) {
        K socket = session.socket;
        if (socket != null) {
            session.socket = null;
            closeSocket(socket);
        }
    }

    @Override
    public final void evicted(int entryId, int backendId, EvictionReason reason) {
        S session = session(entryId);
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
        closeSessionSocket(session);
    }

    /**
     * The VIP's flow limit (max-connections split over its loops) is below the table's capacity and was just
     * exceeded by the new entry {@code newEntry}, or its session needs a descriptor the process does not have to
     * spare: evicts the least recently seen of a few other live entries, sampled from a rotating hand, as the
     * table itself does when full. False when every sampled entry was seen in this batch.
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

    /** Counts an error the kernel reported for a backend socket (an ICMP error); null: a stateless socket. */
    final void backendUnreachable(S session) {
        UdpLoopCounters c = counters;
        c.backendUnreachable++;
        if (session != null && session.isOpen()) {
            c.backend(session.backendId).unreachable++;
        }
        // Not logged per event: a dead backend port produces one of these per datagram sent to it.
    }

    // ------------------------------------------------------------------ stateless path

    /**
     * Routes a datagram of an untracked flow through the backend's shared stateless socket; when that socket
     * cannot be opened either, drops it as {@code noSocketReason}.
     */
    private K stateless(ForwardingSnapshot snapshot, int backendId, UdpDropReason noSocketReason) {
        K socket = statelessSocket(snapshot, backendId);
        if (socket == null) {
            counters.drop(noSocketReason);
            return null;
        }
        counters.statelessDatagrams++;
        routedBackend = backendId;
        routedSession = null;
        return socket;
    }

    @SuppressWarnings("unchecked")
    private K statelessSocket(ForwardingSnapshot snapshot, int backendId) {
        BackendState backend = snapshot.backend(backendId);
        if (backend == null) {
            return null;
        }
        if (backendId >= statelessSockets.length) {
            int size = Math.max(backendId + 1, statelessSockets.length * 2);
            statelessSockets = Arrays.copyOf(statelessSockets, size);
            statelessAddresses = Arrays.copyOf(statelessAddresses, size);
        }
        K socket = (K) statelessSockets[backendId];
        if (socket != null && backend.address().equals(statelessAddresses[backendId])) {
            return socket;
        }
        closeStateless(backendId);
        socket = openSocket(backend.address(), null);
        if (socket == null) {
            counters.sessionOpenFailures++;
            return null;
        }
        statelessSockets[backendId] = socket;
        statelessAddresses[backendId] = backend.address();
        return socket;
    }

    @SuppressWarnings("unchecked")
    private void closeStateless(int backendId) {
        if (backendId < statelessSockets.length && statelessSockets[backendId] != null) {
            closeSocket((K) statelessSockets[backendId]);
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

    /** Flows and stateless sockets of backends that are no longer in the VIP go now, not at idle timeout. */
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
}
