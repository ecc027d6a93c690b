package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.LocalError;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandle;
import io.netty.channel.IoRegistration;
import io.netty.util.concurrent.Future;
import java.util.Arrays;

/**
 * What one event loop keeps for one TCP VIP: its counters and its connections, ordered by last activity.
 *
 * <p><b>Threading.</b> Every field is written only by {@link #eventLoop}, so no field needs to be volatile or
 * atomic and the hot path pays one plain increment per event. {@link TcpProxyVip#stats()} reads the counters
 * from another thread without synchronisation: it may see a value a few increments old, or (on a JVM that
 * splits 64-bit stores, which HotSpot on 64-bit platforms does not) a torn one, and after a per-backend array
 * grew it may read the old array once. Metrics tolerate all of that; nothing else reads these fields off the
 * loop.
 *
 * <p><b>Idle list.</b> Connections form a doubly linked list in order of last activity: {@link #touch} moves a
 * connection to the tail, so the sweep looks only at the head until it meets one that is not idle. That is
 * lazy expiry with one scheduled sweep per loop and VIP instead of one timer per connection.
 */
final class TcpVipLoop {
    private static final int INITIAL_BACKEND_CAPACITY = 8;

    final EventLoop eventLoop;

    // VIP-level counters (see class comment for the threading rule).
    long accepted;
    long active;
    long closedNoBackend;
    long connectGiveUps;
    /** Clients reset because no backend socket could be had for a local reason (see {@link LocalError}). */
    long closedLocalError;
    /** System calls that failed for a local reason, indexed by {@link LocalError#ordinal()}; never a backend's. */
    final long[] localErrors = new long[LocalError.count()];

    // Per-backend counters, indexed by backend id; grown on this loop when a snapshot has larger ids.
    long[] connections = new long[INITIAL_BACKEND_CAPACITY];
    long[] activeByBackend = new long[INITIAL_BACKEND_CAPACITY];
    long[] bytesToBackend = new long[INITIAL_BACKEND_CAPACITY];
    long[] bytesToClient = new long[INITIAL_BACKEND_CAPACITY];
    long[] connectFailures = new long[INITIAL_BACKEND_CAPACITY];
    long[] retries = new long[INITIAL_BACKEND_CAPACITY];

    private RawLoopIo rawIo;

    private ProxiedConnection idleHead;
    private ProxiedConnection idleTail;
    private int linked;

    TcpVipLoop(EventLoop eventLoop) {
        this.eventLoop = eventLoop;
    }

    /** Registers a raw socket's handle with this loop's epoll. On the loop, where it completes at once. */
    Future<IoRegistration> register(IoHandle handle) {
        return ((IoEventLoop) eventLoop).register(handle);
    }

    /** The raw relay's per-loop buffer and system calls, made on first use. On the loop. */
    RawLoopIo rawIo() {
        RawLoopIo io = rawIo;
        if (io == null) {
            io = new RawLoopIo();
            rawIo = io;
        }
        return io;
    }

    /** Frees the raw relay's native memory once the VIP is stopped and its connections are closed. On the loop. */
    void releaseRawIo() {
        if (rawIo != null) {
            rawIo.close();
            rawIo = null;
        }
    }

    /** Makes the per-backend arrays hold ids below {@code idLimit}. On the loop, once per new connection. */
    void ensureBackendCapacity(int idLimit) {
        if (idLimit <= connections.length) {
            return;
        }
        int size = Math.max(idLimit, connections.length * 2);
        connections = Arrays.copyOf(connections, size);
        activeByBackend = Arrays.copyOf(activeByBackend, size);
        bytesToBackend = Arrays.copyOf(bytesToBackend, size);
        bytesToClient = Arrays.copyOf(bytesToClient, size);
        connectFailures = Arrays.copyOf(connectFailures, size);
        retries = Arrays.copyOf(retries, size);
    }

