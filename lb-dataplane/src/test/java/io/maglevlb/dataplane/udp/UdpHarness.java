package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.DescriptorReserve;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/** A UDP VIP forwarded to real test backends on loopback, with a snapshot the test publishes itself. */
final class UdpHarness implements AutoCloseable {
    static final int TABLE_SIZE = 65537;
    static final Duration REPLY_TIMEOUT = Duration.ofSeconds(5);

    private final AtomicLong generation = new AtomicLong();
    final SnapshotHolder snapshot;
    final List<UdpTestBackend> backends;
    final UdpForwarder forwarder;
    final VipConfig vip;

    /** Forwards to {@code backends} (closed with the harness), described to the forwarder by {@code states}. */
    UdpHarness(EventLoopGroup group, List<UdpTestBackend> backends, List<BackendState> states, Duration idleTimeout,
            int maxFlows, FlowTableConfig flowTable, UdpTuning tuning)
            throws IOException, VipBindException {
        this(group, InetAddress.getLoopbackAddress(), backends, states, idleTimeout, maxFlows, flowTable, tuning);
    }

    UdpHarness(EventLoopGroup group, InetAddress vipAddress, List<UdpTestBackend> backends, List<BackendState> states,
            Duration idleTimeout, int maxFlows, FlowTableConfig flowTable, UdpTuning tuning)
            throws IOException, VipBindException {
        this(group, vipAddress, backends, states, idleTimeout, maxFlows, flowTable, tuning,
                DescriptorReserve::udpSessionCeiling);
    }

    /** ... with the loops reading the descriptor ceiling from {@code descriptorCeiling}. */
    UdpHarness(EventLoopGroup group, InetAddress vipAddress, List<UdpTestBackend> backends, List<BackendState> states,
            Duration idleTimeout, int maxFlows, FlowTableConfig flowTable, UdpTuning tuning,
            LongSupplier descriptorCeiling) throws IOException, VipBindException {
        this.backends = backends;
        this.snapshot = new SnapshotHolder(build(states));
        List<BackendConfig> configs = new ArrayList<>();
        for (BackendState b : states) {
            configs.add(new BackendConfig(b.name(), b.address(), b.weight()));
        }
        this.vip = new VipConfig("udp-test", new InetSocketAddress(vipAddress, 0),
                Protocol.UDP, ForwardingMode.PROXY, HashMode.FIVE_TUPLE, TABLE_SIZE, configs,
                HealthCheckConfig.defaults(), maxFlows, VipConfig.DEFAULT_CONNECT_TIMEOUT,
                VipConfig.DEFAULT_CONNECT_RETRIES, idleTimeout, ProxyProtocol.NONE, Optional.empty());
        this.forwarder = new UdpForwarder(vip, snapshot, group, transport(group), flowTable, tuning)
                .descriptorCeiling(descriptorCeiling);
        forwarder.start();
    }

    UdpHarness(EventLoopGroup group, List<UdpTestBackend> backends, List<BackendState> states)
            throws IOException, VipBindException {
        this(group, backends, states, VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, FlowTableConfig.defaults(),
                UdpTuning.defaults());
    }

    /** Publishes a new snapshot of the VIP built from {@code states}, as the control plane would. */
    ForwardingSnapshot publish(Collection<BackendState> states) {
        ForwardingSnapshot s = build(states);
        snapshot.publish(s);
        return s;
    }

    private ForwardingSnapshot build(Collection<BackendState> states) {
        return ForwardingSnapshot.build("udp-test", generation.incrementAndGet(), TABLE_SIZE, states);
    }

    /** The transport a test group was made with (tests make them with {@link #epollLoops} or {@link #nioLoops}). */
    static Transport transport(EventLoopGroup group) {
        return group.next() instanceof io.netty.channel.IoEventLoop io
                && io.isIoType(io.netty.channel.nio.NioIoHandler.class) ? Transport.nio() : Transport.epoll();
    }

    static io.netty.channel.MultiThreadIoEventLoopGroup epollLoops(int n) {
        return Transport.epoll().newEventLoopGroup(n, "udp-test");
    }

    static io.netty.channel.MultiThreadIoEventLoopGroup nioLoops(int n) {
        return Transport.nio().newEventLoopGroup(n, "udp-test-nio");
    }

    InetSocketAddress vipAddress() {
        return forwarder.localAddress();
    }

