package io.maglevlb.control.admin;

import io.maglevlb.control.health.ControlEventLoop;
import io.maglevlb.control.metrics.MetricNames;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.dataplane.VipBindException;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API: a small Netty HTTP/1.1 server on its own one-thread event loop, loopback by default.
 * Routes are listed in {@link AdminHandler}; the daemon's side is {@link ControlApi}.
 *
 * <p>The event loop only parses and writes; every call into the daemon (and every metrics scrape) runs on
 * a virtual thread, so a slow reload cannot stall other admin requests, and no admin work ever runs on a
 * forwarding loop. Pipelined requests on one connection are answered in the order they came.
 *
 * <p>Bounds, so that no client (or a thousand of them) can make the admin API use much memory: at most
 * {@link Limits#maxConnections()} connections are served at once; a connection beyond that gets its first
 * request answered 503 (with {@code Retry-After: 1}) and is closed. While {@link #REFUSING_PER_SERVED} times
 * as many refused connections are open at once, the server stops accepting: new connections wait in the
 * kernel's listen backlog (no descriptor, no memory of ours) until a refused one has closed. Each served connection has at most
 * {@link AdminHandler#MAX_PIPELINED} requests waiting, each request at most {@link #MAX_REQUEST_BYTES}.
 * Metrics scrapes share one rendering per {@link Limits#scrapeCacheTtl()} ({@link ScrapeCache}).
 *
 * <p>Threading: the server channel and every admin connection live on the one loop thread; the connection
 * counters are atomics only so that {@link #openConnections()} can be read from anywhere.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** Largest request (headers and body) accepted; the API takes no bodies, so this is generous. */
    static final int MAX_REQUEST_BYTES = 64 * 1024;
    /** Longest request line (method, target, version): longer ones are answered 414. */
    static final int MAX_INITIAL_LINE_BYTES = 4096;
    /** Largest header block: larger ones are answered 431. */
    static final int MAX_HEADER_BYTES = 16 * 1024;
    /** An admin connection idle this long is closed. */
    static final int IDLE_TIMEOUT_SECONDS = 60;
    /** A refused connection (over the connection limit) that sends no request is closed after this. */
    static final int REFUSED_IDLE_TIMEOUT_SECONDS = 5;
    /** System property overriding {@link #DEFAULT_MAX_CONNECTIONS}. */
    public static final String MAX_CONNECTIONS_PROPERTY = "maglevd.admin.maxConnections";
    /** System property: how long one {@code /metrics} rendering is served, in milliseconds (0: only shared by
     *  the scrapes that arrive while it renders). */
    public static final String METRICS_CACHE_MILLIS_PROPERTY = "maglevd.admin.metricsCacheMillis";
    /**
     * Connections served at once by default. Prometheus holds one per scraper, {@code maglevd ctl} one per
     * command, a liveness probe one: 64 leaves room for many of each.
     */
    public static final int DEFAULT_MAX_CONNECTIONS = 64;
    /**
     * Refused connections open at once, per connection served, at which accepting pauses. A refused connection
     * lives one request (or {@link #REFUSED_IDLE_TIMEOUT_SECONDS}); with the pause, a flood of connections to
     * the admin port takes at most {@code (1 + REFUSING_PER_SERVED) x max} descriptors from the daemon (whose
     * forwarding needs them) and never gets an unanswered close.
     */
    static final int REFUSING_PER_SERVED = 4;
    /** A refused connection is logged at most this often (with the number refused since the last line). */
    private static final long REFUSAL_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * The admin server's bounds.
     *
     * @param maxConnections connections served at once (at least 1)
     * @param scrapeCacheTtl how long one {@code /metrics} rendering is served
     * @param nanoClock monotonic nanoseconds for the scrape cache ({@code System::nanoTime})
     */
    record Limits(int maxConnections, Duration scrapeCacheTtl, LongSupplier nanoClock) {
        Limits {
            if (maxConnections < 1) {
                throw new IllegalArgumentException("maxConnections must be at least 1, was " + maxConnections);
            }
            Objects.requireNonNull(scrapeCacheTtl, "scrapeCacheTtl");
            Objects.requireNonNull(nanoClock, "nanoClock");
        }

        /** The defaults, with {@value #MAX_CONNECTIONS_PROPERTY} applied when set. */
        static Limits defaults() {
            return new Limits(Integer.getInteger(MAX_CONNECTIONS_PROPERTY, DEFAULT_MAX_CONNECTIONS),
                    Duration.ofMillis(Long.getLong(METRICS_CACHE_MILLIS_PROPERTY, ScrapeCache.DEFAULT_TTL.toMillis())),
                    System::nanoTime);
        }
    }

    private final ControlEventLoop loop;
    private final ExecutorService workers;
    private final Channel serverChannel;
    private final AtomicInteger served;
    private final AtomicInteger refusing;
    private final ScrapeCache scrapes;
    private final RefusalLog refusals;

    private AdminServer(ControlEventLoop loop, ExecutorService workers, Channel serverChannel, AtomicInteger served,
            AtomicInteger refusing, ScrapeCache scrapes, RefusalLog refusals) {
        this.scrapes = scrapes;
        this.refusals = refusals;
        this.loop = loop;
        this.workers = workers;
        this.serverChannel = serverChannel;
        this.served = served;
        this.refusing = refusing;
    }

    /**
     * Binds and starts serving, with the default {@link Limits}.
     *
     * @param listen where to listen (port 0 picks a free port; see {@link #address()})
     * @param tokenFile when present, every request but {@code GET /healthz} needs
     *     {@code Authorization: Bearer <token>}
     * @param metricsScrape produces the Prometheus text of {@code GET /metrics}
     * @throws IOException when the token file cannot be read or the address cannot be bound
     */
    public static AdminServer start(InetSocketAddress listen, Optional<Path> tokenFile, ControlApi api,
            Supplier<String> metricsScrape) throws IOException {
        return start(listen, "admin.listen", tokenFile, api, metricsScrape, Limits.defaults());
    }

    /**
     * As {@link #start(InetSocketAddress, Optional, ControlApi, Supplier)}, naming where {@code listen} came from
     * ({@code admin.listen}, {@code --admin}, ...) when it cannot be bound.
     */
    public static AdminServer start(InetSocketAddress listen, String listenSource, Optional<Path> tokenFile,
            ControlApi api, Supplier<String> metricsScrape) throws IOException {
        return start(listen, listenSource, tokenFile, api, metricsScrape, Limits.defaults());
    }

    static AdminServer start(InetSocketAddress listen, Optional<Path> tokenFile, ControlApi api,
            Supplier<String> metricsScrape, Limits limits) throws IOException {
        return start(listen, "admin.listen", tokenFile, api, metricsScrape, limits);
    }

    static AdminServer start(InetSocketAddress listen, String listenSource, Optional<Path> tokenFile, ControlApi api,
            Supplier<String> metricsScrape, Limits limits) throws IOException {
        return start(listen, listenSource, -1, tokenFile, api, metricsScrape, limits);
    }

    /**
     * Takeover: serves on {@code inheritedFd}, the admin API's listening socket a predecessor process handed over
     * (bound to {@code listen}), instead of binding. This server owns the descriptor from then on. Epoll only.
     */
    public static AdminServer adopt(int inheritedFd, InetSocketAddress listen, Optional<Path> tokenFile,
            ControlApi api, Supplier<String> metricsScrape) throws IOException {
        if (!ControlEventLoop.epoll()) {
            throw new IOException("cannot serve the admin API's handed-over socket without epoll");
        }
        return start(listen, "the running maglevd's admin socket", inheritedFd, tokenFile, api, metricsScrape,
                Limits.defaults());
    }

    private static AdminServer start(InetSocketAddress listen, String listenSource, int inheritedFd,
            Optional<Path> tokenFile, ControlApi api, Supplier<String> metricsScrape, Limits limits)
            throws IOException {
        Objects.requireNonNull(api, "api");
        Objects.requireNonNull(metricsScrape, "metricsScrape");
        BearerToken token = tokenFile.isPresent() ? BearerToken.fromFile(tokenFile.get()) : null;
        ScrapeCache scrapes = new ScrapeCache(metricsScrape, limits.scrapeCacheTtl(), limits.nanoClock());
        int max = limits.maxConnections();
        AtomicInteger served = new AtomicInteger();
        AtomicInteger refusing = new AtomicInteger();
        RefusalLog refusals = new RefusalLog(max);
        ControlEventLoop loop = new ControlEventLoop(1, "maglev-admin");
        ExecutorService workers = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("maglev-admin-worker-", 0).factory());
        try {
            ServerBootstrap bootstrap = new ServerBootstrap().group(loop.group());
            if (inheritedFd >= 0) {
                bootstrap.channelFactory(() -> new EpollServerSocketChannel(inheritedFd));
            } else {
                bootstrap.channel(loop.serverSocketChannelClass()).option(ChannelOption.SO_REUSEADDR, true);
            }
            bootstrap
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (served.incrementAndGet() <= max) {
                                ch.closeFuture().addListener(f -> served.decrementAndGet());
                                http(ch, IDLE_TIMEOUT_SECONDS).addLast(new AdminHandler(api, scrapes, token, workers));
                                return;
                            }
                            served.decrementAndGet();
                            refusals.refused(ch);
                            Channel acceptor = ch.parent();
                            if (refusing.incrementAndGet() >= REFUSING_PER_SERVED * max) {
                                acceptor.config().setAutoRead(false); // a few already accepted still come
                            }
                            ch.closeFuture().addListener(f -> {
                                if (refusing.decrementAndGet() < REFUSING_PER_SERVED * max
                                        && !acceptor.config().isAutoRead()) {
                                    acceptor.config().setAutoRead(true);
                                }
                            });
                            http(ch, REFUSED_IDLE_TIMEOUT_SECONDS).addLast(new RefusingHandler(max));
                        }
                    });
            Channel channel = (inheritedFd >= 0 ? bootstrap.register() : bootstrap.bind(listen))
                    .syncUninterruptibly().channel();
            AdminServer server = new AdminServer(loop, workers, channel, served, refusing, scrapes, refusals);
            log.info("admin API listening on {}{}", io.netty.util.NetUtil.toSocketAddressString(server.address()),
                    token == null ? " (no token: keep it on loopback)" : " (bearer token required)");
            return server;
        } catch (Exception e) { // bind failures surface as (undeclared) checked exceptions
            workers.shutdownNow();
            loop.shutdown(1000);
            // Netty's native transport says "bind(..) failed with error(-98): Address already in use"
            throw new IOException("cannot listen for the admin API on " + ConfigValues.formatSocketAddress(listen)
                    + " (" + listenSource + "): " + VipBindException.reason(e), e);
        }
    }

    /** The HTTP/1.1 decoding part of an admin connection's pipeline. */
    private static ChannelPipeline http(Channel ch, int idleSeconds) {
        // A client's FIN arrives as ChannelInputShutdownEvent, so answers still due can be written first.
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        return ch.pipeline()
                .addLast(new IdleStateHandler(0, 0, idleSeconds))
                .addLast(new HttpServerCodec(MAX_INITIAL_LINE_BYTES, MAX_HEADER_BYTES, 16 * 1024))
                .addLast(new RequestAggregator(MAX_REQUEST_BYTES));
    }

    /**
     * Counts refused connections and logs them at WARN, at most once per 10 s. {@link #refused} runs on the
     * event loop only; the total is read by metrics from any thread.
     */
    private static final class RefusalLog {
        private final int max;
        private final AtomicLong total = new AtomicLong();
        private long lastLogNanos = System.nanoTime() - REFUSAL_LOG_INTERVAL_NANOS;
        private long since;

        RefusalLog(int max) {
            this.max = max;
        }

        void refused(Channel ch) {
            total.incrementAndGet();
            since++;
            long now = System.nanoTime();
            if (now - lastLogNanos >= REFUSAL_LOG_INTERVAL_NANOS) {
                log.warn("admin API: {} connection(s) refused (503) since the last such message, latest "
                        + "from {}: more than {} open at once (-D{})", since, ch.remoteAddress(), max,
                        MAX_CONNECTIONS_PROPERTY);
                lastLogNanos = now;
                since = 0;
            }
        }
    }

    /** The bound address (with the actual port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Connections served now (not counting refused ones). */
    int openConnections() {
        return served.get();
    }

    ScrapeCache scrapeCacheForTest() {
        return scrapes;
    }

    /**
     * Registers {@code maglev_admin_connections_active} and {@code maglev_admin_connections_refused_total}
     * (see {@link MetricNames}).
     */
    public void registerMeters(MeterRegistry registry) {
        Gauge.builder(MetricNames.ADMIN_CONNECTIONS_ACTIVE, served, AtomicInteger::get)
                .description("Admin API connections served now").register(registry);
        FunctionCounter.builder(MetricNames.ADMIN_CONNECTIONS_REFUSED, refusals.total, AtomicLong::get)
                .description("Admin API connections over the limit, answered 503").register(registry);
    }

    /** True while accepting pauses because too many refused connections are open. */
    boolean acceptPaused() {
        return !serverChannel.config().isAutoRead();
    }

    /** Connections over the limit being answered 503 now. */
    int refusingConnections() {
        return refusing.get();
    }
    /** The listening socket's descriptor (handed to a successor process at a takeover); -1 without epoll. */
    public int listeningFd() {
        return serverChannel instanceof EpollServerSocketChannel epoll ? epoll.fd().intValue() : -1;
    }

    /**
     * Takeover, old process: stops accepting on the listening socket without closing it for the successor
     * (taken out of the loop's epoll first, then this process's descriptor closes). Open admin connections are
     * answered until {@link #close()}.
     */
    public void releaseListener() {
        serverChannel.deregister().awaitUninterruptibly(2000);
        serverChannel.close().awaitUninterruptibly(2000);
        log.info("admin API: listening socket handed over, no longer accepting here");
    }

    /** Stops listening, lets running requests finish for up to two seconds, and stops the loop. */
    @Override
    public void close() {
        if (serverChannel.isRegistered()) {
            // Out of epoll while the descriptor is open: a successor process may hold the same socket.
            serverChannel.deregister().awaitUninterruptibly(2000);
        }
        serverChannel.close().awaitUninterruptibly(2000);
        workers.shutdown();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdownNow();
        loop.shutdown(2000);
    }
}