    /**
     * The backend for connect attempt {@code attempt} (1 for the first retry) after a failed connect, counted as
     * a retry; or {@link ForwardingSnapshot#NO_BACKEND}, counted as a give-up, once {@code maxRetries} are spent
     * or the snapshot has no other backend. {@link ProxiedConnection} retries through this.
     */
    int retryTarget(ForwardingSnapshot snapshot, long flowHash, int firstChoice, int attempt, int maxRetries) {
        int next = fallbackTarget(snapshot, flowHash, firstChoice, attempt, maxRetries);
        if (next == ForwardingSnapshot.NO_BACKEND) {
            connectGiveUps++;
        }
        return next;
    }

    /** {@link #retryTarget} without counting a give-up (the caller counts why it gives up). */
    int fallbackTarget(ForwardingSnapshot snapshot, long flowHash, int firstChoice, int attempt, int maxRetries) {
        if (attempt <= maxRetries) {
            int next = snapshot.fallback(flowHash, firstChoice, attempt);
            if (next != ForwardingSnapshot.NO_BACKEND) {
                retries[next]++;
                return next;
            }
        }
        return ForwardingSnapshot.NO_BACKEND;
    }

    /** Counts a system call that failed for a local reason. On the loop. */
    void localError(LocalError reason) {
        localErrors[reason.ordinal()]++;
    }

    /** Adds a new connection at the tail (most recently active). */
    void link(ProxiedConnection c, long nowNs) {
        c.lastActivityNs = nowNs;
        c.idlePrev = idleTail;
        c.idleNext = null;
        if (idleTail == null) {
            idleHead = c;
        } else {
            idleTail.idleNext = c;
        }
        idleTail = c;
        c.linked = true;
        linked++;
    }

    /** Records activity on {@code c} now: moves it to the tail. */
    void touch(ProxiedConnection c, long nowNs) {
        c.lastActivityNs = nowNs;
        if (!c.linked || idleTail == c) {
            return;
        }
        unlink(c);
        link(c, nowNs);
    }

    void unlink(ProxiedConnection c) {
        if (!c.linked) {
            return;
        }
        ProxiedConnection prev = c.idlePrev;
        ProxiedConnection next = c.idleNext;
        if (prev == null) {
            idleHead = next;
        } else {
            prev.idleNext = next;
        }
        if (next == null) {
            idleTail = prev;
        } else {
            next.idlePrev = prev;
        }
        c.idlePrev = null;
        c.idleNext = null;
        c.linked = false;
        linked--;
    }

    /** Closes every connection idle for longer than {@code idleTimeoutNs}. Scheduled on the loop. */
    void sweepIdle(long nowNs, long idleTimeoutNs) {
        ProxiedConnection c = idleHead;
        while (c != null && nowNs - c.lastActivityNs >= idleTimeoutNs) {
            ProxiedConnection next = c.idleNext;
            unlink(c);
            c.closeIdle();
            c = next;
        }
    }

    /** Closes every connection of this loop at once (shutdown deadline). On the loop. */
    void closeAll() {
        ProxiedConnection c = idleHead;
        while (c != null) {
            ProxiedConnection next = c.idleNext;
            unlink(c);
            c.closeNow();
            c = next;
        }
    }

    /** Connections of this VIP on this loop (including ones waiting for a connection slot). On the loop. */
    int linkedConnections() {
        return linked;
    }

    /**
     * The backend of this loop's connection from {@code hi}:{@code lo} port {@code port}, or
     * {@link ForwardingSnapshot#NO_BACKEND} when there is none. Walks the idle list: diagnostics only (explain),
     * never per packet. On the loop.
     */
    int connectionBackend(long hi, long lo, int port) {
        for (ProxiedConnection c = idleHead; c != null; c = c.idleNext) {
            if (c.clientIs(hi, lo, port)) {
                return c.backendId();
            }
        }
        return ForwardingSnapshot.NO_BACKEND;
    }

    /**
     * Bytes this loop holds for this VIP's connections: queued toward clients and backends, plus client bytes
     * read before the backend connection was up. On the loop.
     */
    long pendingBytes() {
        long sum = 0;
        for (ProxiedConnection c = idleHead; c != null; c = c.idleNext) {
            sum += c.pendingBytes();
        }
        return sum;
    }
}
