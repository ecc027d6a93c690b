package io.maglevlb.control.health;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One health check of one backend, run on the health event loop: a TCP connect, or an HTTP/1.1 GET whose
 * status line is read (and nothing more: at most {@link #MAX_STATUS_LINE_BYTES} bytes) and matched against
 * the expected range. The promise completes exactly once, with the first of: result, error, timeout. Then the
 * connection is closed with a reset ({@link #closeWithReset}).
 */
final class Probe {
    /** An HTTP status line longer than this is a failure; bounds what one check may buffer. */
    static final int MAX_STATUS_LINE_BYTES = 4096;

    /** setsockopt(SOL_SOCKET, SO_MARK): Netty's epoll transport sets any integer option by level and name. */
    static final IntegerUnixChannelOption SO_MARK = new IntegerUnixChannelOption("SO_MARK", 1, 36);

    private Probe() {}

    static Future<CheckOutcome> run(EventLoop loop, Class<? extends Channel> channelClass, HealthTarget target) {
        HealthCheckConfig check = target.check();
        long startNs = System.nanoTime();
        Promise<CheckOutcome> promise = loop.newPromise();
        if (check.type() == HealthCheckType.NONE) {
            promise.setSuccess(new CheckOutcome(CheckResult.SUCCESS, "no check", 0));
            return promise;
        }
        ProbeRoute route = target.route();
        if (route != null && route.error() != null) {
            promise.setSuccess(outcome(CheckResult.FAILURE, "cannot probe at the VIP: " + route.error(), startNs));
            return promise;
        }
        if (route != null && !EpollSocketChannel.class.isAssignableFrom(channelClass)) {
            promise.setSuccess(outcome(CheckResult.LOCAL_ERROR, "probing at the VIP needs SO_MARK, which needs "
                    + "Netty's epoll transport (unavailable here)", startNs));
            return promise;
        }
        long timeoutNs = Math.max(1, check.timeout().toNanos());
        int connectTimeoutMs = (int) Math.max(1, Math.min(Integer.MAX_VALUE, check.timeout().toMillis()));
        ChannelHandler handler = check.type() == HealthCheckType.HTTP
                ? new HttpStatusHandler(promise, startNs, httpRequest(target), check.expectMin(), check.expectMax())
                : new ChannelInboundHandlerAdapter();
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMs)
                .option(ChannelOption.SO_KEEPALIVE, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(handler);
        ChannelFuture connect;
        try {
            connect = route == null ? bootstrap.connect(target.address())
                    : markThenConnect(bootstrap, route.mark(), target.probeAddress(), promise, startNs);
        } catch (RuntimeException e) {
            promise.trySuccess(classify(e, startNs));
            return promise;
        }
        ScheduledFuture<?> timeout = loop.schedule(
                () -> promise.trySuccess(outcome(CheckResult.TIMEOUT, "no answer within " + check.timeout().toMillis()
                        + " ms", startNs)),
                timeoutNs, TimeUnit.NANOSECONDS);
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                promise.trySuccess(classify(f.cause(), startNs));
            } else if (check.type() == HealthCheckType.TCP) {
                promise.trySuccess(outcome(CheckResult.SUCCESS, "connected", startNs));
            }
            // HTTP: the handler completes the promise from channelActive on.
        });
        promise.addListener(p -> {
            timeout.cancel(false);
            // A channel that could not be created or registered (EMFILE) was closed by Netty already, and
            // close() on it throws "channel not registered to an event loop".
            if (connect.channel().isRegistered()) {
                closeWithReset(connect.channel());
            }
        });
        return promise;
    }

    /**
     * Closes a check's connection with a reset (SO_LINGER 0) once its verdict is known, so that maglevd holds no
     * TIME_WAIT socket per check. A FIN close by maglevd, the side that usually closes first (a tcp check closes as
     * soon as it connects; an http check as soon as the status line is in), leaves the local port in TIME_WAIT for
     * 60 s: at 2 checks a second per backend and a narrow {@code ip_local_port_range} the checks alone held every
     * ephemeral port toward a backend and clients could not be served (docs/reliability.md, ephemeral-ports).
     * HAProxy closes its checks the same way. The reset cannot change the verdict: the promise is already
     * complete, and a reset we send is never read back by our own socket; a reset the backend sends before the
     * verdict is still a backend failure ({@link #classify}).
     */
    static void closeWithReset(Channel channel) {
        if (channel.isActive()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (ChannelException e) {
                // The socket went away under us (the backend's reset, or a concurrent close): a plain close is
                // all that is left, and there is no TIME_WAIT to avoid on a socket that is gone.
            }
        }
        channel.close();
    }

    /**
     * Registers the channel, sets SO_MARK {@code mark} on it, then connects it to {@code address}. A mark that
     * cannot be set completes {@code promise} with a local error and never connects: an unmarked probe would leave
     * through the main routing table and could reach the VIP through some other backend.
     *
     * @return completes when the connect does (or fails as registration or the mark did)
     */
    static ChannelFuture markThenConnect(Bootstrap bootstrap, int mark, InetSocketAddress address,
            Promise<CheckOutcome> promise, long startNs) {
        ChannelFuture registered = bootstrap.register();
        Channel channel = registered.channel();
        ChannelPromise connecting = channel.newPromise();
        registered.addListener((ChannelFuture r) -> {
            if (!r.isSuccess()) {
                connecting.tryFailure(r.cause());
                return;
            }
            try {
                channel.config().setOption(SO_MARK, mark);
            } catch (ChannelException e) {
                promise.trySuccess(outcome(CheckResult.LOCAL_ERROR, "cannot set SO_MARK 0x"
                        + Integer.toHexString(mark) + " (needs CAP_NET_ADMIN): " + describe(e), startNs));
                return;
            }
            channel.connect(address).addListener((ChannelFuture c) -> {
                if (c.isSuccess()) {
                    connecting.trySuccess();
                } else {
                    connecting.tryFailure(c.cause());
                }
            });
        });
        return connecting;
    }

    static String httpRequest(HealthTarget target) {
        InetSocketAddress address = target.probeAddress();
        String ip = NetUtil.toAddressString(address.getAddress()); // RFC 5952 form for IPv6
        String host = address.getAddress() instanceof Inet6Address ? "[" + ip + "]" : ip;
        return "GET " + target.check().path() + " HTTP/1.1\r\n"
                + "Host: " + host + ":" + address.getPort() + "\r\n"
                + "User-Agent: maglevd-health-check\r\n"
                + "Accept: */*\r\n"
                + "Connection: close\r\n"
                + "\r\n";
    }

    static CheckOutcome outcome(CheckResult result, String detail, long startNs) {
        return new CheckOutcome(result, detail, System.nanoTime() - startNs);
    }

    /**
     * Sorts a failed connect into backend failure, timeout, or local error. Local errors are the process
     * running out of something every check needs (descriptors, ephemeral ports, socket buffers): they
     * must not count against the backend (see {@link CheckResult#LOCAL_ERROR}).
     */
    static CheckOutcome classify(Throwable cause, long startNs) {
        if (isLocalResourceError(cause)) {
            return outcome(CheckResult.LOCAL_ERROR, "local error: " + describe(cause), startNs);
        }
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof ConnectTimeoutException) {
                return outcome(CheckResult.TIMEOUT, "connect timed out", startNs);
            }
        }
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof ConnectException) {
                String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
                if (m.contains("refused")) {
                    return outcome(CheckResult.FAILURE, "connection refused", startNs);
                }
            }
        }
        return outcome(CheckResult.FAILURE, describe(cause), startNs);
    }

    static boolean isLocalResourceError(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            // Creating or registering the socket failed: nothing reached the backend.
            if (t instanceof ChannelException && !(t instanceof ConnectTimeoutException)) {
                return true;
            }
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (m.contains("too many open files")          // EMFILE / ENFILE
                    || m.contains("cannot assign requested address") // EADDRNOTAVAIL: no ephemeral port
                    || m.contains("no buffer space available")    // ENOBUFS
                    || m.contains("cannot allocate memory")) {    // ENOMEM
                return true;
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return false;
    }

    static String describe(Throwable t) {
        String m = t.getMessage();
        // Netty's epoll transport raises EHOSTUNREACH as a NoRouteToHostException without a message and then
        // annotates it with the address: "null: /198.18.0.23:80".
        String what = t instanceof java.net.NoRouteToHostException ? "no route to host"
                : t.getClass().getSimpleName();
        if (m == null || m.isBlank()) {
            return what;
        }
        return m.startsWith("null: ") ? what + m.substring(4) : m;
    }

    /** Sends the GET on connect and completes the promise from the first line of the response. */
    private static final class HttpStatusHandler extends ChannelInboundHandlerAdapter {
        private final Promise<CheckOutcome> promise;
        private final long startNs;
        private final String request;
        private final int expectMin;
        private final int expectMax;
        private final StringBuilder line = new StringBuilder(64);

        HttpStatusHandler(Promise<CheckOutcome> promise, long startNs, String request, int expectMin,
                int expectMax) {
            this.promise = promise;
            this.startNs = startNs;
            this.request = request;
            this.expectMin = expectMin;
            this.expectMax = expectMax;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII))
                    .addListener((ChannelFuture f) -> {
                        if (!f.isSuccess()) {
                            promise.trySuccess(outcome(CheckResult.FAILURE,
                                    "request write failed: " + describe(f.cause()), startNs));
                        }
                    });
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            try {
                if (promise.isDone()) {
                    return;
                }
                int newline = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
                int take = newline < 0 ? in.readableBytes() : newline - in.readerIndex();
                if (line.length() + take > MAX_STATUS_LINE_BYTES) {
                    promise.trySuccess(outcome(CheckResult.FAILURE,
                            "status line longer than " + MAX_STATUS_LINE_BYTES + " bytes", startNs));
                    return;
                }
                line.append(in.toString(in.readerIndex(), take, StandardCharsets.ISO_8859_1));
                if (newline >= 0) {
                    promise.trySuccess(parseStatusLine(line.toString().strip()));
                }
            } finally {
                in.release();
            }
        }

        private CheckOutcome parseStatusLine(String statusLine) {
            // "HTTP/1.1 200 OK": version, space, three digits, optional reason.
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || parts[1].length() != 3) {
                return outcome(CheckResult.FAILURE, "not an HTTP/1.x status line: " + abbreviate(statusLine),
                        startNs);
            }
            int status;
            try {
                status = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                return outcome(CheckResult.FAILURE, "bad status code: " + abbreviate(parts[1]), startNs);
            }
            boolean ok = status >= expectMin && status <= expectMax;
            return outcome(ok ? CheckResult.SUCCESS : CheckResult.FAILURE, "status " + status, startNs);
        }

        private static String abbreviate(String s) {
            return s.length() <= 64 ? s : s.substring(0, 64) + "...";
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            promise.trySuccess(outcome(CheckResult.FAILURE, "connection closed before a status line", startNs));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.trySuccess(classify(cause, startNs));
            ctx.close();
        }
    }
}
