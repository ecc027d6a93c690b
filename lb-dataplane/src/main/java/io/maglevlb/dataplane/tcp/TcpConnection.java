package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.AddressBits;
import io.maglevlb.dataplane.LocalError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.epoll.EpollTcpInfo;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied TCP connection: the client ("frontend") channel accepted on a VIP and the backend channel opened
 * for it, both on the same event loop.
 *
 * <p><b>Threading.</b> Everything here runs on the frontend's event loop; the backend channel is registered on
 * that loop too, so no field needs synchronisation. The only exception is {@link #parked}, which belongs to
 * {@link ConnectionLimit} and is guarded by its lock.
 *
 * <p><b>Relay with backpressure.</b> Both channels have AUTO_READ off. After a chunk from one side has been
 * written to the other, the next chunk is read only while the other side's write buffer is below its high
 * water mark; when it rises above, reading stops until the channel becomes writable again. A peer that stops
 * reading therefore holds at most one high water mark plus one read chunk in this process, per direction.
 *
 * <p><b>Half-close.</b> ALLOW_HALF_CLOSURE is on for both channels. When one side ends its output (FIN), what
 * was read from it is flushed to the other side and then that side's output is shut down, so the FIN travels
 * through. Both channels are closed when both directions have ended this way. An error or RST on one side
 * resets the other ({@link #abort}): an abortive close tells the peer the stream broke instead of ending it
 * as if it were complete.
 */
final class TcpConnection extends ProxiedConnection {
    private static final Logger LOG = LoggerFactory.getLogger(TcpConnection.class);
    private static final int DRAIN_CHUNK = 64 * 1024;

    final TcpProxyVip vip;
    final TcpVipLoop loop;
    final SocketChannel frontend;
    private final FrontendHandler frontendHandler = new FrontendHandler();
    private final ChannelFutureListener connectListener = this::connectDone;

    /** The backend channel once connected; null before. */
    SocketChannel backend;
    private ChannelFuture pendingConnect;
    private ForwardingSnapshot snapshot;
    private long flowHash;
    private int firstChoice;
    private int backendId = ForwardingSnapshot.NO_BACKEND;
    private int attempt;
    /** Client bytes read before the backend connection was up (epoll reads at once when the client sends FIN). */
    private ArrayDeque<ByteBuf> earlyData;

    private boolean clientInputDone;
    private boolean backendInputDone;
    private boolean clientOutputShut;
    private boolean backendOutputShut;
    private boolean closing;

    TcpConnection(TcpProxyVip vip, TcpVipLoop loop, SocketChannel frontend) {
        this.vip = vip;
        this.loop = loop;
        this.frontend = frontend;
    }

    ChannelInboundHandlerAdapter frontendHandler() {
        return frontendHandler;
    }

    // ---- lifecycle -------------------------------------------------------------------------------------------

    private void onFrontendActive() {
        loop.accepted++;
        loop.active++;
        loop.link(this, System.nanoTime());
        frontend.closeFuture().addListener(f -> onFrontendClosed());
        if (vip.limit.admit(this)) {
            start();
        }
    }

    @Override
    boolean clientIs(long hi, long lo, int port) {
        InetSocketAddress client = frontend.remoteAddress();
        if (client == null || client.getPort() != port) {
            return false;
        }
        byte[] raw = client.getAddress().getAddress();
        return AddressBits.lo(raw) == lo && AddressBits.hi(raw) == hi;
    }

    @Override
    int backendId() {
        return backendId;
    }

    @Override
    EventLoop eventLoop() {
        return frontend.eventLoop();
    }

    @Override
    void startAfterPark() {
        if (frontend.isActive() && !closing) {
            start();
        }
    }

    private void start() {
        ForwardingSnapshot s = vip.snapshots.current();
        snapshot = s;
        loop.ensureBackendCapacity(s.idLimit());
        InetSocketAddress client = frontend.remoteAddress();
        flowHash = vip.flowHash(client.getAddress().getAddress(), client.getPort());
        int id = s.backendFor(flowHash);
        if (id == ForwardingSnapshot.NO_BACKEND) {
            loop.closedNoBackend++;
            if (LOG.isDebugEnabled()) {
                LOG.debug("vip {}: no backend available for {}, resetting", vip.name(), client);
            }
            abort();
            return;
        }
        firstChoice = id;
        connect(id);
    }

    private void connect(int id) {
        backendId = id;
        BackendState target = snapshot.backend(id);
        SocketChannel ch;
        try {
            ch = vip.newBackendChannel(target.address());
        } catch (RuntimeException e) { // the socket could not be created (EMFILE, ENFILE, ENOBUFS)
            localFailure(e);
            return;
        }
        ch.pipeline().addLast(new BackendHandler());
        // On the frontend's loop, registering completes at once; the connect follows in the same turn.
        ChannelFuture registered = frontend.eventLoop().register(ch);
        pendingConnect = registered;
        if (registered.isDone()) {
            connectRegistered(registered, target);
        } else {
            registered.addListener(f -> connectRegistered(registered, target));
        }
    }

    private void connectRegistered(ChannelFuture registered, BackendState target) {
        if (closing) {
            registered.channel().close(); // the client left while the channel was registering
            return;
        }
        if (!registered.isSuccess()) {
            connectDone(registered);
            return;
        }
        pendingConnect = registered.channel().connect(target.address());
        pendingConnect.addListener(connectListener);
    }

    private void connectDone(ChannelFuture f) {
        pendingConnect = null;
        if (f.isSuccess()) {
            onBackendConnected((SocketChannel) f.channel());
            return;
        }
        f.channel().close();
        if (!frontend.isOpen() || closing) {
            return; // the client left (or was reset) while connecting: nothing to retry for
        }
        if (LocalError.of(f.cause()) != null) {
            localFailure(f.cause());
            return;
        }
        loop.connectFailures[backendId]++;
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: connect to backend {} failed for {}: {}", vip.name(),
                    snapshot.backend(backendId).name(), frontend.remoteAddress(), f.cause().toString());
        }
        int next = loop.retryTarget(snapshot, flowHash, firstChoice, ++attempt, vip.connectRetries);
        if (next != ForwardingSnapshot.NO_BACKEND) {
            connect(next);
            return;
        }
        abort();
    }

    /**
     * No backend socket could be had for a local reason (no descriptor, port or buffer): nothing reached the
     * backend, so it is not blamed. This engine (NIO, splice) has no descriptor reserve: the client is reset.
     */
    private void localFailure(Throwable cause) {
        LocalError local = LocalError.of(cause);
        loop.localError(local != null ? local : LocalError.BUFFERS);
        loop.closedLocalError++;
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: local error opening a socket to backend {} for {}: {}", vip.name(),
                    snapshot.backend(backendId).name(), frontend.remoteAddress(), cause.toString());
        }
        abort();
    }

    private void onBackendConnected(SocketChannel ch) {
        if (!frontend.isOpen() || closing) {
            ch.close();
            return;
        }
        backend = ch;
        if (vip.delayedAck.backend()) {
            ch.config().setOption(EpollChannelOption.TCP_QUICKACK, false); // after the handshake, never before
        }
        loop.connections[backendId]++;
        loop.activeByBackend[backendId]++;
        int countedId = backendId;
        ch.closeFuture().addListener(f -> onBackendClosed(countedId));
        if (vip.proxyProtocolV2) {
            ch.write(ProxyProtocolV2.encode(ch.alloc(), frontend.remoteAddress(), frontend.localAddress()),
                    ch.voidPromise());
        }
        if (earlyData != null) {
            ByteBuf buf;
            while ((buf = earlyData.poll()) != null) {
                loop.bytesToBackend[backendId] += buf.readableBytes();
                ch.write(buf, ch.voidPromise());
            }
            earlyData = null;
        }
        ch.flush();
        touch();
        if (clientInputDone) {
            shutdownOutputAfterFlush(ch);
        }
        if (vip.splice) {
            startSplice();
            return;
        }
        if (!clientInputDone) {
            frontend.read();
        }
        ch.read();
    }

    private void onFrontendClosed() {
        closing = true;
        loop.active--;
        loop.unlink(this);
        // Close the backend first (its close listener runs right away on this loop), then give the slot back:
        // a thread that sees the open count drop also sees this connection's counters final, and a
        // max_connections slot is never handed on while its backend connection is still open.
        if (backend != null) {
            backend.close();
        } else if (pendingConnect != null) {
            pendingConnect.channel().close();
        }
        if (earlyData != null) {
            earlyData.forEach(ReferenceCountUtil::release);
            earlyData = null;
        }
        vip.limit.release(this);
    }

    private void onBackendClosed(int countedId) {
        loop.activeByBackend[countedId]--;
        if (!frontend.isOpen()) {
            return;
        }
        if (clientOutputShut) {
            frontend.close();
        } else {
            // Whatever the backend sent is still owed to the client: close once it is written.
            frontend.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    void closeIdle() {
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: closing idle connection from {}", vip.name(), frontend.remoteAddress());
        }
        closeNow();
    }

    @Override
    void closeNow() {
        closing = true;
        frontend.close();
        if (backend != null) {
            backend.close();
        }
    }

    /** Resets both sides (RST): errors, and clients that cannot be given a backend. */
    private void abort() {
        closing = true;
        reset(frontend);
        if (backend != null) {
            reset(backend);
        } else if (pendingConnect != null) {
            pendingConnect.channel().close();
        }
    }

    private static void reset(Channel ch) {
        if (!ch.isOpen()) {
            return;
        }
        try {
            // SO_LINGER 0: close() sends RST and drops anything queued.
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (RuntimeException e) {
            // The socket is already dead (e.g. reset by the peer); a plain close is all that is left.
        }
        ch.close();
    }

    private void touch() {
        loop.touch(this, System.nanoTime());
    }

    @Override
    long pendingBytes() {
        long sum = pendingWrites(frontend) + pendingWrites(backend);
        if (earlyData != null) {
            for (ByteBuf b : earlyData) {
                sum += b.readableBytes();
            }
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

    // ---- relay -----------------------------------------------------------------------------------------------

    private void onClientBytes(ByteBuf buf) {
        touch();
        if (backend == null) {
            if (closing) {
                buf.release();
                return;
            }
            if (earlyData == null) {
                earlyData = new ArrayDeque<>(4);
            }
            earlyData.add(buf);
            return;
        }
        loop.bytesToBackend[backendId] += buf.readableBytes();
        backend.write(buf, backend.voidPromise());
    }

    private void onClientReadComplete() {
        if (backend == null) {
            return;
        }
        backend.flush();
        if (backend.isWritable() && !clientInputDone) {
            frontend.read();
        }
    }

    private void onBackendBytes(ByteBuf buf) {
        touch();
        loop.bytesToClient[backendId] += buf.readableBytes();
        frontend.write(buf, frontend.voidPromise());
    }

    private void onBackendReadComplete() {
        frontend.flush();
        if (frontend.isWritable() && !backendInputDone) {
            backend.read();
        }
    }

    private void onClientInputShutdown() {
        clientInputDone = true;
        if (backend != null) {
            if (vip.splice && !drainAfterSplice(frontend, backend, loop.bytesToBackend)) {
                return;
            }
            shutdownOutputAfterFlush(backend);
        }
    }

    private void onBackendInputShutdown() {
        backendInputDone = true;
        if (vip.splice && !drainAfterSplice(backend, frontend, loop.bytesToClient)) {
            return;
        }
        shutdownOutputAfterFlush(frontend);
    }

    /**
     * Sends {@code target} a FIN once everything queued toward it is written. With epoll the shutdown goes
     * straight to the socket: Netty's {@code shutdownOutput()} builds an exception with a stack trace on every
     * call (to fail writes queued after it), a measurable cost per connection, and this relay never writes to
     * a side after its FIN.
     */
    private void shutdownOutputAfterFlush(SocketChannel target) {
        target.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (!written.isSuccess()) {
                abort();
                return;
            }
            boolean otherSideDone = target == frontend ? backendOutputShut : clientOutputShut;
            if (otherSideDone && clientInputDone && backendInputDone) {
                closeNow(); // this FIN is the last thing left: close() sends it, a shutdown() first would not help
                return;
            }
            if (target instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
                try {
                    socket.shutdown(false, true);
                } catch (IOException | RuntimeException e) {
                    // Reset or closed meanwhile (ENOTCONN surfaces as Netty's unchecked NotYetConnectedException).
                    abort();
                    return;
                }
                outputShut(target);
            } else {
                target.shutdownOutput().addListener(shut -> {
                    if (shut.isSuccess()) {
                        outputShut(target);
                    } else {
                        abort();
                    }
                });
            }
        });
    }

    private void outputShut(SocketChannel target) {
        if (target == frontend) {
            clientOutputShut = true;
        } else {
            backendOutputShut = true;
            if (clientInputDone && !vip.splice) {
                // Nothing will ever be sent to the backend again, so its end of input now ends the connection:
                // let Netty close the channel on that EOF instead of half-closing it (a shutdown(SHUT_RD) that
                // fails on a socket already past FIN both ways, plus an exception). onBackendClosed then
                // flushes to the client and closes it, which sends its FIN. Not in splice mode: there the EOF
                // event is what drains the socket's last bytes.
                target.config().setAllowHalfClosure(false);
            }
        }
        if (clientOutputShut && backendOutputShut) {
            closeNow();
        }
    }

    private void onError(String side, Throwable cause) {
        if (LOG.isDebugEnabled()) {
            LOG.debug("vip {}: {} side of connection from {} failed: {}", vip.name(), side,
                    frontend.remoteAddress(), cause.toString(), LOG.isTraceEnabled() ? cause : null);
        }
        abort();
    }

    // ---- splice (epoll only) ---------------------------------------------------------------------------------

    /**
     * Lets the kernel move the bytes both ways with splice(2) through a pipe, never copying them into this
     * process. Netty's splice tasks run with AUTO_READ on and pause reading by themselves while the target
     * cannot take more, so backpressure still holds. Bytes moved this way are not counted (see docs).
     */
    private void startSplice() {
        AbstractEpollStreamChannel front = (AbstractEpollStreamChannel) frontend;
        AbstractEpollStreamChannel back = (AbstractEpollStreamChannel) backend;
        if (!clientInputDone) {
            front.spliceTo(back, Integer.MAX_VALUE).addListener(this::spliceEnded);
            front.config().setAutoRead(true);
        }
        back.spliceTo(front, Integer.MAX_VALUE).addListener(this::spliceEnded);
        back.config().setAutoRead(true);
    }

    /**
     * Splice mode only: whether the kernel saw data either way on this connection within the last
     * {@code idleTimeoutNs} (TCP_INFO's last-data-sent/received), since spliced bytes never pass through
     * {@link #touch()}. One getsockopt per side, and only for connections the idle sweep is about to close.
     * When the kernel saw data, the connection's activity time is moved to when it did.
     */
    @Override
    boolean sawKernelActivity(long nowNs, long idleTimeoutNs) {
        if (!vip.splice || backend == null || !frontend.isActive() || !backend.isActive()) {
            return false;
        }
        long quietMs = Math.min(quietMs((EpollSocketChannel) frontend), quietMs((EpollSocketChannel) backend));
        long quietNs = quietMs * 1_000_000L;
        if (quietNs >= idleTimeoutNs) {
            return false;
        }
        loop.link(this, nowNs - quietNs);
        return true;
    }

    private static long quietMs(EpollSocketChannel ch) {
        EpollTcpInfo info = ch.tcpInfo();
        return Math.min(info.lastDataRecv(), info.lastDataSent());
    }

    /**
     * Splice mode, when {@code source} has sent FIN: moves what is still queued in its socket to
     * {@code target} through a buffer. Netty's splice loop reports the end of input as soon as it sees
     * EPOLLRDHUP, after one splice(2) into the pipe, and never reads that socket again; without this, whatever
     * exceeded one pipe's worth at that moment would be lost. This reads it directly from the socket (the
     * event is fired on the loop, between Netty's reads, so nothing else reads it concurrently), which holds at
     * most the socket's receive buffer in memory: the same bound the plain relay has once a peer sent FIN.
     *
     * @return false when the read failed (the connection was reset)
     */
    private boolean drainAfterSplice(SocketChannel source, SocketChannel target, long[] byteCounter) {
        FileDescriptor fd = ((UnixChannel) source).fd();
        int id = backendId;
        try {
            for (;;) {
                ByteBuf buf = source.alloc().directBuffer(DRAIN_CHUNK);
                int n;
                try {
                    if (buf.hasMemoryAddress()) {
                        n = fd.readAddress(buf.memoryAddress(), buf.writerIndex(), buf.capacity());
                    } else {
                        ByteBuffer nio = buf.internalNioBuffer(0, buf.capacity());
                        n = fd.read(nio, nio.position(), nio.limit());
                    }
                } catch (IOException | RuntimeException e) {
                    buf.release();
                    throw e;
                }
                if (n <= 0) { // -1: end of stream; 0: nothing left (EAGAIN)
                    buf.release();
                    break;
                }
                buf.writerIndex(n);
                byteCounter[id] += n;
                target.write(buf, target.voidPromise());
            }
        } catch (IOException | RuntimeException e) {
            onError("splice drain", e);
            return false;
        } finally {
            target.flush();
        }
        return true;
    }

    private void spliceEnded(Future<?> f) {
        // A splice that runs "forever" only ends by failing: with ClosedChannelException when its channel
        // closes (expected), or with an I/O error (reset).
        if (!f.isSuccess() && !closing && !(f.cause() instanceof ClosedChannelException)
                && frontend.isActive() && backend != null && backend.isActive()) {
            onError("splice", f.cause());
        }
    }

    // ---- handlers --------------------------------------------------------------------------------------------

    private final class FrontendHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            onFrontendActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            onClientBytes((ByteBuf) msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            onClientReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (frontend.isWritable() && backend != null && !backendInputDone && !vip.splice) {
                backend.read();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                onClientInputShutdown();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            onError("client", cause);
        }
    }

    /** One per connect attempt: a handler instance belongs to one pipeline. Ignores channels not chosen. */
    private final class BackendHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ctx.channel() != backend) {
                ReferenceCountUtil.release(msg);
                return;
            }
            onBackendBytes((ByteBuf) msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (ctx.channel() == backend) {
                onBackendReadComplete();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel() == backend && backend.isWritable() && !clientInputDone && !vip.splice) {
                frontend.read();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (ctx.channel() == backend && evt instanceof ChannelInputShutdownEvent) {
                onBackendInputShutdown();
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (ctx.channel() == backend) {
                onError("backend", cause);
            } else {
                ctx.close();
            }
        }
    }
}
