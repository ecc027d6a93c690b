package io.maglevlb.dataplane.tcp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;
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

    // Per-backend counters, indexed by backend id; grown on this loop when a snapshot has larger ids.
    long[] connections = new long[INITIAL_BACKEND_CAPACITY];
    long[] activeByBackend = new long[INITIAL_BACKEND_CAPACITY];
    long[] bytesToBackend = new long[INITIAL_BACKEND_CAPACITY];
    long[] bytesToClient = new long[INITIAL_BACKEND_CAPACITY];
    long[] connectFailures = new long[INITIAL_BACKEND_CAPACITY];
    long[] retries = new long[INITIAL_BACKEND_CAPACITY];

    private TcpConnection idleHead;
    private TcpConnection idleTail;
    private int linked;

    TcpVipLoop(EventLoop eventLoop) {
        this.eventLoop = eventLoop;
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

    /** Adds a new connection at the tail (most recently active). */
    void link(TcpConnection c, long nowNs) {
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
    void touch(TcpConnection c, long nowNs) {
        c.lastActivityNs = nowNs;
        if (!c.linked || idleTail == c) {
            return;
        }
        unlink(c);
        link(c, nowNs);
    }

    void unlink(TcpConnection c) {
        if (!c.linked) {
            return;
        }
        TcpConnection prev = c.idlePrev;
        TcpConnection next = c.idleNext;
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
        TcpConnection c = idleHead;
        while (c != null && nowNs - c.lastActivityNs >= idleTimeoutNs) {
            TcpConnection next = c.idleNext;
            unlink(c);
            if (!c.sawKernelActivity(nowNs, idleTimeoutNs)) {
                c.closeIdle();
            }
            c = next;
        }
    }

    /** Closes every connection of this loop at once (shutdown deadline). On the loop. */
    void closeAll() {
        TcpConnection c = idleHead;
        while (c != null) {
            TcpConnection next = c.idleNext;
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
     * Bytes this loop holds for this VIP's connections: queued toward clients and backends, plus client bytes
     * read before the backend connection was up. On the loop.
     */
    long pendingBytes() {
        long sum = 0;
        for (TcpConnection c = idleHead; c != null; c = c.idleNext) {
            sum += pendingWrites(c.frontend) + pendingWrites(c.backend) + c.earlyBytes();
        }
        return sum;
    }

    private static long pendingWrites(Channel ch) {
        if (ch == null) {
            return 0;
        }
        ChannelOutboundBuffer buffer = ch.unsafe().outboundBuffer();
        return buffer == null ? 0 : buffer.totalPendingWriteBytes();
    }
}
