package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.dataplane.AddressBits;
import io.maglevlb.dataplane.LocalError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied TCP connection relayed through Netty channels: the client ("frontend") channel accepted on a VIP and
 * the backend channel opened for it, both on the same event loop. This is the portable engine, used only where the
 * raw epoll relay ({@link RawTcpConnection}) cannot run: with the NIO transport (not Linux, or Netty's epoll
 * library did not load). Backend choice and connect retries are {@link ProxiedConnection}'s.
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

    final SocketChannel frontend;
    private final FrontendHandler frontendHandler = new FrontendHandler();
    private final ChannelFutureListener connectListener = this::connectDone;

    /** The backend channel once connected; null before. */
    SocketChannel backend;
    /** The channel of the connect attempt in progress; null when none is. */
    private Channel connecting;
    /** Client bytes read before the backend connection was up (a client that sent FIN is read at once). */
    private ArrayDeque<ByteBuf> earlyData;

    private boolean clientInputDone;
    private boolean backendInputDone;
    private boolean clientOutputShut;
    private boolean backendOutputShut;

    TcpConnection(TcpProxyVip vip, TcpVipLoop loop, SocketChannel frontend) {
        super(vip, loop);
        this.frontend = frontend;
    }

    ChannelInboundHandlerAdapter frontendHandler() {
        return frontendHandler;
    }

    // ---- lifecycle -------------------------------------------------------------------------------------------

    private void onFrontendActive() {
        frontend.closeFuture().addListener(f -> onFrontendClosed());
        admit();
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
    long flowHash() {
        InetSocketAddress client = frontend.remoteAddress();
        return vip.flowHash(client.getAddress().getAddress(), client.getPort());
    }

    @Override
    String clientDescription() {
        return String.valueOf(frontend.remoteAddress());
    }

    @Override
    void connectTo(int id) {
        BackendState target = snapshot.backend(id);
        SocketChannel ch;
        try {
            ch = vip.newBackendChannel(target.address());
        } catch (RuntimeException e) { // the socket could not be created (EMFILE, ENFILE, ENOBUFS)
            localFailure(e);
            return;
        }
        ch.pipeline().addLast(new BackendHandler());
        connecting = ch;
        // On the frontend's loop, registering completes at once; the connect follows in the same turn.
        ChannelFuture registered = frontend.eventLoop().register(ch);
        if (registered.isDone()) {
            connectRegistered(registered, target);
        } else {
            registered.addListener(f -> connectRegistered(registered, target));
        }
    }

    private void connectRegistered(ChannelFuture registered, BackendState target) {
        if (registered.channel() != connecting) {
            registered.channel().close(); // abandoned meanwhile (the client left)
            return;
        }
        if (!registered.isSuccess()) {
            connectDone(registered);
            return;
        }
        Channel ch = registered.channel();
        ch.connect(target.address()).addListener(connectListener);
        if (connecting == ch) { // not yet done (a connect that ended at once has reported already)
            connectStarted();
        }
    }

    private void connectDone(ChannelFuture f) {
        if (f.channel() != connecting) {
            f.channel().close(); // an attempt given up (timed out, or the client left)
            return;
        }
        connecting = null;
        if (f.isSuccess()) {
            onBackendConnected((SocketChannel) f.channel());
            return;
        }
        f.channel().close();
        if (LocalError.of(f.cause()) != null) {
            localFailure(f.cause());
        } else {
            connectFailed(f.cause());
        }
    }

    private void localFailure(Throwable cause) {
        LocalError local = LocalError.of(cause);
        localFailure(local != null ? local : LocalError.BUFFERS, cause);
    }

    @Override
    void abandonConnect() {
        Channel ch = connecting;
        connecting = null;
        if (ch != null) {
            ch.close();
        }
    }

    private void onBackendConnected(SocketChannel ch) {
        if (!frontend.isOpen() || closed) {
            ch.close();
            return;
        }
        backend = ch;
        backendConnected();
        ch.closeFuture().addListener(f -> onBackendClosed());
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
        if (!clientInputDone) {
            frontend.read();
        }
        ch.read();
    }

    private void onFrontendClosed() {
        closed = true;
        // Close the backend first, then give the slot back: a thread that sees the open count drop also sees this
        // connection's counters final, and a max_connections slot is never handed on while its backend connection
        // is still open.
        if (backend != null) {
            backend.close();
        } else {
            abandonConnect();
        }
        if (earlyData != null) {
            earlyData.forEach(ReferenceCountUtil::release);
            earlyData = null;
        }
        released();
    }

    private void onBackendClosed() {
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
            LOG.debug("vip {}: closing idle connection from {}", vip.name(), clientDescription());
        }
        closeNow();
    }

    @Override
    void closeNow() {
        closed = true;
        frontend.close();
        if (backend != null) {
            backend.close();
        }
    }

    @Override
    void reset() {
        abort();
    }

    /** Resets both sides (RST): errors, and clients that cannot be given a backend. */
    private void abort() {
        closed = true;
        reset(frontend);
        if (backend != null) {
            reset(backend);
        } else {
            abandonConnect();
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
            if (closed) {
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
            shutdownOutputAfterFlush(backend);
        }
    }

    private void onBackendInputShutdown() {
        backendInputDone = true;
        shutdownOutputAfterFlush(frontend);
    }

    /**
     * Sends {@code target} a FIN once everything queued toward it is written.
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
            target.shutdownOutput().addListener(shut -> {
                if (shut.isSuccess()) {
                    outputShut(target);
                } else {
                    abort();
                }
            });
        });
    }

    private void outputShut(SocketChannel target) {
        if (target == frontend) {
            clientOutputShut = true;
        } else {
            backendOutputShut = true;
            if (clientInputDone) {
                // Nothing will ever be sent to the backend again, so its end of input now ends the connection:
                // let Netty close the channel on that EOF instead of half-closing it (a shutdown(SHUT_RD) that
                // fails on a socket already past FIN both ways, plus an exception). onBackendClosed then
                // flushes to the client and closes it, which sends its FIN.
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
                    clientDescription(), cause.toString(), LOG.isTraceEnabled() ? cause : null);
        }
        abort();
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
            if (frontend.isWritable() && backend != null && !backendInputDone) {
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
            if (ctx.channel() == backend && backend.isWritable() && !clientInputDone) {
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
