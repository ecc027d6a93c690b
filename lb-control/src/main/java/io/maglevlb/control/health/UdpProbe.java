package io.maglevlb.control.health;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.UdpPayload;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One {@code udp} health check of one backend, run on the health event loop (keepalived's UDP_CHECK): a UDP
 * socket {@code connect}ed to the backend sends one datagram ({@link HealthCheckConfig#send()}), then
 * <ul>
 *   <li>an ICMP port or host unreachable, which the kernel reports on the connected socket as
 *       {@code ECONNREFUSED} or {@code EHOSTUNREACH}, is a <b>failure</b>;</li>
 *   <li>with an expected reply ({@link HealthCheckConfig#expectReply()}): the first datagram back decides:
 *       it <b>matches</b> when its first bytes equal the expected bytes (a prefix match: the reply may be
 *       longer; a shorter one does not match): success, else failure; no datagram within the timeout is a
 *       <b>timeout</b>;</li>
 *   <li>without one: any datagram back is an early success, and silence until the timeout is a success
 *       too (no ICMP error came: something holds the port; a UDP service need not answer a probe).</li>
 * </ul>
 * The connected socket only receives datagrams from the backend's address and port, so nothing else can
 * answer for it. A check without {@code expect} therefore takes the whole timeout when the backend stays
 * silent, and holds its socket (one of the checker's bounded slots) that long.
 *
 * <p>Local errors (no descriptor for the socket, no ephemeral port, no buffer space for the send) are
 * {@link CheckResult#LOCAL_ERROR}, as for the TCP probes ({@link Probe#isLocalResourceError}). The promise
 * completes exactly once, with the first of: reply, ICMP error, local error, timeout.
 */
final class UdpProbe {
    /**
     * Receive buffer per check: a reply longer than this is cut, which is harmless because only its first
     * {@link UdpPayload#MAX_BYTES} bytes can matter for the match.
     */
    static final int RECEIVE_BUFFER_BYTES = 2048;

    private UdpProbe() {}

    static Future<CheckOutcome> run(EventLoop loop, Class<? extends DatagramChannel> channelClass,
            HealthTarget target) {
        HealthCheckConfig check = target.check();
        long startNs = System.nanoTime();
        Promise<CheckOutcome> promise = loop.newPromise();
        UdpPayload expect = check.expectReply().orElse(null);
        ProbeRoute route = target.route();
        if (route != null && route.error() != null) {
            promise.setSuccess(Probe.outcome(CheckResult.FAILURE, "cannot probe at the VIP: " + route.error(),
                    startNs));
            return promise;
        }
        if (route != null && !EpollDatagramChannel.class.isAssignableFrom(channelClass)) {
            promise.setSuccess(Probe.outcome(CheckResult.LOCAL_ERROR, "probing at the VIP needs SO_MARK, which "
                    + "needs Netty's epoll transport (unavailable here)", startNs));
            return promise;
        }
        long timeoutNs = Math.max(1, check.timeout().toNanos());
        Bootstrap bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(RECEIVE_BUFFER_BYTES))
                .handler(new ReplyHandler(promise, startNs, expect));
        ChannelFuture connect;
        try {
            // Binds an ephemeral port and connects: no datagram leaves yet, and the socket now accepts only
            // the backend's datagrams and ICMP errors about them.
            connect = route == null ? bootstrap.connect(target.address())
                    : Probe.markThenConnect(bootstrap, route.mark(), target.probeAddress(), promise, startNs);
        } catch (RuntimeException e) {
            promise.trySuccess(classify(e, startNs));
            return promise;
        }
        ScheduledFuture<?> timeout = loop.schedule(() -> promise.trySuccess(expect == null
                        ? Probe.outcome(CheckResult.SUCCESS, "no ICMP error within " + check.timeout().toMillis()
                                + " ms", startNs)
                        : Probe.outcome(CheckResult.TIMEOUT, "no reply within " + check.timeout().toMillis()
                                + " ms", startNs)),
                timeoutNs, TimeUnit.NANOSECONDS);
        connect.addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                promise.trySuccess(classify(f.cause(), startNs));
                return;
            }
            f.channel().writeAndFlush(Unpooled.wrappedBuffer(check.send().toByteArray()))
                    .addListener((ChannelFuture w) -> {
                        if (!w.isSuccess()) {
                            promise.trySuccess(classify(w.cause(), startNs));
                        }
                    });
        });
        promise.addListener(p -> {
            timeout.cancel(false);
            // A channel that could not be created or registered (EMFILE) was closed by Netty already, and
            // close() on it throws "channel not registered to an event loop".
            if (connect.channel().isRegistered()) {
                connect.channel().close();
            }
        });
        return promise;
    }

    /**
     * Sorts an error of the socket into local error or backend failure: ICMP port unreachable
     * ({@code ECONNREFUSED}) and host unreachable ({@code EHOSTUNREACH}) fail the backend, so does anything
     * else that is not a local resource shortage.
     */
    static CheckOutcome classify(Throwable cause, long startNs) {
        if (Probe.isLocalResourceError(cause)) {
            return Probe.outcome(CheckResult.LOCAL_ERROR, "local error: " + describe(cause), startNs);
        }
        for (Throwable t = cause; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (t instanceof PortUnreachableException || m.contains("connection refused")) {
                return Probe.outcome(CheckResult.FAILURE, "ICMP port unreachable", startNs);
            }
            if (t instanceof NoRouteToHostException || m.contains("no route to host")
                    || m.contains("host is unreachable")) {
                return Probe.outcome(CheckResult.FAILURE, "ICMP host unreachable", startNs);
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return Probe.outcome(CheckResult.FAILURE, describe(cause), startNs);
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    /** Completes the promise from the first datagram back, or from an error the socket reports. */
    private static final class ReplyHandler extends ChannelInboundHandlerAdapter {
        private final Promise<CheckOutcome> promise;
        private final long startNs;
        private final UdpPayload expect;

        ReplyHandler(Promise<CheckOutcome> promise, long startNs, UdpPayload expect) {
            this.promise = promise;
            this.startNs = startNs;
            this.expect = expect;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                ByteBuf in = msg instanceof DatagramPacket p ? p.content() : msg instanceof ByteBuf b ? b : null;
                if (in == null || promise.isDone()) {
                    return;
                }
                int length = in.readableBytes();
                if (expect == null) {
                    promise.trySuccess(Probe.outcome(CheckResult.SUCCESS, "reply of " + length + " bytes", startNs));
                } else if (startsWith(in, expect)) {
                    promise.trySuccess(Probe.outcome(CheckResult.SUCCESS, "reply matches", startNs));
                } else {
                    promise.trySuccess(Probe.outcome(CheckResult.FAILURE, "reply of " + length
                            + " bytes does not start with the expected " + expect.length() + " bytes", startNs));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        static boolean startsWith(ByteBuf in, UdpPayload prefix) {
            if (in.readableBytes() < prefix.length()) {
                return false;
            }
            int base = in.readerIndex();
            for (int i = 0; i < prefix.length(); i++) {
                if (in.getByte(base + i) != prefix.byteAt(i)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            promise.trySuccess(classify(cause, startNs));
        }
    }
}
