package io.maglevlb.control.admin;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Netty's aggregator, except for a request over the size limit: instead of Netty's own empty 413 (written
 * at once, ahead of any pipelined answers still due, and keeping the connection open unless the message
 * was complete), the request is passed on with a failed {@link DecoderResult} ({@link TooLargeException}),
 * so {@link AdminHandler} answers it in order, with a JSON error, and closes the connection. A request
 * that announces a too-large body with {@code Expect: 100-continue} gets the same answer.
 */
final class RequestAggregator extends HttpObjectAggregator {
    /** The cause of the failed result of a too-large request; its message is the client's error text. */
    static final class TooLargeException extends TooLongFrameException {
        TooLargeException(int maxBytes) {
            super("request larger than " + maxBytes / 1024 + " KiB (headers and body); the admin API takes no bodies");
        }
    }

    private final int maxContentBytes;

    RequestAggregator(int maxContentBytes) {
        super(maxContentBytes);
        this.maxContentBytes = maxContentBytes;
    }

    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        // null: no 417/413 of Netty's own; the too-large announcement goes on to handleOversizedMessage.
        return isContentLengthInvalid(start, maxContentLength) ? null
                : super.newContinueResponse(start, maxContentLength, pipeline);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        if (!(oversized instanceof HttpRequest request)) {
            ctx.close();
            return;
        }
        // The base class releases `oversized` after this returns: copy what the handler reads.
        FullHttpRequest tooLarge = new DefaultFullHttpRequest(request.protocolVersion(), request.method(),
                request.uri(), Unpooled.EMPTY_BUFFER, request.headers().copy(),
                EmptyHttpHeaders.INSTANCE);
        tooLarge.setDecoderResult(DecoderResult.failure(new TooLargeException(maxContentBytes)));
        ctx.fireChannelRead(tooLarge);
    }
}
