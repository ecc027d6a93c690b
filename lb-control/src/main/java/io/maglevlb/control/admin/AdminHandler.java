package io.maglevlb.control.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes admin requests. Routes:
 * <pre>
 *   GET  /healthz                                   200 "ok" (no token needed)
 *   GET  /metrics                                   Prometheus text
 *   GET  /status                                    JSON {@link StatusView}
 *   GET  /vips/{vip}/table                          JSON {@link TableView}
 *   POST /reload                                    JSON {@link ReloadResult}; 422 when the file is invalid
 *   POST /vips/{vip}/backends/{backend}/drain       JSON {@link DrainResult}
 *   POST /vips/{vip}/backends/{backend}/undrain     JSON {@link DrainResult}
 * </pre>
 * A known path with another method gets 405 and an {@code Allow} header; an unknown path 404; an unknown
 * VIP or backend 404 with a JSON error. Mutations are POST only, so a stray GET (a browser, a crawler,
 * a prefetch) never changes anything.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper COMPACT_JSON = new ObjectMapper();
    static final String JSON_TYPE = "application/json";

    private final ControlApi api;
    private final Supplier<String> metricsScrape;
    private final BearerToken token;
    private final ExecutorService workers;

    AdminHandler(ControlApi api, Supplier<String> metricsScrape, BearerToken token, ExecutorService workers) {
        this.api = api;
        this.metricsScrape = metricsScrape;
        this.token = token;
        this.workers = workers;
    }

    /** A response computed off the event loop. */
    private record Reply(HttpResponseStatus status, String contentType, byte[] body, Map<String, String> headers) {
        static Reply json(HttpResponseStatus status, Object value, boolean pretty) {
            try {
                byte[] body = (pretty ? JSON : COMPACT_JSON).writeValueAsBytes(value);
                return new Reply(status, JSON_TYPE, body, Map.of());
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot write JSON for " + value.getClass().getSimpleName(), e);
            }
        }

        static Reply error(HttpResponseStatus status, String message) {
            return json(status, Map.of("error", message), true).withNewline();
        }

        static Reply text(HttpResponseStatus status, String contentType, String body) {
            return new Reply(status, contentType, body.getBytes(StandardCharsets.UTF_8), Map.of());
        }

        Reply with(String header, String value) {
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.put(header, value);
            return new Reply(status, contentType, body, h);
        }

        Reply withNewline() {
            byte[] b = java.util.Arrays.copyOf(body, body.length + 1);
            b[body.length] = '\n';
            return new Reply(status, contentType, b, headers);
        }
    }

    /** What one request asks for, resolved on the loop; {@code call} runs on a worker. */
    private record Route(String allowed, Supplier<Reply> call, boolean mutation) {}

    /** A request waiting for its reply, in arrival order. Event loop only. */
    private static final class Pending {
        final String requestLine;
        final boolean keepAlive;
        Reply reply;

        Pending(String requestLine, boolean keepAlive) {
            this.requestLine = requestLine;
            this.keepAlive = keepAlive;
        }
    }

    /** Most requests one connection may have in progress (pipelined); more close the connection. */
    static final int MAX_PIPELINED = 16;

    // Event loop only: replies are written in request order even when computed out of order.
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private boolean closing;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (closing) {
            return;
        }
        HttpMethod method = request.method();
        String rawPath = new QueryStringDecoder(request.uri()).rawPath();
        Pending p = new Pending(method + " " + rawPath, HttpUtil.isKeepAlive(request));
        if (pending.size() >= MAX_PIPELINED) {
            log.debug("admin connection {} pipelined more than {} requests; closing", ctx.channel().remoteAddress(),
                    MAX_PIPELINED);
            closing = true;
            ctx.close();
            return;
        }
        pending.add(p);
        if (!request.decoderResult().isSuccess()) {
            complete(ctx, p, Reply.error(HttpResponseStatus.BAD_REQUEST, "malformed request"));
            return;
        }
        List<String> segments;
        try {
            segments = segments(rawPath);
        } catch (IllegalArgumentException e) {
            complete(ctx, p, Reply.error(HttpResponseStatus.BAD_REQUEST, "bad path: " + e.getMessage()));
            return;
        }
        boolean healthz = segments.equals(List.of("healthz"));
        if (token != null && !healthz && !token.matches(request.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            complete(ctx, p, Reply.error(HttpResponseStatus.UNAUTHORIZED, "missing or wrong bearer token")
                    .with("WWW-Authenticate", "Bearer realm=\"maglevd\""));
            return;
        }
        Route route = route(segments);
        if (route == null) {
            complete(ctx, p, Reply.error(HttpResponseStatus.NOT_FOUND, "no such resource: " + rawPath));
            return;
        }
        if (!route.allowed().equals(method.name())) {
            complete(ctx, p, Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    method + " not allowed on " + rawPath + "; use " + route.allowed())
                    .with(HttpHeaderNames.ALLOW.toString(), route.allowed()));
            return;
        }
        SocketAddress remote = ctx.channel().remoteAddress();
        try {
            workers.execute(() -> {
                Reply reply;
                try {
                    reply = route.call().get();
                } catch (RuntimeException e) {
                    log.error("admin {} failed", p.requestLine, e);
                    reply = Reply.error(HttpResponseStatus.INTERNAL_SERVER_ERROR,
                            "internal error: " + e.getClass().getSimpleName() + ": " + e.getMessage());
                }
                if (route.mutation()) {
                    log.info("admin {} from {} -> {}", p.requestLine, remote, reply.status().code());
                }
                Reply done = reply;
                ctx.executor().execute(() -> complete(ctx, p, done));
            });
        } catch (RejectedExecutionException e) {
            complete(ctx, p, Reply.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting down"));
        }
    }

    /** Records {@code p}'s reply and writes every reply that is now at the head of the queue. Loop only. */
    private void complete(ChannelHandlerContext ctx, Pending p, Reply reply) {
        p.reply = reply;
        while (!pending.isEmpty() && pending.peek().reply != null && !closing) {
            Pending head = pending.poll();
            write(ctx, head.reply, head.keepAlive, head.requestLine, ctx.channel().remoteAddress());
            if (!head.keepAlive) {
                closing = true;
            }
        }
    }

    private Route route(List<String> s) {
        int n = s.size();
        if (n == 1) {
            return switch (s.get(0)) {
                case "healthz" -> new Route("GET", () -> Reply.text(HttpResponseStatus.OK, "text/plain; charset=utf-8",
                        "ok\n"), false);
                case "metrics" -> new Route("GET", () -> Reply.text(HttpResponseStatus.OK,
                        io.maglevlb.control.metrics.MaglevMetrics.CONTENT_TYPE, metricsScrape.get()), false);
                case "status" -> new Route("GET", () -> Reply.json(HttpResponseStatus.OK, api.status(), true)
                        .withNewline(), false);
                case "reload" -> new Route("POST", this::reload, true);
                default -> null;
            };
        }
        if (n == 3 && s.get(0).equals("vips") && s.get(2).equals("table")) {
            String vip = s.get(1);
            return new Route("GET", () -> {
                Optional<TableView> table = api.table(vip);
                return table.map(t -> Reply.json(HttpResponseStatus.OK, t, false))
                        .orElseGet(() -> Reply.error(HttpResponseStatus.NOT_FOUND, "unknown vip '" + vip + "'"));
            }, false);
        }
        if (n == 5 && s.get(0).equals("vips") && s.get(2).equals("backends")
                && (s.get(4).equals("drain") || s.get(4).equals("undrain"))) {
            String vip = s.get(1);
            String backend = s.get(3);
            boolean drain = s.get(4).equals("drain");
            return new Route("POST", () -> drainReply(drain ? api.drain(vip, backend) : api.undrain(vip, backend)),
                    true);
        }
        return null;
    }

    private Reply reload() {
        ReloadResult result = api.reload();
        return Reply.json(result.ok() ? HttpResponseStatus.OK : HttpResponseStatus.UNPROCESSABLE_ENTITY, result,
                true).withNewline();
    }

    private static Reply drainReply(DrainResult r) {
        return switch (r.outcome()) {
            case DONE -> Reply.json(HttpResponseStatus.OK, r, true).withNewline();
            case UNKNOWN_VIP -> Reply.error(HttpResponseStatus.NOT_FOUND, "unknown vip '" + r.vip() + "'");
            case UNKNOWN_BACKEND -> Reply.error(HttpResponseStatus.NOT_FOUND,
                    "unknown backend '" + r.backend() + "' in vip '" + r.vip() + "'");
        };
    }

    /** Path segments, percent-decoded one by one (so an encoded '/' stays inside its segment). */
    static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        for (String part : rawPath.split("/")) {
            if (!part.isEmpty()) {
                out.add(QueryStringDecoder.decodeComponent(part));
            }
        }
        return out;
    }

    private static void write(ChannelHandlerContext ctx, Reply reply, boolean keepAlive, String requestLine,
            SocketAddress remote) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, reply.status(),
                Unpooled.wrappedBuffer(reply.body()));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, reply.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, reply.body().length)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        reply.headers().forEach(response.headers()::set);
        HttpUtil.setKeepAlive(response, keepAlive);
        if (log.isDebugEnabled()) {
            log.debug("admin {} from {} -> {}", requestLine, remote, reply.status().code());
        }
        if (keepAlive) {
            ctx.writeAndFlush(response);
        } else {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("admin connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
