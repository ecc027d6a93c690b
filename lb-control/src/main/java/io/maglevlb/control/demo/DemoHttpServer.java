package io.maglevlb.control.demo;

import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A tiny HTTP/1.1 server that answers every request with its name and a newline ({@code web-1\n}), for trying
 * maglevd without real backends. Keep-alive follows the request: HTTP/1.1 connections stay open unless the
 * client sends {@code Connection: close}; HTTP/1.0 ones close unless it sends {@code Connection: keep-alive}.
 * Requests that are not valid HTTP get {@code 400} and the connection is closed.
 */
public final class DemoHttpServer implements AutoCloseable {
    private static final int MAX_REQUEST_BYTES = 64 * 1024;

    private final String name;
    private final Channel listener;

    private DemoHttpServer(String name, Channel listener) {
        this.name = name;
        this.listener = listener;
    }

    /**
     * Starts a server on {@code listen} answering {@code name}, on {@code group}'s event loops.
     *
     * @throws IOException when the address cannot be bound; the message names the server and address
     */
    public static DemoHttpServer start(EventLoopGroup group, Transport transport, InetSocketAddress listen,
            String name) throws IOException {
        ByteBuf body = Unpooled.unreleasableBuffer(
                Unpooled.copiedBuffer(name + "\n", StandardCharsets.UTF_8).asReadOnly());
        NameHandler handler = new NameHandler(body);
        ChannelFuture bound = new ServerBootstrap()
                .group(group)
                .channel(transport.serverSocketChannelClass())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_REQUEST_BYTES),
                                handler);
                    }
                })
                .bind(listen)
                .awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw new IOException("demo backend " + name + ": cannot listen on "
                    + ConfigValues.formatSocketAddress(listen) + ": " + VipBindException.reason(bound.cause()),
                    bound.cause());
        }
        return new DemoHttpServer(name, bound.channel());
    }

    public String name() {
        return name;
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    /** Stops listening; open connections close with their event loops. */
    @Override
    public void close() {
        listener.close().awaitUninterruptibly();
    }

    /** Shared by every connection of one server: stateless apart from the immutable body. */
    @ChannelHandler.Sharable
    private static final class NameHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final ByteBuf body;

        NameHandler(ByteBuf body) {
            this.body = body;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (!request.decoderResult().isSuccess()) {
                FullHttpResponse bad = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        HttpResponseStatus.BAD_REQUEST, Unpooled.EMPTY_BUFFER);
                bad.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
                bad.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(bad).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            FullHttpResponse response = new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.OK,
                    body.duplicate());
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            HttpUtil.setKeepAlive(response, keepAlive);
            ChannelFuture written = ctx.writeAndFlush(response);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
