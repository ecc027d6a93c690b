package io.maglevlb.dataplane.udp;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.SocketProtocolFamily;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Not a test: a bounded local load that compares the forwarder's batching settings (recvmmsg on the VIP
 * sockets, deferred flushes that let Netty use sendmmsg). Closed loop on loopback: F client flows keep W
 * datagrams each in flight through a one-loop forwarder to a one-loop echo backend; every setting runs R
 * times, interleaved, and the medians are printed. Reported: round trips per second, and CPU time of the
 * forwarder's event loop thread per datagram it forwarded (both directions), which depends less on what
 * else the machine runs. Command: see docs/udp.md.
 *
 * <p>Arguments (all optional): {@code seconds flows window payloadBytes runs}; defaults 4 32 8 64 3.
 */
public final class UdpBatchingBench {
    private record Setting(String name, UdpTuning tuning) {}

    private record Result(double roundTripsPerSec, double cpuNsPerDatagram, long kernelDrops, String drops) {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int flows = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int window = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        int payload = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        int runs = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        UdpTuning base = UdpTuning.defaults();
        List<Setting> settings = List.of(
                new Setting("recvmsg, flush each", base.withRecvBatch(1).withDeferFlush(false)),
                new Setting("recvmmsg 16, flush each", base.withRecvBatch(16).withDeferFlush(false)),
                new Setting("recvmsg, batch flush", base.withRecvBatch(1).withDeferFlush(true)),
                new Setting("recvmmsg 16, batch flush, no GSO",
                        base.withRecvBatch(16).withDeferFlush(true).withSegmentOffload(false)),
                new Setting("recvmmsg 16, batch flush", base.withRecvBatch(16).withDeferFlush(true)),
                new Setting("recvmmsg 64, batch flush", base.withRecvBatch(64).withDeferFlush(true)));
        System.out.printf("UDP batching: %d s per run, %d flows x %d in flight, %d-byte payload, %d runs%n",
                seconds, flows, window, payload, runs);
        // JIT warm-up of the whole path, discarded, so the first measured setting is not penalized.
        measure(base, 2, flows, window, payload);
        double[][] rate = new double[settings.size()][runs];
        double[][] cpu = new double[settings.size()][runs];
        for (int r = 0; r < runs; r++) {
            for (int s = 0; s < settings.size(); s++) {
                Result result = measure(settings.get(s).tuning(), seconds, flows, window, payload);
                rate[s][r] = result.roundTripsPerSec();
                cpu[s][r] = result.cpuNsPerDatagram();
                System.out.printf("  run %d %-26s %9.0f round trips/s %7.0f ns CPU/datagram  kernel drops %d%s%n",
                        r + 1, settings.get(s).name(), result.roundTripsPerSec(), result.cpuNsPerDatagram(),
                        result.kernelDrops(), result.drops());
            }
        }
        System.out.println();
        System.out.printf("%-26s %16s %22s%n", "setting", "round trips/s", "forwarder ns/datagram");
        for (int s = 0; s < settings.size(); s++) {
            System.out.printf("%-26s %16.0f %22.0f%n", settings.get(s).name(), median(rate[s]), median(cpu[s]));
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static Result measure(UdpTuning tuning, int seconds, int flows, int window, int payloadBytes)
            throws Exception {
        MultiThreadIoEventLoopGroup backendLoop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        MultiThreadIoEventLoopGroup forwarderLoop = Transport.epoll().newEventLoopGroup(1, "udp-forwarder");
        MultiThreadIoEventLoopGroup clientLoop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try {
            EpollDatagramChannel backend = new EpollDatagramChannel(SocketProtocolFamily.INET);
            backend.config().setOption(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, 2048);
            backend.config().setRecvByteBufAllocator(new FixedRecvByteBufAllocator(2048 * 16));
            backend.config().setReceiveBufferSize(4 << 20);
            backend.pipeline().addLast(new Echo());
            EventLoop bl = backendLoop.next();
            bl.register(backend).sync();
            backend.bind(new InetSocketAddress(loopback, 0)).sync();
            InetSocketAddress backendAddress = backend.localAddress();

            ForwardingSnapshot snapshot = ForwardingSnapshot.build("bench", 1, 65537,
                    List.of(new BackendState(1, "echo", backendAddress, 1, false, true)));
            VipConfig vip = new VipConfig("bench", new InetSocketAddress(loopback, 0), Protocol.UDP,
                    ForwardingMode.PROXY, HashMode.FIVE_TUPLE, 65537,
                    List.of(new BackendConfig("echo", backendAddress, 1)), HealthCheckConfig.defaults(), 0,
                    VipConfig.DEFAULT_CONNECT_TIMEOUT, VipConfig.DEFAULT_CONNECT_RETRIES, Duration.ofSeconds(60),
                    ProxyProtocol.NONE, Optional.empty());
            try (UdpForwarder forwarder = UdpForwarder.start(vip, new SnapshotHolder(snapshot), forwarderLoop,
                    Transport.epoll(), FlowTableConfig.defaults(), tuning)) {
                long loopThread = forwarderLoop.next().submit(() -> Thread.currentThread().threadId()).get();
                Client client = new Client(window, payloadBytes, forwarder.localAddress());
                EventLoop cl = clientLoop.next();
                List<EpollDatagramChannel> clientChannels = new ArrayList<>();
                for (int i = 0; i < flows; i++) {
                    EpollDatagramChannel ch = new EpollDatagramChannel(SocketProtocolFamily.INET);
                    ch.config().setReceiveBufferSize(1 << 20);
                    ch.pipeline().addLast(client);
                    cl.register(ch).sync();
                    ch.bind(new InetSocketAddress(loopback, 0)).sync();
                    clientChannels.add(ch);
                }
                cl.submit(() -> clientChannels.forEach(client::fill)).sync();
                // Refill windows that lost datagrams (UDP may drop), on the client loop.
                cl.scheduleAtFixedRate(() -> clientChannels.forEach(client::refillIfStalled), 500, 500,
                        TimeUnit.MILLISECONDS);

                Thread.sleep(1000); // warm-up
                ThreadMXBean threads = ManagementFactory.getThreadMXBean();
                long replies0 = client.replies;
                UdpVipStats s0 = forwarder.stats();
                long cpu0 = threads.getThreadCpuTime(loopThread);
                long t0 = System.nanoTime();
                Thread.sleep(seconds * 1000L);
                long replies1 = client.replies;
                UdpVipStats s1 = forwarder.stats();
                long cpu1 = threads.getThreadCpuTime(loopThread);
                long t1 = System.nanoTime();
                long forwarded = (s1.datagramsToBackends() + s1.datagramsToClients())
                        - (s0.datagramsToBackends() + s0.datagramsToClients());
                for (EpollDatagramChannel ch : clientChannels) {
                    ch.close().sync();
                }
                StringBuilder drops = new StringBuilder();
                for (UdpDropReason reason : UdpDropReason.values()) {
                    long n = s1.dropped(reason) - s0.dropped(reason);
                    if (n > 0) {
                        drops.append(", dropped ").append(reason.metricName()).append(' ').append(n);
                    }
                }
                return new Result((replies1 - replies0) * 1e9 / (t1 - t0),
                        forwarded == 0 ? Double.NaN : (double) (cpu1 - cpu0) / forwarded,
                        s1.kernelReceiveDrops(), drops.toString());
            }
        } finally {
            clientLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            forwarderLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            backendLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Echo backend: every datagram back to its sender, flushed once per read batch. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket p = (DatagramPacket) msg;
            ctx.write(new DatagramPacket(p.content(), p.sender()), ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }

    /** All client flows on one loop: each reply is answered by the next datagram of that flow. */
    @Sharable
    private static final class Client extends ChannelInboundHandlerAdapter {
        private final int window;
        private final int payloadBytes;
        private final InetSocketAddress vip;
        /** Written by the client loop, read by main: a stale read only shortens the measured window. */
        volatile long replies;
        private final java.util.Map<io.netty.channel.Channel, long[]> progress = new java.util.HashMap<>();

        Client(int window, int payloadBytes, InetSocketAddress vip) {
            this.window = window;
            this.payloadBytes = payloadBytes;
            this.vip = vip;
        }

        void fill(EpollDatagramChannel ch) {
            progress.put(ch, new long[2]);
            for (int i = 0; i < window; i++) {
                send(ch);
            }
            ch.flush();
        }

        /** Runs every 500 ms: a flow without a reply since the last run lost its whole window; resend it. */
        void refillIfStalled(EpollDatagramChannel ch) {
            long[] p = progress.get(ch);
            if (p != null && p[0] == p[1]) { // no reply since the last check: the window was lost
                for (int i = 0; i < window; i++) {
                    send(ch);
                }
                ch.flush();
            }
            if (p != null) {
                p[1] = p[0];
            }
        }

        private void send(io.netty.channel.Channel ch) {
            ByteBuf buf = ch.alloc().directBuffer(payloadBytes);
            buf.writerIndex(payloadBytes);
            ch.write(new DatagramPacket(buf, vip), ch.voidPromise());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((DatagramPacket) msg).release();
            replies++;
            long[] p = progress.get(ctx.channel());
            if (p != null) {
                p[0]++;
            }
            send(ctx.channel());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }
    }
}
