package io.maglevlb.dataplane.tcp;

import io.netty.channel.EventLoop;

/**
 * What the per-loop bookkeeping ({@link TcpVipLoop}'s idle list, {@link ConnectionLimit}'s parking) needs from
 * one proxied connection, whichever relay engine serves it: {@link TcpConnection} (Netty channels: NIO, splice)
 * or {@link RawTcpConnection} (raw sockets on the epoll loop).
 *
 * <p><b>Threading.</b> Everything runs on {@link #eventLoop()}, except {@link #parked}, which belongs to
 * {@link ConnectionLimit} and is guarded by its lock.
 */
abstract class ProxiedConnection {
    // Idle list links, owned by the loop's TcpVipLoop.
    long lastActivityNs;
    ProxiedConnection idlePrev;
    ProxiedConnection idleNext;
    boolean linked;

    /** Set once when the limit parked this connection; read on the loop to skip the lock otherwise. */
    boolean everParked;
    /** Waiting for a connection slot. Guarded by the {@link ConnectionLimit}'s lock. */
    boolean parked;

    /** The loop this connection (both of its sockets) lives on. */
    abstract EventLoop eventLoop();

    /** Run on the loop when the connection limit hands this parked connection a slot. */
    abstract void startAfterPark();

    /** Idle timeout: closes both sides (FIN; whatever is still queued is dropped). */
    abstract void closeIdle();

    /** Closes both sides now (shutdown deadline). */
    abstract void closeNow();

    /**
     * Whether the kernel moved data for this connection within the last {@code idleTimeoutNs} although the
     * relay did not see it (splice mode); when true the connection has re-linked itself.
     */
    abstract boolean sawKernelActivity(long nowNs, long idleTimeoutNs);

    /** Whether the client end is {@code hi}:{@code lo} (IPv4 mapped) port {@code port}. On the loop; diagnostics. */
    abstract boolean clientIs(long hi, long lo, int port);

    /** The backend this connection is connected (or connecting) to, or NO_BACKEND before the choice. On the loop. */
    abstract int backendId();

    /** Bytes this process holds for the connection (queued toward either side, or read early). */
    abstract long pendingBytes();
}
