package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.LocalError;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied connection as the VIP sees it, whichever relay engine moves its bytes: the per-loop bookkeeping
 * ({@link TcpVipLoop}'s idle list and counters, {@link ConnectionLimit}'s parking), and the backend choice and
 * connect retries, written once here for both engines: {@link RawTcpConnection} (raw sockets on the epoll loop,
 * the engine on Linux) and {@link TcpConnection} (Netty channels: the portable fallback with NIO).
 *
 * <p><b>Backend choice and retries.</b> Once the connection has a slot under {@code max_connections},
 * {@link #chooseBackend()} reads the VIP's snapshot once and picks the backend of the connection's flow hash; an
 * empty table resets the client at once. The engine opens a socket and starts the connect ({@link #connectTo});
 * it reports back exactly one of {@link #connectStarted()}, {@link #backendConnected()}, {@link #connectFailed}
 * or {@link #localFailure}. A connect that neither succeeds nor fails within {@code connect_timeout} fails here
 * ({@link #abandonConnect()}, then {@link #connectFailed}). A failed connect is counted against its backend and
 * the next fallback of the same snapshot is tried, up to {@code connect_retries}; then the client is reset. A
 * local failure (no descriptor, port or buffer) is never counted against a backend: without an ephemeral port the
 * next fallback is tried (another address has other ports); without a descriptor or buffers the client waits and
 * the same backend is tried again every {@link #LOCAL_RETRY_MS}, for up to {@code connect_timeout}.
 *
 * <p><b>Threading.</b> Everything runs on {@link #eventLoop()}, except {@link #parked}, which belongs to
 * {@link ConnectionLimit} and is guarded by its lock.
 */
abstract class ProxiedConnection {
    private static final Logger LOG = LoggerFactory.getLogger(ProxiedConnection.class);
    /** After a local error (no descriptor, no buffers) the backend socket is tried again this much later. */
    static final long LOCAL_RETRY_MS = 20;
    /** How long a client waits for a backend socket through local errors when connect_timeout is 0. */
    private static final long DEFAULT_LOCAL_WAIT_MS = 2000;

    final TcpProxyVip vip;
    final TcpVipLoop loop;

    // Idle list links, owned by the loop's TcpVipLoop.
    long lastActivityNs;
    ProxiedConnection idlePrev;
    ProxiedConnection idleNext;
    boolean linked;

    /** Set once when the limit parked this connection; read on the loop to skip the lock otherwise. */
    boolean everParked;
    /** Waiting for a connection slot. Guarded by the {@link ConnectionLimit}'s lock. */
    boolean parked;

    /** The snapshot read when the backend was chosen; serves every retry of this connection. */
    ForwardingSnapshot snapshot;
    private long flowHash;
    private int firstChoice;
    /** The backend of the current connect attempt, then of the connection. */
    int backendId = ForwardingSnapshot.NO_BACKEND;
    private int attempt;
    /** The backend connection is up; counted in {@code connections} and {@code activeByBackend}. */
    boolean connected;
    /** Closed (or closing): nothing more is started. */
    boolean closed;
    /** The connect timeout or the next local retry, whichever is pending. */
    private ScheduledFuture<?> connectTimer;
    /** When a client waiting through local errors is given up (0: not waiting). */
    private long localWaitDeadlineNs;
    private final Runnable connectTimeoutTask = this::onConnectTimeout;
    private final Runnable localRetryTask = this::onLocalRetry;

    ProxiedConnection(TcpProxyVip vip, TcpVipLoop loop) {
        this.vip = vip;
        this.loop = loop;
    }

    // ---- what each engine provides -------------------------------------------------------------------------

    /** The loop this connection (both of its sockets) lives on. */
    final EventLoop eventLoop() {
        return loop.eventLoop;
    }

    /** The flow hash of this connection ({@link TcpProxyVip#flowHash}). */
    abstract long flowHash();

    /**
     * Opens a socket to backend {@code id} of {@link #snapshot} and starts connecting; reports the outcome with
     * {@link #connectStarted()}, {@link #backendConnected()}, {@link #connectFailed} or {@link #localFailure}.
     */
    abstract void connectTo(int id);

    /** Closes the socket of a connect attempt that timed out (nothing was relayed on it). */
    abstract void abandonConnect();

    /** Resets both sides (RST) and settles the books: clients that cannot be given a backend. */
    abstract void reset();

    /** Idle timeout: closes both sides (FIN; whatever is still queued is dropped). */
    abstract void closeIdle();

    /** Closes both sides now (shutdown deadline). */
    abstract void closeNow();

    /** Whether the client end is {@code hi}:{@code lo} (IPv4 mapped) port {@code port}. On the loop; diagnostics. */
    abstract boolean clientIs(long hi, long lo, int port);

    /** The backend this connection is connected (or connecting) to, or NO_BACKEND before the choice. On the loop. */
    final int backendId() {
        return backendId;
    }

    /** Bytes this process holds for the connection (queued toward either side, or read early). */
    abstract long pendingBytes();

    /** The client's address and port, for DEBUG logs. */
    abstract String clientDescription();

    // ---- the shared life of a connection ---------------------------------------------------------------------

    /** Right after the accept, on the loop: counts the connection and chooses its backend, or parks it. */
    final void admit() {
        loop.accepted++;
        loop.active++;
        loop.link(this, System.nanoTime());
        if (vip.limit.admit(this)) {
            chooseBackend();
        }
    }

    /** Run on the loop when the connection limit hands this parked connection a slot. */
    final void startAfterPark() {
        if (!closed) {
            chooseBackend();
        }
    }

    /** Reads the VIP's snapshot once and connects to the backend of this connection's flow. */
    private void chooseBackend() {
        ForwardingSnapshot s = vip.snapshots.current();
        snapshot = s;
        loop.ensureBackendCapacity(s.idLimit());
        flowHash = flowHash();
        int id = s.backendFor(flowHash);
        if (id == ForwardingSnapshot.NO_BACKEND) {
            loop.closedNoBackend++;
            if (LOG.isDebugEnabled()) {
                LOG.debug("vip {}: no backend available for {}, resetting", vip.name(), clientDescription());
            }
            reset();
            return;
        }
        firstChoice = id;
        attemptConnect(id);
    }

    private void attemptConnect(int id) {
        backendId = id;
        connectTo(id);
    }

    /** The engine started a non-blocking connect: it must end within connect_timeout. */
    final void connectStarted() {
        if (vip.connectTimeoutMs() > 0) {
            connectTimer = loop.eventLoop.schedule(connectTimeoutTask, vip.connectTimeoutMs(), TimeUnit.MILLISECONDS);
        }
    }

    private void onConnectTimeout() {
        connectTimer = null;
        if (!closed && !connected) {
            abandonConnect();
            connectFailed("connect timed out");
        }
    }

    /** The connect to {@link #backendId} succeeded: counted for the backend. */
    final void backendConnected() {
        cancelConnectTimer();
        connected = true;
        loop.connections[backendId]++;
        loop.activeByBackend[backendId]++;
    }

    /**
     * The connect to {@link #backendId} failed (refused, unreachable, timed out); the engine has closed the socket.
     * Counted against the backend; the next fallback is tried, or the client is reset.
     */
    final void connectFailed(Object why) {
        cancelConnectTimer();
        loop.connectFailures[backendId]++;
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: connect to backend {} failed for {}: {}", vip.name(),
                    snapshot.backend(backendId).name(), clientDescription(), why);
        }
        int next = loop.retryTarget(snapshot, flowHash, firstChoice, ++attempt, vip.connectRetries);
        if (next != ForwardingSnapshot.NO_BACKEND) {
            attemptConnect(next);
            return;
        }
        reset();
    }

    /**
     * No socket to {@link #backendId} could be had for a local reason; nothing reached the backend (see the class
     * comment for what follows). The engine has closed whatever it opened.
     */
    final void localFailure(LocalError reason, Object why) {
        cancelConnectTimer();
        loop.localError(reason);
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: local error opening a socket to backend {} for {}: {}", vip.name(),
                    snapshot.backend(backendId).name(), clientDescription(), why);
        }
        if (reason == LocalError.EPHEMERAL_PORTS) {
            int next = loop.fallbackTarget(snapshot, flowHash, firstChoice, ++attempt, vip.connectRetries);
            if (next != ForwardingSnapshot.NO_BACKEND) {
                attemptConnect(next);
                return;
            }
        } else {
            long now = System.nanoTime();
            if (localWaitDeadlineNs == 0) {
                long waitMs = vip.connectTimeoutMs() > 0 ? vip.connectTimeoutMs() : DEFAULT_LOCAL_WAIT_MS;
                localWaitDeadlineNs = now + TimeUnit.MILLISECONDS.toNanos(waitMs);
            }
            if (now - localWaitDeadlineNs < 0) {
                connectTimer = loop.eventLoop.schedule(localRetryTask, LOCAL_RETRY_MS, TimeUnit.MILLISECONDS);
                return;
            }
        }
        loop.closedLocalError++;
        reset();
    }

    private void onLocalRetry() {
        connectTimer = null;
        if (!closed && !connected) {
            connectTo(backendId);
        }
    }

    private void cancelConnectTimer() {
        if (connectTimer != null) {
            connectTimer.cancel(false);
            connectTimer = null;
        }
    }

    /** Records activity now (the idle sweep closes connections without any). */
    final void touch() {
        loop.touch(this, System.nanoTime());
    }

    /**
     * The engine has closed both sockets (the backend's first, so that a slot is never handed on while its backend
     * socket is open): settles the books and gives the connection's slot back. Once per connection.
     */
    final void released() {
        cancelConnectTimer();
        if (connected) {
            loop.activeByBackend[backendId]--;
        }
        loop.active--;
        loop.unlink(this);
        vip.limit.release(this);
    }
}
