package io.maglevlb.control.admin;

import io.maglevlb.core.config.ConfigValues;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
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
 *   GET  /                                          the status page (HTML; no token needed, it holds no data: see
 *                                                   {@link StatusPage}); GET /ui/status.js, /ui/status.css its assets
 *   GET  /healthz                                   200 "ok" (no token needed)
 *   GET  /metrics                                   Prometheus text (a cached rendering, see {@link ScrapeCache})
 *   GET  /status                                    JSON {@link StatusView}
 *   GET  /vips/{vip}/table                          JSON {@link TableView}
 *   GET  /vips/{vip}/explain?client=IP:PORT         JSON {@link ExplainView}: where that client's flow goes
 *   POST /upgrade                                   start the successor process (run --takeover): 202 {successorPid}
 *   POST /reload                                    JSON {@link ReloadResult}; 422 when the file is invalid
 *   POST /vips/{vip}/backends/{backend}/drain       JSON {@link DrainResult}
 *   POST /vips/{vip}/backends/{backend}/undrain     JSON {@link DrainResult}
 *   POST /withdraw, POST /announce                  JSON {@link AnnounceResult}: the switch for every VIP
 *   POST /vips/{vip}/withdraw, /vips/{vip}/announce JSON {@link AnnounceResult}: for one VIP
 * </pre>
 * HEAD is answered on every GET route (the GET answer's headers, no body). A known path with another
 * method gets 405 and an {@code Allow} header; an unknown path 404; an unknown VIP or backend 404 with a
 * JSON error. Mutations are POST only, so a stray GET (a browser, a crawler, a prefetch) never changes
 * anything.
 *
 * <p>HTTP edges (each answer is JSON {@code {"error": ...}}, and the connection is closed gracefully
 * after it, see {@link GracefulClose}): a version other than HTTP/1.x (HTTP/2 prior-knowledge preface
 * included) 505; a request line over 4 KiB 414; headers over 16 KiB 431; any other malformed request 400;
 * a request over {@link AdminServer#MAX_REQUEST_BYTES} 413 ({@link AdminServer}); the
 * {@code MAX_PIPELINED + 1}-th request pipelined behind unanswered ones 503, after the ones before it are
 * answered. Requests that come after one that ends the connection ({@code Connection: close}, HTTP/1.0
 * without keep-alive, or an error above) are read and dropped, never run. A client that half-closes (FIN
 * after its requests) gets every answer due, then the connection closes.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

    private final ControlApi api;
    private final ScrapeCache metrics;
    private final BearerToken token;
    private final ExecutorService workers;

    AdminHandler(ControlApi api, ScrapeCache metrics, BearerToken token, ExecutorService workers) {
        this.api = api;
        this.metrics = metrics;
        this.token = token;
        this.workers = workers;
    }

    /** What one request asks for, resolved on the loop; {@code call} runs on a worker. */
    private record Route(String allowed, Supplier<Reply> call, boolean mutation) {}

    /** A request waiting for its reply, in arrival order. Event loop only. */
    private static final class Pending {
        final String requestLine;
        final boolean keepAlive;
        final boolean head;
        final boolean http10;
        Reply reply;

        Pending(String requestLine, boolean keepAlive, boolean head, boolean http10) {
            this.requestLine = requestLine;
            this.keepAlive = keepAlive;
            this.head = head;
            this.http10 = http10;
        }
    }

    /**
     * Most requests one connection may have waiting for their answers (pipelined). The next one is
     * answered 503 after those, and the connection is closed; the client resends the rest on a new one.
     */
    static final int MAX_PIPELINED = 16;

    // Event loop only: replies are written in request order even when computed out of order.
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    /** False once a request that ends the connection was read: later requests are dropped, never run. */
    private boolean reading = true;
    /** True once the last answer was written and the connection is closing. */
    private boolean closing;
    /** True once the client half-closed (FIN after its requests): close after the answers still due. */
    private boolean inputDone;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!reading) {
            return;
        }
        HttpMethod method = request.method();
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String rawPath = uri.rawPath();
        String requestLine = method + " " + rawPath;
        boolean head = method.equals(HttpMethod.HEAD);
        boolean http10 = request.protocolVersion().equals(HttpVersion.HTTP_1_0);
        Reply refusal = refusal(request);
        if (refusal == null && pending.size() >= MAX_PIPELINED) {
            refusal = Reply.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "more than " + MAX_PIPELINED
                    + " pipelined requests waiting on this connection; the first " + MAX_PIPELINED
                    + " were answered, send the rest on a new connection");
            log.debug("admin connection {} pipelined more than {} requests; answering 503 and closing",
                    ctx.channel().remoteAddress(), MAX_PIPELINED);
        }
        if (refusal != null) {
            reading = false;
            Pending p = new Pending(requestLine, false, head, http10);
            pending.add(p);
            complete(ctx, p, refusal);
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        if (!keepAlive) {
            reading = false;
        }
        Pending p = new Pending(requestLine, keepAlive, head, http10);
        pending.add(p);
        List<String> segments;
        try {
            segments = segments(rawPath);
        } catch (IllegalArgumentException e) {
            complete(ctx, p, Reply.error(HttpResponseStatus.BAD_REQUEST, "bad path: " + e.getMessage()));
            return;
        }
        boolean open = segments.equals(List.of("healthz")) || StatusPage.isPublic(segments);
        if (token != null && !open && !token.matches(request.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            complete(ctx, p, Reply.error(HttpResponseStatus.UNAUTHORIZED, "missing or wrong bearer token")
                    .with("WWW-Authenticate", "Bearer realm=\"maglevd\""));
            return;
        }
        Route route = route(segments, uri);
        if (route == null) {
            complete(ctx, p, Reply.error(HttpResponseStatus.NOT_FOUND, "no such resource: " + rawPath));
            return;
        }
        boolean allowed = route.allowed().equals(method.name()) || (head && route.allowed().equals("GET"));
        if (!allowed) {
            String allow = route.allowed().equals("GET") ? "GET, HEAD" : route.allowed();
            complete(ctx, p, Reply.error(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    method + " not allowed on " + rawPath + "; use " + allow)
                    .with(HttpHeaderNames.ALLOW.toString(), allow));
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

    /**
     * The answer to a request that cannot be served at all (it ends the connection), or null. Decoding
     * failures first: the decoder has given up on the connection's byte stream.
     */
    static Reply refusal(FullHttpRequest request) {
        DecoderResult result = request.decoderResult();
        if (!result.isSuccess()) {
            Throwable cause = result.cause();
            if (cause instanceof RequestAggregator.TooLargeException) {
                return Reply.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, cause.getMessage());
            }
            if (cause instanceof TooLongHttpHeaderException) {
                return Reply.error(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "request header fields larger than " + AdminServer.MAX_HEADER_BYTES / 1024 + " KiB");
            }
            if (cause instanceof TooLongHttpLineException) {
                return Reply.error(HttpResponseStatus.REQUEST_URI_TOO_LONG,
                        "request line longer than " + AdminServer.MAX_INITIAL_LINE_BYTES / 1024 + " KiB");
            }
            return Reply.error(HttpResponseStatus.BAD_REQUEST, "malformed request"
                    + (cause == null || cause.getMessage() == null ? "" : ": " + cause.getMessage()));
        }
        HttpVersion version = request.protocolVersion();
        if (version.majorVersion() != 1 || !version.protocolName().equals("HTTP")) {
            return Reply.error(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED,
                    version.text() + " is not supported: the admin API speaks HTTP/1.1 (and HTTP/1.0)");
        }
        return null;
    }

    /** Records {@code p}'s reply and writes every reply that is now at the head of the queue. Loop only. */
    private void complete(ChannelHandlerContext ctx, Pending p, Reply reply) {
        p.reply = reply;
        while (!pending.isEmpty() && pending.peek().reply != null && !closing) {
            Pending next = pending.poll();
            if (log.isDebugEnabled()) {
                log.debug("admin {} from {} -> {}", next.requestLine, ctx.channel().remoteAddress(),
                        next.reply.status().code());
            }
            ChannelFuture written = ctx.writeAndFlush(next.reply.toResponse(next.head, next.keepAlive, next.http10));
            if (!next.keepAlive || (inputDone && pending.isEmpty())) {
                closing = true;
                GracefulClose.afterWrite(written);
            }
        }
    }

    private Route route(List<String> s, QueryStringDecoder uri) {
        int n = s.size();
        if (n == 0) {
            return new Route("GET", StatusPage::page, false);
        }
        if (n == 2 && s.get(0).equals("ui")) {
            Reply asset = StatusPage.asset(s.get(1));
            return asset == null ? null : new Route("GET", () -> asset, false);
        }
        if (n == 1) {
            return switch (s.get(0)) {
                case "healthz" -> new Route("GET", () -> Reply.text(HttpResponseStatus.OK, "text/plain; charset=utf-8",
                        "ok\n"), false);
                case "metrics" -> new Route("GET", () -> new Reply(HttpResponseStatus.OK,
                        io.maglevlb.control.metrics.MaglevMetrics.CONTENT_TYPE, metrics.get(), Map.of()), false);
                case "status" -> new Route("GET", () -> Reply.json(HttpResponseStatus.OK, api.status(), true)
                        .withNewline(), false);
                case "reload" -> new Route("POST", this::reload, true);
                case "upgrade" -> new Route("POST", this::upgrade, true);
                case "withdraw" -> new Route("POST", () -> announceReply(api.withdraw(null)), true);
                case "announce" -> new Route("POST", () -> announceReply(api.announce(null)), true);
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
        if (n == 3 && s.get(0).equals("vips") && s.get(2).equals("explain")) {
            String vip = s.get(1);
            List<String> client = uri.parameters().getOrDefault("client", List.of());
            return new Route("GET", () -> explain(vip, client), false);
        }
        if (n == 3 && s.get(0).equals("vips") && (s.get(2).equals("withdraw") || s.get(2).equals("announce"))) {
            String vip = s.get(1);
            boolean withdraw = s.get(2).equals("withdraw");
            return new Route("POST", () -> announceReply(withdraw ? api.withdraw(vip) : api.announce(vip)), true);
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

    private Reply upgrade() {
        try {
            long pid = api.upgrade();
            return Reply.json(HttpResponseStatus.ACCEPTED, Map.of("successorPid", pid, "message",
                    "pid " + pid + " is taking over; this process drains and exits once it serves"), false)
                    .withNewline();
        } catch (IllegalStateException e) {
            return Reply.error(HttpResponseStatus.CONFLICT, e.getMessage());
        }
    }

    private Reply explain(String vip, List<String> client) {
        if (client.size() != 1) {
            return Reply.error(HttpResponseStatus.BAD_REQUEST, "give the flow's source as one query parameter "
                    + "client=IP:PORT, e.g. /vips/" + vip + "/explain?client=198.51.100.7:53124");
        }
        InetSocketAddress address;
        try {
            address = ConfigValues.parseSocketAddress(client.getFirst());
        } catch (IllegalArgumentException e) {
            return Reply.error(HttpResponseStatus.BAD_REQUEST, "client: " + e.getMessage());
        }
        return api.explain(vip, address).map(e -> Reply.json(HttpResponseStatus.OK, e, true).withNewline())
                .orElseGet(() -> Reply.error(HttpResponseStatus.NOT_FOUND, "unknown vip '" + vip + "'"));
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

    private static Reply announceReply(AnnounceResult r) {
        return switch (r.outcome()) {
            case DONE -> Reply.json(HttpResponseStatus.OK, r, true).withNewline();
            case UNKNOWN_VIP -> Reply.error(HttpResponseStatus.NOT_FOUND, "unknown vip '" + r.vip() + "'");
            case NOT_CONFIGURED -> Reply.error(HttpResponseStatus.CONFLICT,
                    "this maglevd announces nothing: the configuration has no announce section");
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

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            // The client sent FIN: nothing more comes. Answer what is due, then close (complete() does).
            reading = false;
            inputDone = true;
            if (closing ? GracefulClose.outputDone(ctx.channel()) : pending.isEmpty()) {
                ctx.close();
            } // else: the last answer is still being written, and GracefulClose closes after it
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
