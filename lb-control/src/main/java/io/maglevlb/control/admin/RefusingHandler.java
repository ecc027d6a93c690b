package io.maglevlb.control.admin;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * Serves a connection accepted beyond the admin server's connection limit: its first request is answered
 * {@code 503} with {@code Retry-After: 1} and a JSON error, and the connection is closed (gracefully, see
 * {@link GracefulClose}). Nothing is routed, no token is checked, nothing reaches the daemon.
 */
final class RefusingHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final int maxConnections;
    private boolean answered;

    RefusingHandler(int maxConnections) {
        this.maxConnections = maxConnections;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (answered) {
            return;
        }
        answered = true;
        Reply reply = AdminHandler.refusal(request);
        if (reply == null) {
            reply = Reply.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "too many admin connections (at most "
                    + maxConnections + " at once); try again").with("Retry-After", "1");
        }
        GracefulClose.afterWrite(ctx.writeAndFlush(reply.toResponse(request.method().equals(HttpMethod.HEAD), false,
                request.protocolVersion().equals(HttpVersion.HTTP_1_0))));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            if (!answered || GracefulClose.outputDone(ctx.channel())) { // no request, or the answer is out
                ctx.close();
            } // else the answer is still being written, and GracefulClose closes after it
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
