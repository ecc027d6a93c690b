package io.maglevlb.dataplane.tcp;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied TCP connection relayed on raw sockets: the client socket accepted by a {@link RawListener} and the
 * backend socket opened for it, both registered directly with the event loop's epoll (Netty's
 * {@code EpollIoHandler}) and driven with plain system calls through FFM. The one engine with epoll; the portable
 * engine ({@link TcpConnection}) serves NIO. Backend choice and connect retries are {@link ProxiedConnection}'s.
 *
 * <p><b>Why.</b> A Netty channel costs some twenty system calls per connection beyond the relay's own
 * (address and option queries on construction, an epoll_ctl per interest change, SO_LINGER checks and
 * EPOLL_CTL_DEL on close, shutdown(SHUT_RD) on every half-close) and an exception with a stack trace per
 * output shutdown. Here a connection's life is: socket (opened before the accept), accept4 (TCP_NODELAY comes from
 * the listener), TCP_NODELAY, connect, then at once, without waiting for epoll, a recv of the client's first bytes
 * and a send of them to the backend (see {@link #connectTo}), one EPOLL_CTL_ADD per socket, edge-triggered, then
 * recv/send as epoll reports readiness, and close, which also drops the fd from epoll.
 *
 * <p><b>Speculative connect.</b> As HAProxy does, the relay does not wait for epoll to report the backend
 * connected before it sends: on loopback (and wherever the backend answers the SYN within the connect call) the
 * send right after connect succeeds, which also says the connection is up. So a short request costs three trips
 * through epoll instead of four, and no connect timer. Where the handshake is still under way the send answers
 * EAGAIN and the bytes read are held (one read at most) until EPOLLOUT; where the connect was refused they go with
 * the retry to the next backend.
 *
 * <p><b>Interest.</b> Sockets are registered once, after the speculative I/O (so the registration itself reports
 * any edge that came before it), for input only: a writable socket registered with EPOLLOUT would report an event
 * at once and make the loop's next wait return without sleeping. EPOLLOUT is added with one EPOLL_CTL_MOD the first
 * time a write to that side falls short, and kept; a backend still connecting is registered with it from the start.
 *
 * <p><b>Relay.</b> Edge-triggered epoll reports each readiness change once, so each side remembers whether it
 * is readable and writable. Bytes go from one side's socket through the loop's shared buffer
 * ({@link RawLoopIo}) straight into the other side's socket. What the other side cannot take at once is
 * copied into a buffer owned by that side, and the source is not read again until that buffer is written out:
 * per direction a connection holds at most one read (64 KiB) in this process when a peer stops reading.
 *
 * <p><b>Half-close.</b> When one side ends its input (FIN), the other side's output is shut once everything
 * owed to it is written, so the FIN travels through. When both directions have ended both sockets are closed
 * (the last FIN is sent by close()). Errors and resets on one side reset the other (SO_LINGER 0), as does
 * giving up on backends.
 *
 * <p><b>Threading.</b> Everything runs on the loop of the listener that accepted the connection.
 */
final class RawTcpConnection extends ProxiedConnection {
    private static final Logger LOG = LoggerFactory.getLogger(RawTcpConnection.class);

    /** Every event either side can need, edge-triggered. */
    static final EpollIoOps INTEREST = EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLOUT).with(EpollIoOps.EPOLLRDHUP)
            .with(EpollIoOps.EPOLLET);
    /**
     * What a connected socket is registered with until a write to it would block: without EPOLLOUT, since a
     * socket registered writable (they all start so) would otherwise report an event at once, which costs an
     * epoll wait that returns at once instead of sleeping. EPOLLOUT is added (one EPOLL_CTL_MOD, for the rest of the
     * connection's life) the first time a write falls short; the MOD reports it at once if the socket became
     * writable meanwhile, so no edge is lost.
     */
    static final EpollIoOps INTEREST_IN = EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP).with(EpollIoOps.EPOLLET);
    private static final int EV_IN = EpollIoOps.EPOLLIN.value();
    private static final int EV_OUT = EpollIoOps.EPOLLOUT.value();
    private static final int EV_RDHUP = EpollIoOps.EPOLLRDHUP.value();
    private static final int EV_ERR = EpollIoOps.EPOLLERR.value();
    private static final int EV_HUP = 0x10; // EPOLLHUP: not among Netty's EpollIoOps constants
    /** Reads per side per turn before yielding the loop to other connections (then resumed by a task). */
    private static final int READS_PER_TURN = 16;
    private static final int NODELAY_ON = 1;
    /**
     * Capacity asked for each splice pipe, and so the most one splice moves: four times the relay buffer, because
     * each system call is dear on a paravirtualised guest (256 KiB measured 0.79 x the CPU per GB of 64 KiB, see
     * docs/benchmarks.md). The bytes stay the kernel's (socket pages the pipe refers to), none in this process.
     */
    static final int PIPE_SIZE = 256 * 1024;
    /** A new pipe's capacity (16 pages). */
    private static final int DEFAULT_PIPE_SIZE = 64 * 1024;

    private final RawLoopIo io;
    private final Side front;
    private Side back;
    private final long clientHi;
    private final long clientLo;
    private final int clientPort;

    private boolean pumpScheduled;
    /**
     * Client bytes read before a backend connection was up that no backend has taken yet (one read at most, behind
     * the PROXY header when the VIP sends one), or null. They go with every connect attempt, retries included,
     * until one takes them; then they become the backend side's {@code pending}. Pooled; released on close.
     */
    private ByteBuf early;
    /** How many of {@link #early}'s bytes are the client's (not the header): counted for the backend that takes them. */
    private int earlyClientBytes;
    /** The backend socket opened by the listener before the accept (-1 once used or closed); see RawListener. */
    private int spareFd;
    private final Runnable pumpTask = this::scheduledPump;

    /**
     * @param clientFd the accepted, non-blocking socket
     * @param peer its peer's sockaddr as accept4 filled it in ({@code io.sockaddr})
     * @param spareFd an open socket of family {@link TcpProxyVip#spareFamily} for the backend, or -1; this
     *     connection owns it from now on
     */
    RawTcpConnection(TcpProxyVip vip, TcpVipLoop loop, int clientFd, MemorySegment peer, int spareFd) {
        super(vip, loop);
        this.spareFd = spareFd;
        this.io = loop.rawIo();
        this.front = new Side(clientFd, true);
        short family = peer.get(JAVA_SHORT, 0);
        this.clientPort = Short.toUnsignedInt(peer.get(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2));
        if (family == LinuxNative.AF_INET) {
            clientHi = FlowHash.v4Hi();
            clientLo = FlowHash.v4Lo(peer.get(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), 4));
        } else {
            // IPv4-mapped addresses come out as ::ffff:a.b.c.d, the form FlowHash already uses for IPv4.
            clientHi = peer.get(JAVA_LONG.withOrder(ByteOrder.BIG_ENDIAN), 8);
            clientLo = peer.get(JAVA_LONG.withOrder(ByteOrder.BIG_ENDIAN), 16);
        }
    }

    /**
     * Right after accept4, on the loop: chooses a backend (or parks) and starts connecting, which reads the client's
     * first bytes and sends them at once where it can ({@link #connectTo}); only then is the client socket
     * registered with epoll, so an edge that came before the registration is reported by it.
     */
    void accepted() {
        // TCP_NODELAY came with the socket: the listener has it set (see RawListener.open).
        if (vip.delayedAck.client()) {
            io.sys.setsockoptIntFast(front.fd, LinuxNative.IPPROTO_TCP, LinuxNative.TCP_QUICKACK, 0);
        }
        admit();
        if (!closed && front.registration == null && !register(front)) {
            closeBoth(true); // epoll could not take the socket (memory, max_user_watches)
        }
    }

    @Override
    boolean clientIs(long hi, long lo, int port) {
        return clientPort == port && clientLo == lo && clientHi == hi;
    }

    @Override
    long flowHash() {
        return vip.flowHash(clientHi, clientLo, clientPort);
    }

    @Override
    void connectTo(int id) {
        MemorySegment target = io.backendSockaddr(snapshot, id);
        int family = target.get(JAVA_SHORT, 0);
        LinuxNative sys = io.sys;
        int fd = spareFd;
        spareFd = -1;
        if (fd >= 0 && family != vip.spareFamily) {
            closeFd(fd);
            fd = -1;
        }
        if (fd < 0) {
            fd = sys.socket(family, LinuxNative.SOCK_STREAM | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                localFailure(sys.errno()); // nothing was sent to the backend: not its failure
                return;
            }
        }
        sys.setsockoptIntFast(fd, LinuxNative.IPPROTO_TCP, LinuxNative.TCP_NODELAY, NODELAY_ON);
        Side b = new Side(fd, false);
        back = b;
        int r = sys.connect(fd, target, (int) target.byteSize());
        if (r < 0 && sys.errno() != LinuxNative.EINPROGRESS) {
            attemptFailed(sys.errno());
            return;
        }
        // Speculative I/O, as HAProxy does: read the client's first bytes and send them at once, without a trip
        // through epoll. On loopback (and any backend that answers the SYN within the connect call) the handshake
        // is already complete when connect returns EINPROGRESS, so the send succeeds: the backend is connected.
        // A socket still in SYN_SENT answers EAGAIN (one system call lost; the bytes are kept and wait for
        // EPOLLOUT as before), and a refused connect answers its error (the bytes go with the retry).
        long fresh = readFirst();
        if (fresh < 0) {
            return; // the client failed: both closed
        }
        if (fresh > 0 && vip.proxyProtocolV2) {
            holdEarly(fresh); // the header must go first: both in one buffer, one send
            fresh = 0;
        }
        long length = early != null ? early.readableBytes() : fresh;
        if (length > 0) {
            long address = early != null ? early.memoryAddress() + early.readerIndex() : io.bufferAddress;
            long w;
            do {
                w = sys.sendAt(fd, address, length, LinuxNative.MSG_NOSIGNAL);
            } while (w < 0 && sys.errno() == LinuxNative.EINTR);
            if (w > 0) {
                if (!register(b)) {
                    closeBoth(true); // bytes went to the backend: no quiet retry is possible any more
                    return;
                }
                connected(fresh, w);
                return;
            }
            int errno = sys.errno();
            if (fresh > 0) {
                holdEarly(fresh); // kept for EPOLLOUT, or for the next attempt
            }
            if (errno != LinuxNative.EAGAIN) {
                attemptFailed(errno); // ECONNREFUSED and the like: the connect itself failed
                return;
            }
        }
        b.outInterest = r != 0; // EPOLLOUT is what says the connect completed
        if (!register(b)) {
            dropBackendSocket();
            localFailure(LocalError.ENOMEM); // epoll could not take the socket (memory, max_user_watches)
            return;
        }
        if (r == 0) {
            connected(0, 0);
        } else {
            connectStarted();
        }
    }

    /** The connect attempt failed with {@code errno}: closes its socket and reports why (local or the backend's). */
    private void attemptFailed(int errno) {
        dropBackendSocket();
        if (LocalError.ofErrno(errno) != null) {
            localFailure(errno);
        } else {
            connectFailed(LinuxNative.describe(errno));
        }
    }

    /**
     * Reads the client's first bytes into the loop's buffer while a connect is under way: the count read (0 when
     * none), or -1 when the client socket failed (then both sides are reset). Only when no early bytes are held and
     * the client may have some: right after accept4 (not registered with epoll yet), or when an edge since said so.
     * One read at most, so at most one buffer is ever held for a connection that is not connected yet.
     */
    private long readFirst() {
        if (early != null || front.inputDone || (front.registration != null && !front.readable)) {
            return 0;
        }
        long n = io.sys.recvAt(front.fd, io.bufferAddress, RawLoopIo.BUFFER_SIZE, 0);
        if (n > 0) {
            if (n < RawLoopIo.BUFFER_SIZE && !front.peerClosed) {
                front.readable = false; // drained until the next edge (or, unregistered, until registration)
            }
            return n;
        }
        if (n == 0) {
            front.readable = false;
            front.inputDone = true; // relayed on as a FIN once connected
            return 0;
        }
        int errno = io.sys.errno();
        if (errno == LinuxNative.EAGAIN) {
            front.readable = false;
        } else if (errno != LinuxNative.EINTR) {
            failed(front, errno);
            return -1;
        }
        return 0;
    }

    /** Keeps the {@code fresh} bytes just read into the loop's buffer as {@link #early}, behind the PROXY header. */
    private void holdEarly(long fresh) {
        int header = vip.proxyProtocolV2 ? ProxyProtocolV2.MAX_LENGTH : 0;
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(header + (int) fresh); // direct: sent by address
        if (vip.proxyProtocolV2) {
            ProxyProtocolV2.encode(buf, clientAddress(), vipAddress());
        }
        buf.writeBytes(io.buffer.asByteBuffer().limit((int) fresh));
        early = buf;
        earlyClientBytes = (int) fresh;
    }

    private void localFailure(int errno) {
        LocalError reason = LocalError.ofErrno(errno);
        localFailure(reason != null ? reason : LocalError.BUFFERS, LinuxNative.describe(errno));
    }

    private void dropBackendSocket() {
        if (back != null) {
            closeSide(back, false);
            back = null;
        }
    }

    @Override
    void abandonConnect() {
        dropBackendSocket();
    }

    private boolean register(Side side) {
        Future<IoRegistration> f = loop.register(side);
        if (!f.isSuccess()) {
            LOG.warn("vip {}: could not register a socket with the event loop: {}", vip.name(), f.cause());
            return false;
        }
        side.registration = f.getNow();
        // submit returns the ops value, negative here (EPOLLET is the sign bit); -1 only when cancelled.
        side.registration.submit(side.outInterest ? INTEREST : INTEREST_IN);
        return side.registration.isValid();
    }

    /** A write to {@code side} fell short: from now on epoll reports when it can take more (see INTEREST_IN). */
    private void notWritable(Side side) {
        side.writable = false;
        if (!side.outInterest) {
            side.outInterest = true;
            if (side.registration != null) {
                side.registration.submit(INTEREST);
            }
        }
    }

    /**
     * The backend connection is up. {@code sent} bytes of the first ones went with the speculative send: of
     * {@link #early} when it is held, else of the {@code fresh} bytes in the loop's buffer. What is left of them is
     * owed to the backend before anything else.
     */
    private void connected(long fresh, long sent) {
        backendConnected();
        back.writable = true;
        if (vip.delayedAck.backend()) {
            // Only now: with quick ACKs off before connect, the handshake's last ACK would wait for data to ride
            // on (up to 200 ms), and a server-first backend (SMTP, SSH) could not accept and greet meanwhile.
            io.sys.setsockoptIntFast(back.fd, LinuxNative.IPPROTO_TCP, LinuxNative.TCP_QUICKACK, 0);
        }
        ByteBuf owed = early;
        if (owed != null) {
            early = null;
            loop.bytesToBackend[backendId] += earlyClientBytes;
            earlyClientBytes = 0;
            owed.skipBytes((int) sent);
            if (owed.isReadable()) {
                back.pending = owed; // the header (if any) came first in it
            } else {
                owed.release();
            }
        } else if (fresh > 0) {
            loop.bytesToBackend[backendId] += fresh;
            if (sent < fresh) {
                back.pending = PooledByteBufAllocator.DEFAULT.directBuffer((int) (fresh - sent));
                back.pending.writeBytes(io.buffer.asByteBuffer().position((int) sent).limit((int) fresh));
            }
        } else if (vip.proxyProtocolV2) {
            ByteBuf header = PooledByteBufAllocator.DEFAULT.directBuffer(ProxyProtocolV2.MAX_LENGTH);
            ProxyProtocolV2.encode(header, clientAddress(), vipAddress());
            back.pending = header; // sent first by the pump, before any client byte
        }
        if (sent > 0 && back.pending != null) {
            notWritable(back); // the kernel took less than offered: EPOLLOUT says when it takes more
        }
        touch();
        pump();
    }

    // ---- events and relay ------------------------------------------------------------------------------------

    private void onEvent(Side side, int events) {
        if (closed) {
            return;
        }
        if (side == back && !connected) {
            if ((events & (EV_ERR | EV_HUP)) != 0) {
                int errno = socketError(back);
                dropBackendSocket();
                connectFailed(LinuxNative.describe(errno));
                return;
            }
            if ((events & EV_OUT) == 0) {
                return;
            }
            connected(0, 0);
            if (closed) {
                return;
            }
        } else if (side == front && !connected && (events & (EV_ERR | EV_HUP)) != 0) {
            closeBoth(true); // the client reset or vanished before a backend was reached
            return;
        } else if (side == front && !connected && (events & (EV_IN | EV_RDHUP)) != 0) {
            if ((events & EV_RDHUP) != 0) {
                front.peerClosed = true;
            }
            front.readable = true;
            if (back != null) {
                // Connecting: take the first bytes now (one read at most), to go out the moment it is up, or with
                // the retry. Parked or between local retries: they wait in the socket.
                long n = readFirst();
                if (n > 0) {
                    holdEarly(n);
                }
            }
            return;
        }
        if ((events & (EV_IN | EV_RDHUP | EV_HUP | EV_ERR)) != 0) {
            side.readable = true;
            if ((events & (EV_RDHUP | EV_HUP | EV_ERR)) != 0) {
                side.peerClosed = true;
            }
            if ((events & EV_ERR) != 0) {
                side.failedSeen = true;
            }
        }
        if ((events & (EV_OUT | EV_ERR | EV_HUP)) != 0) {
            side.writable = true;
        }
        pump();
    }

    /** Moves whatever can move both ways. Nothing before the backend is connected: client bytes wait in its socket. */
    private void pump() {
        if (!connected || closed) {
            return;
        }
        boolean moved = relay(front, back);
        if (!closed) {
            moved |= relay(back, front);
        }
        if (moved && !closed) {
            touch();
        }
    }

    private void scheduledPump() {
        pumpScheduled = false;
        pump();
    }

    /** One direction, {@code src} to {@code dst}. Returns whether any byte moved. */
    private boolean relay(Side src, Side dst) {
        if (dst.pending != null && !flushPending(dst)) {
            return false; // dst is still full: src waits (backpressure)
        }
        if (dst.piped > 0 && !flushPipe(dst)) {
            return false; // the same, for bytes waiting in dst's pipe
        }
        if (closed) {
            return false;
        }
        if (src.inputDone) {
            endOutput(dst);
            return false;
        }
        if (dst.pipeWrite >= 0) {
            return splice(src, dst, false);
        }
        LinuxNative sys = io.sys;
        boolean moved = false;
        for (int reads = 0; src.readable; reads++) {
            if (reads == READS_PER_TURN) {
                schedulePump(); // edge-triggered: nothing would wake this side again
                return moved;
            }
            long n = sys.recvAt(src.fd, io.bufferAddress, RawLoopIo.BUFFER_SIZE, 0);
            if (n > 0) {
                moved = true;
                count(src, n);
                // A short read drains the socket: TCP hands over all it holds. If the peer's FIN had already
                // arrived when epoll reported it (and no error came with it), nothing can follow these bytes, so
                // the read that would return 0 is skipped and the FIN is sent on with them (see send).
                boolean last = n < RawLoopIo.BUFFER_SIZE && src.peerClosed && !src.failedSeen;
                if (n < RawLoopIo.BUFFER_SIZE && !src.peerClosed) {
                    // Drained until the next edge. Not so once the peer has closed: its FIN may have come with
                    // the last bytes and brings no edge of its own, so the next read must see the end (or the
                    // shortcut above applies).
                    src.readable = false;
                }
                long written = send(dst, io.bufferAddress, n, last);
                if (written < 0) {
                    return moved; // reset: both sides closed
                }
                if (last) {
                    src.readable = false;
                    src.inputDone = true;
                }
                if (written < n) {
                    dst.pending = PooledByteBufAllocator.DEFAULT.directBuffer((int) (n - written));
                    dst.pending.writeBytes(io.buffer.asByteBuffer().position((int) written).limit((int) n));
                    return moved; // endOutput runs once pending is written out (relay checks inputDone)
                }
                if (last) {
                    endOutput(dst);
                    return moved;
                }
                if (n == RawLoopIo.BUFFER_SIZE && vip.splice && openPipe(dst)) {
                    return splice(src, dst, true); // a read that filled the buffer: a bulk direction
                }
                continue;
            }
            if (n == 0) {
                src.readable = false;
                src.inputDone = true;
                endOutput(dst);
                return moved;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN) {
                src.readable = false;
            } else if (errno != LinuxNative.EINTR) {
                failed(src, errno);
                return moved;
            }
        }
        return moved;
    }

    /**
     * One direction of a bulk transfer, {@code src} to {@code dst} through {@code dst}'s pipe: splice(2) moves the
     * socket's pages into the pipe and from the pipe into the other socket, so no byte is copied into this process
     * or out of it. Called with {@code dst}'s pipe empty. Returns whether any byte moved ({@code movedBefore} or now).
     */
    private boolean splice(Side src, Side dst, boolean movedBefore) {
        LinuxNative sys = io.sys;
        boolean moved = movedBefore;
        for (int reads = 0; src.readable; reads++) {
            if (reads == READS_PER_TURN) {
                schedulePump(); // edge-triggered: nothing would wake this side again
                return moved;
            }
            // A short splice does not mean the socket is drained (the pipe may have run out of slots first), so
            // this reads on until EAGAIN.
            long n = sys.splice(src.fd, dst.pipeWrite, dst.pipeSize,
                    LinuxNative.SPLICE_F_MOVE | LinuxNative.SPLICE_F_NONBLOCK);
            if (n > 0) {
                moved = true;
                count(src, n);
                dst.piped = n;
                if (!flushPipe(dst)) {
                    return moved; // dst is full (or failed): src waits until the pipe is written out
                }
                continue;
            }
            if (n == 0) {
                src.readable = false;
                src.inputDone = true;
                endOutput(dst);
                return moved;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN) {
                src.readable = false; // the pipe is empty here, so EAGAIN is the socket's
            } else if (errno != LinuxNative.EINTR) {
                failed(src, errno);
                return moved;
            }
        }
        return moved;
    }

    /** Writes {@code dst}'s pipe out into its socket. True when the pipe is empty. */
    private boolean flushPipe(Side dst) {
        LinuxNative sys = io.sys;
        while (dst.writable) {
            long w = sys.splice(dst.pipeRead, dst.fd, dst.piped, LinuxNative.SPLICE_F_MOVE | LinuxNative.SPLICE_F_NONBLOCK);
            if (w > 0) {
                dst.piped -= w;
                if (dst.piped == 0) {
                    return true;
                }
                notWritable(dst); // a short splice into a socket: its buffer is full, EPOLLOUT follows
                return false;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN) {
                notWritable(dst);
            } else if (errno != LinuxNative.EINTR) {
                failed(dst, errno);
                return false;
            }
        }
        return false;
    }

    /**
     * Gives {@code dst} a pipe for bulk transfers toward it, once per connection and side: false when it cannot
     * have one (no descriptors, or fewer than the reserve would be left: then it stays on the buffer path).
     */
    private boolean openPipe(Side dst) {
        if (dst.noPipe) {
            return false;
        }
        dst.noPipe = true; // one attempt per side
        LinuxNative sys = io.sys;
        if (sys.pipe2At(io.pipeFds.address(), LinuxNative.O_NONBLOCK | LinuxNative.O_CLOEXEC) < 0) {
            return false;
        }
        int r = io.pipeFds.get(JAVA_INT, 0);
        int w = io.pipeFds.get(JAVA_INT, 4);
        if (!io.belowDescriptorReserve(Math.max(r, w))) {
            sys.closeFd(r);
            sys.closeFd(w);
            return false;
        }
        dst.pipeRead = r;
        dst.pipeWrite = w;
        // Refused (EPERM) when the user's pipes are over fs.pipe-user-pages-soft: the pipe keeps its default size.
        dst.pipeSize = sys.fcntlInt(w, LinuxNative.F_SETPIPE_SZ, PIPE_SIZE) >= PIPE_SIZE ? PIPE_SIZE : DEFAULT_PIPE_SIZE;
        return true;
    }

    private void count(Side src, long n) {
        if (src == front) {
            loop.bytesToBackend[backendId] += n;
        } else {
            loop.bytesToClient[backendId] += n;
        }
    }

    /**
     * Writes {@code length} bytes at {@code address} to {@code dst}: the count written (less when its socket
     * buffer filled), or -1 after a failure reset the connection.
     */
    private long send(Side dst, long address, long length, boolean finFollows) {
        if (!dst.writable) {
            return 0;
        }
        LinuxNative sys = io.sys;
        // MSG_MORE when the FIN follows at once: the kernel holds a short tail segment back, and the shutdown
        // right after sets FIN on it, so data and FIN leave in one segment (one packet, one ACK fewer).
        int flags = finFollows ? LinuxNative.MSG_NOSIGNAL | LinuxNative.MSG_MORE : LinuxNative.MSG_NOSIGNAL;
        for (;;) {
            long w = sys.sendAt(dst.fd, address, length, flags);
            if (w >= 0) {
                if (w < length) {
                    notWritable(dst);
                }
                return w;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN) {
                notWritable(dst);
                return 0;
            }
            if (errno != LinuxNative.EINTR) {
                failed(dst, errno);
                return -1;
            }
        }
    }

    /** Writes out what {@code dst} is owed. True when nothing is left. */
    private boolean flushPending(Side dst) {
        ByteBuf p = dst.pending;
        long w = send(dst, p.memoryAddress() + p.readerIndex(), p.readableBytes(), false);
        if (w < 0) {
            return false;
        }
        p.skipBytes((int) w);
        if (p.isReadable()) {
            return false;
        }
        p.release();
        dst.pending = null;
        return true;
    }

    /** The other side's input ended: once {@code dst} is owed nothing, its output ends too (FIN). */
    private void endOutput(Side dst) {
        if (dst.outputShut || dst.pending != null || dst.piped > 0) {
            return;
        }
        dst.outputShut = true;
        if (front.inputDone && back.inputDone && front.outputShut && back.outputShut) {
            closeBoth(false); // both directions are over: close() sends this last FIN
            return;
        }
        if (io.sys.shutdown(dst.fd, LinuxNative.SHUT_WR) < 0) {
            failed(dst, io.sys.errno()); // ENOTCONN: the peer reset meanwhile
        }
    }

    private void schedulePump() {
        if (!pumpScheduled) {
            pumpScheduled = true;
            loop.eventLoop.execute(pumpTask);
        }
    }

    private void failed(Side side, int errno) {
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: {} side of connection from {} failed: {}", vip.name(), side.front ? "client" : "backend",
                    clientDescription(), LinuxNative.describe(errno));
        }
        closeBoth(true);
    }

    private int socketError(Side side) {
        io.intLength.set(JAVA_INT, 0, 4);
        if (io.sys.getsockopt(side.fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_ERROR, io.intValue, io.intLength) < 0) {
            return io.sys.errno();
        }
        int e = io.intValue.get(JAVA_INT, 0);
        return e != 0 ? e : LinuxNative.ECONNREFUSED;
    }

    // ---- closing ---------------------------------------------------------------------------------------------

    @Override
    void closeIdle() {
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: closing idle connection from {}", vip.name(), clientDescription());
        }
        closeBoth(false);
    }

    @Override
    void closeNow() {
        closeBoth(false);
    }

    @Override
    void reset() {
        closeBoth(true);
    }

    /** Closes both sockets (FIN, or RST when {@code reset}) and settles the books. Idempotent. */
    private void closeBoth(boolean reset) {
        if (closed) {
            return;
        }
        closed = true;
        // Backend first, then the client, then the slot: a max_connections slot is never handed on while this
        // connection's backend socket is still open.
        if (back != null) {
            closeSide(back, reset);
        }
        closeSpare();
        closeSide(front, reset);
        released();
    }

    private void closeSpare() {
        if (early != null) {
            early.release();
            early = null;
        }
        if (spareFd >= 0) {
            closeFd(spareFd);
            spareFd = -1;
        }
    }

    private static void closeFd(int fd) {
        try {
            new FileDescriptor(fd).close();
        } catch (IOException e) {
            LOG.debug("close of fd {} failed", fd, e);
        }
    }

    private void closeSide(Side side, boolean reset) {
        if (side.closed) {
            return;
        }
        side.closed = true;
        if (reset) {
            io.sys.setsockopt(side.fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_LINGER, io.lingerReset, 8);
        }
        if (side.pending != null) {
            side.pending.release();
            side.pending = null;
        }
        if (side.pipeWrite >= 0) {
            io.sys.closeFd(side.pipeRead);
            io.sys.closeFd(side.pipeWrite);
            side.pipeRead = -1;
            side.pipeWrite = -1;
            side.piped = 0;
        }
        try {
            // Closed before the registration is cancelled, so Netty sees the fd gone and skips EPOLL_CTL_DEL:
            // close() already took it out of epoll.
            side.descriptor.close();
        } catch (IOException e) {
            LOG.debug("close of fd {} failed", side.fd, e);
        }
        if (side.registration != null) {
            side.registration.cancel();
        }
    }

    @Override
    long pendingBytes() {
        long sum = early != null ? early.readableBytes() : 0;
        if (front.pending != null) {
            sum += front.pending.readableBytes();
        }
        sum += front.piped;
        if (back != null) {
            if (back.pending != null) {
                sum += back.pending.readableBytes();
            }
            sum += back.piped;
        }
        return sum;
    }

    // ---- addresses (logging and PROXY protocol only) ---------------------------------------------------------

    private InetSocketAddress clientAddress() {
        return toAddress(clientHi, clientLo, clientPort);
    }

    /** The address the client connected to (the VIP; resolved for a wildcard listen address). */
    private InetSocketAddress vipAddress() {
        InetSocketAddress configured = vip.localAddress();
        if (!configured.getAddress().isAnyLocalAddress()) {
            return configured;
        }
        MemorySegment sa = io.sockaddr;
        io.sockaddrLength.set(JAVA_INT, 0, (int) sa.byteSize());
        if (io.sys.getsockname(front.fd, sa, io.sockaddrLength) < 0) {
            return configured;
        }
        int port = Short.toUnsignedInt(sa.get(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2));
        if (sa.get(JAVA_SHORT, 0) == LinuxNative.AF_INET) {
            return toAddress(FlowHash.v4Hi(), FlowHash.v4Lo(sa.get(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), 4)), port);
        }
        return toAddress(sa.get(JAVA_LONG.withOrder(ByteOrder.BIG_ENDIAN), 8),
                sa.get(JAVA_LONG.withOrder(ByteOrder.BIG_ENDIAN), 16), port);
    }

    /** An address from its 128-bit form (IPv4 as ::ffff:a.b.c.d, which comes back as an Inet4Address). */
    private static InetSocketAddress toAddress(long hi, long lo, int port) {
        byte[] raw = new byte[16];
        for (int i = 0; i < 8; i++) {
            raw[i] = (byte) (hi >>> (56 - 8 * i));
            raw[8 + i] = (byte) (lo >>> (56 - 8 * i));
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(raw), port);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // cannot happen with 16 bytes
        }
    }

    @Override
    String clientDescription() {
        return clientAddress().toString();
    }

    /** One socket of the connection, as epoll's handle for it. */
    private final class Side implements EpollIoHandle {
        final int fd;
        final FileDescriptor descriptor;
        final boolean front;
        IoRegistration registration;
        boolean readable;
        boolean writable;
        boolean inputDone;
        /** The peer ended its output or the socket failed: reads go on until they see the end or the error. */
        boolean peerClosed;
        /** epoll reported an error on this socket: reads must go on to see it, not stop at a short one. */
        boolean failedSeen;
        boolean outputShut;
        boolean closed;
        /** Registered (or to be) with EPOLLOUT: {@link #INTEREST} rather than {@link #INTEREST_IN}. */
        boolean outInterest;
        /** Bytes owed to this side that its socket could not take yet. */
        ByteBuf pending;
        /**
         * The pipe that bulk transfers toward this side go through (see {@link #splice}), -1 until a read toward
         * it fills the relay buffer; closed with this side. {@code piped}: bytes in it not yet written out.
         */
        int pipeRead = -1;
        int pipeWrite = -1;
        long piped;
        /** Bytes one splice into the pipe asks for: what the pipe holds. */
        int pipeSize;
        /** Whether this side had its one try at a pipe. */
        boolean noPipe;

        Side(int fd, boolean front) {
            this.fd = fd;
            this.descriptor = new FileDescriptor(fd);
            this.front = front;
            // A just-accepted socket can take bytes at once; it is registered with epoll only after the first
            // ones were relayed, so no EPOLLOUT edge may come before the answer does. The backend side becomes
            // writable when it is connected.
            this.writable = front;
        }

        @Override
        public FileDescriptor fd() {
            return descriptor;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            onEvent(this, ((EpollIoEvent) event).ops().value());
        }

        @Override
        public void close() {
            closeBoth(false); // the event loop is shutting down
        }
    }
}
