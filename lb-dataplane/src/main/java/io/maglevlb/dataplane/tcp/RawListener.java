package io.maglevlb.dataplane.tcp;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.maglevlb.dataplane.DescriptorReserve;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.SocketFilters;
import io.maglevlb.dataplane.linux.UnixSocket;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VIP's listening socket on one event loop for the raw relay: bound with SO_REUSEPORT (one per loop, the
 * kernel spreads connections over them), registered with the loop's epoll level-triggered, and accepting with
 * accept4 straight into {@link RawTcpConnection}s.
 *
 * <p><b>Hand-off.</b> A reload that gives the VIP a new forwarder on the same address hands the listening socket
 * over ({@link #handOver}) instead of closing it: the socket never leaves the kernel's SO_REUSEPORT group, so no
 * connection attempt is refused and nothing waiting in its accept queue is reset. From the hand-off on, this loop
 * accepts for the new forwarder, with its settings: that includes every connection still queued at that moment.
 *
 * <p><b>Drain.</b> A forwarder a reload retires while its listeners still listen (the VIP moved to another address
 * or protocol, or was removed), and every forwarder at shutdown, drains them ({@link #drainAndWait}) instead of
 * closing them at once: closing a
 * listening socket resets every connection waiting in its accept queue, clients whose handshake the kernel had
 * already completed and who may have sent their request. A draining listener first gets a socket filter that
 * drops SYNs ({@link SocketFilters#dropTcpSyn()}: no new handshake starts on it, those under way still complete),
 * then accepts everything queued for its forwarder whatever the forwarder's {@code max_connections} (over the limit
 * a connection is parked, as one accepted in the instant the limit was reached is), and closes once its queue was
 * empty and nothing arrived for {@link #DRAIN_SETTLE_MS}. The SYNs it dropped are sent again by their clients
 * after their retransmission timeout (1 s) and meet whatever listens on the address by then: the successor's
 * listener when its address covers this one's, else a refusal.
 *
 * <p><b>Threading.</b> {@link #open}, {@link #handOverAndWait}, {@link #drainAndWait} and {@link #close} are called
 * by the control plane and wait for the loop; everything else runs on the loop. {@link #vip} and {@link #loop}
 * change only on the loop, in {@link #handOver}, so an accept always sees one owner.
 */
final class RawListener implements EpollIoHandle {
    private static final Logger LOG = LoggerFactory.getLogger(RawListener.class);
    /** Accepts per readiness event before other sockets get their turn (level-triggered: the rest come next). */
    private static final int ACCEPTS_PER_EVENT = 64;
    private static final long ERROR_PAUSE_MS = 20;
    private static final long ACCEPT_ERROR_LOG_INTERVAL_NS = TimeUnit.SECONDS.toNanos(10);
    /**
     * How long a draining listener's queue must stay empty before it closes: the time a handshake whose SYN-ACK
     * left before the SYN filter was attached has to complete (one round trip; far more than any LAN's or a
     * loopback's, a few Internet ones), and short against the client's SYN retransmission timeout (1 s), so a
     * dropped SYN sent again finds the successor's listener rather than this one's filter.
     */
    static final long DRAIN_SETTLE_MS = 200;
    /** Settle periods after which a listener that never went quiet closes anyway (10 s). */
    private static final int MAX_DRAIN_CHECKS = 50;

    // Written on the loop only (handOver); read on the loop.
    private TcpProxyVip vip;
    private TcpVipLoop loop;
    /** The loop's event loop, the same before and after a hand-off: what other threads submit to. */
    private final EventLoop eventLoop;
    private final FileDescriptor socket;
    private final int fd;
    private IoRegistration registration;
    /** Paused by max_connections. */
    private boolean limitPaused;
    /**
     * Takeover: registered but not accepting until the whole process is ready to serve ({@link #serveAndWait}),
     * so a takeover refused halfway has accepted nothing it would have to reset.
     */
    private boolean held;
    /** Paused for a moment after accept ran out of file descriptors or memory, or the reserve was reached. */
    private boolean errorPaused;
    /**
     * The backend socket of the next accepted connection, opened before it is accepted (-1: none yet); its
     * address family is {@link TcpProxyVip#spareFamily}. See {@link #handle} for why. Owned by this listener
     * until a connection takes it; closed with the listener.
     */
    private int spareFd = -1;
    /** A spare whose fd number is at or above this leaves fewer than the reserve free: see {@link #handle}. */
    private long fdCeiling;
    private boolean closed;
    /** Retiring: SYNs filtered, accepting past the limit, closing once quiet (see the class comment). */
    private boolean draining;
    /** Draining: connections accepted since the last settle check, and whether the last accept found none. */
    private int acceptedSinceCheck;
    private boolean queueSeenEmpty;
    private int drainChecks;
    /** Draining: run once when the listener closes (the forwarder forgets it). */
    private Runnable onClosed;
    private long lastAcceptErrorLogNs = System.nanoTime() - ACCEPT_ERROR_LOG_INTERVAL_NS;

    private RawListener(TcpProxyVip vip, TcpVipLoop loop, FileDescriptor socket) {
        this.vip = vip;
        this.loop = loop;
        this.eventLoop = loop.eventLoop;
        this.socket = socket;
        this.fd = socket.intValue();
        this.fdCeiling = DescriptorReserve.ceiling();
    }

    /**
     * Binds {@code address} (SO_REUSEADDR and SO_REUSEPORT), listens and registers with the loop.
     *
     * @throws IOException when the address cannot be bound
     */
    static RawListener open(TcpProxyVip vip, TcpVipLoop loop, InetSocketAddress address) throws IOException {
        return open(vip, loop, address, false);
    }

    /** As {@link #open(TcpProxyVip, TcpVipLoop, InetSocketAddress)}; {@code held}: not accepting yet. */
    static RawListener open(TcpProxyVip vip, TcpVipLoop loop, InetSocketAddress address, boolean held)
            throws IOException {
        LinuxSocket socket = LinuxSocket.newSocketStream(address.getAddress() instanceof Inet4Address
                ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6);
        try {
            socket.setReuseAddress(true);
            socket.setReusePort(true);
            // Accepted sockets inherit TCP_NODELAY from the listener (Linux copies the listener's TCP state
            // into each child), which saves a setsockopt per connection.
            socket.setTcpNoDelay(true);
            socket.bind(address);
            socket.listen(NetUtil.SOMAXCONN);
            RawListener listener = new RawListener(vip, loop, socket);
            listener.held = held;
            return register(listener);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Takeover: a listener on {@code fd}, a listening socket another process bound (and still holds), registered
     * with the loop but not accepting until {@link #serveAndWait()}. This listener owns {@code fd} from then on
     * (closed with it, also when this fails).
     */
    static RawListener adopt(TcpProxyVip vip, TcpVipLoop loop, int fd) throws IOException {
        FileDescriptor socket = new FileDescriptor(fd);
        try {
            RawListener listener = new RawListener(vip, loop, socket);
            listener.held = true;
            return register(listener);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private static RawListener register(RawListener listener) throws IOException {
        Future<?> registered = listener.eventLoop.submit(() -> {
            listener.register();
            return null;
        }).awaitUninterruptibly();
        if (!registered.isSuccess()) {
            throw new IOException("could not register the listener with its event loop", registered.cause());
        }
        return listener;
    }

    private void register() throws Exception {
        Future<IoRegistration> f = loop.register(this).sync();
        registration = f.getNow();
        registration.submit(held ? EpollIoOps.NONE : EpollIoOps.EPOLLIN);
    }

    /** Takeover: starts accepting (what waits in the queue too). Waits for the loop. */
    void serveAndWait() {
        eventLoop.submit(() -> {
            held = false;
            updateInterest();
        }).awaitUninterruptibly();
    }

    /** The bound address (the port resolved when 0 was asked for). */
    InetSocketAddress localAddress() throws IOException {
        return UnixSocket.localAddress(fd);
    }

    /** The listening socket's descriptor (handed to a successor process at a takeover; it stays this one's). */
    int fdNumber() {
        return fd;
    }

    /**
     * max_connections paused or resumed accepting: applies {@link ConnectionLimit#accepting()} of the forwarder
     * that owns this listener when the task runs. New connections wait in the kernel's queue meanwhile. Any
     * thread. A switch queued before a hand-off applies the successor's state, never the old owner's.
     */
    void limitSwitched() {
        eventLoop.execute(this::applyLimit);
    }

    /** Reads the limit's current state (not the one of the switch that asked), so late tasks do no harm. */
    private void applyLimit() {
        limitPaused = !draining && !vip.limit.accepting();
        updateInterest();
    }

    /**
     * Gives this listening socket to {@code successor} (its loop {@code successorLoop} runs on the same event
     * loop): the socket stays open and registered, and the next accept is the successor's. Waits for the loop.
     */
    void handOverAndWait(TcpProxyVip successor, TcpVipLoop successorLoop) {
        if (successorLoop.eventLoop != eventLoop) {
            throw new IllegalArgumentException("a listener can only be handed to a forwarder on its own event loop");
        }
        eventLoop.submit(() -> handOver(successor, successorLoop)).awaitUninterruptibly();
    }

    /** On the loop. The successor starts with its own connection limit, so a limit pause does not carry over. */
    private void handOver(TcpProxyVip successor, TcpVipLoop successorLoop) {
        vip = successor;
        loop = successorLoop;
        limitPaused = false;
        updateInterest();
    }

    /**
     * Starts draining (see the class comment) and waits until the SYN filter is attached and the queue was
     * emptied once; the listener then closes by itself, on its loop, and runs {@code onClosed} there. Any thread
     * but the loop.
     */
    void drainAndWait(Runnable onClosed) {
        eventLoop.submit(() -> startDrain(onClosed)).awaitUninterruptibly();
    }

    private void startDrain(Runnable whenClosed) {
        if (closed) {
            whenClosed.run();
            return;
        }
        onClosed = whenClosed;
        LinuxNative sys = loop.rawIo().sys;
        if (sys.attachFilter(fd, SocketFilters.dropTcpSyn()) != 0) {
            LOG.warn("vip {}: cannot stop new handshakes on a retiring listener ({}); it still accepts what is "
                    + "queued and closes once that stays empty", vip.name(), LinuxNative.describe(sys.errno()));
        }
        draining = true;
        limitPaused = false;
        updateInterest();
        handle(registration, null);
        eventLoop.schedule(this::drainCheck, DRAIN_SETTLE_MS, TimeUnit.MILLISECONDS);
    }

    /** On the loop, every {@link #DRAIN_SETTLE_MS} while draining: closes once the queue stayed empty. */
    private void drainCheck() {
        if (closed) {
            return;
        }
        handle(registration, null);
        boolean quiet = queueSeenEmpty && acceptedSinceCheck == 0 && !errorPaused;
        if (quiet || ++drainChecks >= MAX_DRAIN_CHECKS) {
            if (!quiet) {
                LOG.warn("vip {}: a retiring listener still had connections arriving after {} ms; closing it",
                        vip.name(), DRAIN_SETTLE_MS * MAX_DRAIN_CHECKS);
            }
            close();
            return;
        }
        acceptedSinceCheck = 0;
        eventLoop.schedule(this::drainCheck, DRAIN_SETTLE_MS, TimeUnit.MILLISECONDS);
    }

    /** The event loop this listener accepts on. */
    EventLoop eventLoop() {
        return eventLoop;
    }

    private void updateInterest() {
        if (!closed) {
            // NONE leaves the fd registered with no interest (see EpollEmptyInterestWorkaround).
            registration.submit(limitPaused || errorPaused || held ? EpollIoOps.NONE : EpollIoOps.EPOLLIN);
        }
    }

    /** Closes the socket: the kernel refuses new connections from then on. Waits for the loop. */
    void closeAndWait() {
        if (eventLoop.inEventLoop()) {
            close();
        } else {
            eventLoop.submit(this::close).awaitUninterruptibly();
        }
    }

    @Override
    public FileDescriptor fd() {
        return socket;
    }

    /**
     * Accepts what is queued, up to {@link #ACCEPTS_PER_EVENT}.
     *
     * <p><b>Descriptors.</b> Each client needs two descriptors here: its own and its backend socket's. Accepting
     * a client for which no backend socket can be had would only let it be reset, and counted against a backend
     * that did nothing wrong. So the backend socket is opened <em>before</em> the accept (the same socket() call
     * the connect would make, only earlier) and handed to the connection. When it cannot be opened, or its fd
     * number shows that fewer than {@link DescriptorReserve} descriptors would be left (Linux hands out the
     * lowest free number, so fd {@code n} means 0..n are all in use), the listener stops reading for
     * {@link #ERROR_PAUSE_MS} and tries again: clients wait in the kernel's accept queue meanwhile, nothing
     * spins, and the rest of the process (health checks, the admin API, metrics) keeps the reserve.
     */
    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        RawLoopIo io = loop.rawIo();
        LinuxNative sys = io.sys;
        for (int i = 0; i < ACCEPTS_PER_EVENT && !limitPaused && !errorPaused && !held && !closed; i++) {
            if (!draining && vip.limit.full()) {
                // Another loop (or this one) reached max_connections; its pause may not have arrived yet. Pause
                // now so that no more than one connection per loop is accepted past the limit (ConnectionLimit).
                vip.limit.pauseIfFull();
                applyLimit();
                continue;
            }
            if (spareFd < 0 && !openSpare(sys)) {
                return;
            }
            io.sockaddrLength.set(JAVA_INT, 0, (int) io.sockaddr.byteSize());
            int client = sys.accept4(fd, io.sockaddr, io.sockaddrLength,
                    LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC);
            if (client >= 0) {
                int backendFd = spareFd;
                spareFd = -1;
                new RawTcpConnection(vip, loop, client, io.sockaddr, backendFd).accepted();
                acceptedSinceCheck++;
                queueSeenEmpty = false;
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN) {
                queueSeenEmpty = true;
                return;
            }
            if (errno == LinuxNative.EINTR || errno == LinuxNative.ECONNABORTED) {
                continue;
            }
            // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of resources. The connection stays queued; level-triggered
            // epoll would report the socket again at once, so accepting pauses for a moment (as HAProxy does).
            LocalError reason = LocalError.ofErrno(errno);
            if (reason != null) {
                loop.localError(reason);
            }
            pauseForResources("accept failed: " + LinuxNative.describe(errno));
            return;
        }
    }

    /** Opens the next connection's backend socket; false (and paused) when none can be had. */
    private boolean openSpare(LinuxNative sys) {
        int s = sys.socket(vip.spareFamily, LinuxNative.SOCK_STREAM | LinuxNative.SOCK_NONBLOCK
                | LinuxNative.SOCK_CLOEXEC, 0);
        if (s < 0) {
            int errno = sys.errno();
            LocalError reason = LocalError.ofErrno(errno);
            loop.localError(reason != null ? reason : LocalError.BUFFERS);
            pauseForResources("cannot open a backend socket: " + LinuxNative.describe(errno));
            return false;
        }
        if (s >= fdCeiling) {
            fdCeiling = DescriptorReserve.ceiling(); // the limit may have been raised meanwhile (prlimit)
            if (s >= fdCeiling) {
                closeFd(s);
                loop.localError(LocalError.FD_LIMIT);
                pauseForResources("fewer than " + DescriptorReserve.reserve() + " file descriptors left (limit "
                        + DescriptorReserve.limit() + ")");
                return false;
            }
        }
        spareFd = s;
        return true;
    }

    /** Stops reading for {@link #ERROR_PAUSE_MS}; logs at most every 10 s. */
    private void pauseForResources(String why) {
        long now = System.nanoTime();
        if (now - lastAcceptErrorLogNs >= ACCEPT_ERROR_LOG_INTERVAL_NS) {
            lastAcceptErrorLogNs = now;
            LOG.warn("vip {}: {}; clients wait in the listen queue, accepting again in {} ms", vip.name(), why,
                    ERROR_PAUSE_MS);
        }
        errorPaused = true;
        updateInterest();
        loop.eventLoop.schedule(() -> {
            errorPaused = false;
            updateInterest();
        }, ERROR_PAUSE_MS, TimeUnit.MILLISECONDS);
    }

    private static void closeFd(int fd) {
        try {
            new FileDescriptor(fd).close();
        } catch (IOException e) {
            LOG.debug("close of fd {} failed", fd, e);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (spareFd >= 0) {
            closeFd(spareFd);
            spareFd = -1;
        }
        // Out of epoll first, while the descriptor is open: after a takeover another process holds the same socket,
        // so close() alone would leave it in this loop's epoll set (epoll drops a file only when its last
        // descriptor closes), reporting connections this process can no longer accept.
        if (registration != null) {
            registration.cancel();
        }
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("vip {}: closing a listener failed", vip.name(), e);
        }
        Runnable whenClosed = onClosed;
        if (whenClosed != null) {
            onClosed = null;
            whenClosed.run();
        }
    }
}