    /** The backend name the current snapshot's Maglev table gives a new flow from {@code client}. */
    String expectedBackend(InetSocketAddress client) {
        ForwardingSnapshot s = snapshot.current();
        long hash = flowHash(client, vipAddress());
        BackendState b = s.backend(s.backendFor(hash));
        return b == null ? null : b.name();
    }

    /** The flow hash as the forwarder computes it, written out independently of its code. */
    static long flowHash(InetSocketAddress client, InetSocketAddress vip) {
        long[] src = twoLongs(client.getAddress());
        long[] dst = twoLongs(vip.getAddress());
        return FlowHash.fiveTuple(17, src[0], src[1], client.getPort(), dst[0], dst[1], vip.getPort());
    }

    private static long[] twoLongs(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 4) {
            int ip = ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
            return new long[] {FlowHash.v4Hi(), FlowHash.v4Lo(ip)};
        }
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b);
        return new long[] {buf.getLong(), buf.getLong()};
    }

    /** A client socket on 127.0.0.1 with an ephemeral port: one flow. */
    static DatagramSocket client() throws IOException {
        return client(InetAddress.getLoopbackAddress());
    }

    static DatagramSocket client(InetAddress bindAddress) throws IOException {
        DatagramSocket s = new DatagramSocket(new InetSocketAddress(bindAddress, 0));
        s.setSoTimeout((int) REPLY_TIMEOUT.toMillis());
        return s;
    }

    /** Sends {@code payload} to the VIP and returns the reply, checking it came from the VIP address and port. */
    String ask(DatagramSocket client, String payload) throws IOException {
        byte[] reply = askBytes(client, payload.getBytes(StandardCharsets.UTF_8));
        return new String(reply, StandardCharsets.UTF_8);
    }

    byte[] askBytes(DatagramSocket client, byte[] payload) throws IOException {
        client.send(new DatagramPacket(payload, payload.length, vipAddress()));
        byte[] buf = new byte[65535];
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        client.receive(in);
        assertEquals(vipAddress(), in.getSocketAddress(), "reply must come from the VIP address and port");
        byte[] out = new byte[in.getLength()];
        System.arraycopy(buf, 0, out, 0, in.getLength());
        return out;
    }

    /** The name a NAME backend answered with. */
    String askName(DatagramSocket client) throws IOException {
        String reply = ask(client, "hello");
        if (!reply.endsWith("\n")) {
            fail("unexpected reply '" + reply + "'");
        }
        return reply.substring(0, reply.length() - 1);
    }

    /** Sends without waiting for an answer. */
    void send(DatagramSocket client, String payload) throws IOException {
        byte[] b = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(b, b.length, vipAddress()));
    }

    /** True if no datagram arrives within {@code wait}. */
    static boolean silentFor(DatagramSocket client, Duration wait) throws IOException {
        int old = client.getSoTimeout();
        client.setSoTimeout((int) wait.toMillis());
        try {
            client.receive(new DatagramPacket(new byte[65535], 65535));
            return false;
        } catch (SocketTimeoutException e) {
            return true;
        } finally {
            client.setSoTimeout(old);
        }
    }

    /** Polls {@code condition} every 20 ms for up to {@code timeout}. */
    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + timeout + " waiting for: " + what);
            }
            Thread.sleep(20);
        }
    }

    UdpTestBackend backend(String name) {
        for (UdpTestBackend b : backends) {
            if (b.name.equals(name)) {
                return b;
            }
        }
        throw new IllegalArgumentException(name);
    }

    @Override
    public void close() {
        forwarder.close();
        for (UdpTestBackend b : backends) {
            b.close();
        }
    }

    /** Starts backends with these names (ids 1..n in that order). */
    static List<UdpTestBackend> startBackends(UdpTestBackend.Mode mode, String... names) throws IOException {
        List<UdpTestBackend> started = new ArrayList<>();
        for (String name : names) {
            started.add(new UdpTestBackend(name, mode));
        }
        return started;
    }

    /** Their states: ids 1..n in list order, weight 1, healthy, not drained. */
    static List<BackendState> statesOf(List<UdpTestBackend> backends) {
        List<BackendState> states = new ArrayList<>();
        int id = 1;
        for (UdpTestBackend b : backends) {
            states.add(new BackendState(id++, b.name, b.address(), 1, false, true));
        }
        return states;
    }
}
