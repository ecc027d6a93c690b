package io.maglevlb.control.admin;

import io.maglevlb.control.health.ControlEventLoop;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** Largest request (headers and body) accepted; the API takes no bodies, so this is generous. */
    static final int MAX_REQUEST_BYTES = 64 * 1024;
    /** An admin connection idle this long is closed. */
    static final int IDLE_TIMEOUT_SECONDS = 60;

    private final ControlEventLoop loop;
    private final ExecutorService workers;
    private final Channel serverChannel;

    private AdminServer(ControlEventLoop loop, ExecutorService workers, Channel serverChannel) {
        this.loop = loop;
        this.workers = workers;
        this.serverChannel = serverChannel;
    }

    /**
     * Binds and starts serving.
     *
     * @param listen where to listen (port 0 picks a free port; see {@link #address()})
     * @param tokenFile when present, every request but {@code GET /healthz} needs
     *     {@code Authorization: Bearer <token>}
     * @param metricsScrape produces the Prometheus text of {@code GET /metrics}
     * @throws IOException when the token file cannot be read or the address cannot be bound
     */
    public static AdminServer start(InetSocketAddress listen, Optional<Path> tokenFile, ControlApi api,
            Supplier<String> metricsScrape) throws IOException {
        Objects.requireNonNull(api, "api");
        Objects.requireNonNull(metricsScrape, "metricsScrape");
        BearerToken token = tokenFile.isPresent() ? BearerToken.fromFile(tokenFile.get()) : null;
        ControlEventLoop loop = new ControlEventLoop(1, "maglev-admin");
        ExecutorService workers = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("maglev-admin-worker-", 0).factory());
        try {
            Channel channel = new ServerBootstrap()
                    .group(loop.group())
                    .channel(loop.serverSocketChannelClass())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline()
                                    .addLast(new IdleStateHandler(0, 0, IDLE_TIMEOUT_SECONDS))
                                    .addLast(new HttpServerCodec(4096, 16 * 1024, 16 * 1024))
                                    .addLast(new HttpServerKeepAliveHandler())
                                    .addLast(new HttpObjectAggregator(MAX_REQUEST_BYTES))
                                    .addLast(new AdminHandler(api, metricsScrape, token, workers));
                        }
                    })
                    .bind(listen).syncUninterruptibly().channel();
            AdminServer server = new AdminServer(loop, workers, channel);
            log.info("admin API listening on {}{}", io.netty.util.NetUtil.toSocketAddressString(server.address()),
                    token == null ? " (no token: keep it on loopback)" : " (bearer token required)");
            return server;
        } catch (Exception e) { // bind failures surface as (undeclared) checked exceptions
            workers.shutdownNow();
            loop.shutdown(1000);
            throw new IOException("cannot listen for the admin API on " + listen + ": " + e.getMessage(), e);
        }
    }

    /** The bound address (with the actual port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Stops listening, lets running requests finish for up to two seconds, and stops the loop. */
    @Override
    public void close() {
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
