package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.dataplane.Transport;
import io.netty.channel.EventLoopGroup;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Backends that misbehave, traffic the sockets cannot hold, and the largest datagrams. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpFailureTest {
    private static EventLoopGroup group;

    @BeforeAll
    static void startLoops() {
        group = UdpHarness.epollLoops(2);
    }

    @AfterAll
    static void stopLoops() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aBackendThatNeverAnswersCostsOnlyItsOwnFlows() throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("silent", UdpTestBackend.Mode.SILENT));
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends), Duration.ofMillis(300),
                0, FlowTableConfig.defaults(), UdpTuning.defaults());
                DatagramSocket c = UdpHarness.client()) {
            for (int i = 0; i < 3; i++) {
                h.send(c, "anyone?");
            }
            UdpHarness.await("the backend to get 3 datagrams", Duration.ofSeconds(5),
                    () -> backends.get(0).received() == 3);
            assertTrue(UdpHarness.silentFor(c, Duration.ofMillis(200)));
            UdpHarness.await("the unanswered flow to expire", Duration.ofSeconds(5),
                    () -> h.forwarder.stats().flowsActive() == 0);
            UdpVipStats stats = h.forwarder.stats();
            assertEquals(3, stats.datagramsToBackends());
            assertEquals(0, stats.datagramsFromBackends());
            assertEquals(0, stats.droppedTotal());
        }
    }

    @Test
    void aClosedBackendPortDoesNotHurtTheVipOrOtherFlows() throws Exception {
        UdpTestBackend alive = new UdpTestBackend("alive", UdpTestBackend.Mode.NAME);
        InetSocketAddress closedPort;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            closedPort = (InetSocketAddress) probe.getLocalSocketAddress(); // free again once closed
        }
        List<BackendState> states = List.of(new BackendState(1, "alive", alive.address(), 1, false, true),
                new BackendState(2, "dead", closedPort, 1, false, true));
        try (UdpHarness h = new UdpHarness(group, List.of(alive), states)) {
            List<DatagramSocket> toDead = new ArrayList<>();
            List<DatagramSocket> toAlive = new ArrayList<>();
            try {
                while (toDead.size() < 5 || toAlive.size() < 5) {
                    DatagramSocket c = UdpHarness.client();
                    String target = h.expectedBackend((InetSocketAddress) c.getLocalSocketAddress());
                    List<DatagramSocket> bucket = "dead".equals(target) ? toDead : toAlive;
                    if (bucket.size() < 5) {
                        bucket.add(c);
                    } else {
                        c.close();
                    }
                }
                // Each datagram to the closed port comes back as ICMP port unreachable on its session socket.
                for (int round = 0; round < 3; round++) {
                    for (DatagramSocket c : toDead) {
                        h.send(c, "hello?");
                    }
                    Thread.sleep(20);
                }
                UdpHarness.await("ICMP errors to be counted", Duration.ofSeconds(5),
                        () -> h.forwarder.stats().backend(2).unreachable() >= 5);
                for (DatagramSocket c : toAlive) {
                    assertEquals("alive", h.askName(c));
                }
                for (DatagramSocket c : toDead) {
                    assertTrue(UdpHarness.silentFor(c, Duration.ofMillis(20)));
                }
                UdpVipStats stats = h.forwarder.stats();
                assertEquals(10, stats.flowsActive(), "sessions of the dead backend stay until idle");
                assertEquals(10, stats.flowsCreated());
                assertEquals(0, stats.vipSocketErrors());
                assertEquals(0, stats.sessionOpenFailures());
                assertTrue(stats.backendUnreachable() >= 5);
                // The control plane's passive health signal reads the same per-backend count without stats().
                long perBackend = h.forwarder.backendUnreachable(2);
                assertTrue(perBackend >= stats.backend(2).unreachable() && perBackend >= 5, () -> perBackend + " vs "
                        + stats.backend(2));
                assertEquals(0, h.forwarder.backendUnreachable(1), "the live backend sent no ICMP error");
                assertEquals(0, h.forwarder.backendUnreachable(99), "an id no backend has");

                // The backend comes back on its port: the same sessions (sockets) reach it again.
                try (UdpTestBackend back = new UdpTestBackend("dead", UdpTestBackend.Mode.NAME, 0, closedPort)) {
                    for (DatagramSocket c : toDead) {
                        assertEquals("dead", h.askName(c));
                    }
                    assertEquals(10, h.forwarder.stats().flowsCreated(), "no session was replaced");
                    assertEquals(5, back.peers.size(), "one session socket per flow");
                }
                // The VIP sockets still take new flows.
                try (DatagramSocket fresh = UdpHarness.client()) {
                    String target = h.expectedBackend((InetSocketAddress) fresh.getLocalSocketAddress());
                    if ("alive".equals(target)) {
                        assertEquals("alive", h.askName(fresh));
                    }
                }
            } finally {
                toDead.forEach(DatagramSocket::close);
                toAlive.forEach(DatagramSocket::close);
            }
        }
    }

    @Test
    void aBurstLargerThanTheSocketBuffersIsCountedAndForwardingGoesOn() throws Exception {
        // A small VIP receive buffer, so the burst surely overflows it.
        UdpTuning tuning = UdpTuning.defaults().withVipReceiveBufferBytes(64 << 10);
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("sink", UdpTestBackend.Mode.SILENT, 64 << 10));
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends),
                VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, FlowTableConfig.defaults(), tuning)) {
            int perClient = 10_000;
            byte[] payload = new byte[1400];
            List<DatagramSocket> clients = new ArrayList<>();
            long sent = 0;
            try {
                for (int i = 0; i < 4; i++) {
                    clients.add(UdpHarness.client());
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                for (int n = 0; n < perClient && System.nanoTime() < deadline; n++) {
                    for (DatagramSocket c : clients) {
                        c.send(new DatagramPacket(payload, payload.length, h.vipAddress()));
                        sent++;
                    }
                }
            } finally {
                clients.forEach(DatagramSocket::close);
            }
            long total = sent;
            // Quiet: the counters stop moving once the loops have drained the sockets.
            UdpHarness.await("the forwarder to drain", Duration.ofSeconds(10), new java.util.function.BooleanSupplier() {
                long last = -1;

                @Override
                public boolean getAsBoolean() {
                    long now = h.forwarder.stats().datagramsFromClients();
                    boolean quiet = now == last;
                    last = now;
                    return quiet;
                }
            });
            UdpVipStats stats = h.forwarder.stats();
            // Every datagram the forwarder read was either handed to a backend socket or counted as dropped.
            assertEquals(stats.datagramsFromClients(), stats.datagramsToBackends() + stats.droppedTotal());
            assertTrue(stats.kernelReceiveDrops() >= 0, "kernel drops of the VIP sockets are readable");
            assertTrue(stats.datagramsFromClients() + stats.kernelReceiveDrops() <= total);
            assertTrue(stats.datagramsFromClients() == total || stats.kernelReceiveDrops() > 0,
                    "lost " + (total - stats.datagramsFromClients()) + " of " + total + " without a count");
            assertTrue(backends.get(0).received() <= stats.datagramsToBackends());

            // Still forwarding.
            long before = backends.get(0).received();
            try (DatagramSocket c = UdpHarness.client()) {
                h.send(c, "after the storm");
                UdpHarness.await("a datagram after the burst", Duration.ofSeconds(5),
                        () -> backends.get(0).received() > before);
            }
        }
    }

    /**
     * A burst of one flow's datagrams of mixed sizes: runs of one size leave the forwarder as UDP GSO messages both
     * ways (and sizes above the GSO limit, empty-free, one per message), and every datagram arrives intact, in order.
     */
    @ParameterizedTest(name = "segmentOffload={0}")
    @ValueSource(booleans = {true, false})
    void aBurstOfMixedSizesCrossesIntactAndInOrder(boolean segmentOffload) throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("echo", UdpTestBackend.Mode.ECHO, 4 << 20));
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends),
                VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, FlowTableConfig.defaults(),
                UdpTuning.defaults().withSegmentOffload(segmentOffload));
                DatagramSocket c = UdpHarness.client()) {
            c.setReceiveBufferSize(4 << 20);
            c.setSoTimeout((int) UdpHarness.REPLY_TIMEOUT.toMillis());
            int[] pattern = {64, 64, 64, 64, 10, 64, 1452, 1452, 1452, 1, 1453, 1453, 9000, 64, 63, 62, 200, 200};
            SplittableRandom random = new SplittableRandom(18);
            List<byte[]> sent = new ArrayList<>();
            byte[] buf = new byte[65535];
            for (int round = 0; round < 8; round++) { // a burst per round, then its replies (within any buffer)
                int first = sent.size();
                for (int size : pattern) {
                    byte[] payload = new byte[size];
                    random.nextBytes(payload);
                    payload[0] = (byte) sent.size();
                    sent.add(payload);
                    c.send(new DatagramPacket(payload, payload.length, h.vipAddress()));
                }
                for (int i = first; i < sent.size(); i++) {
                    DatagramPacket in = new DatagramPacket(buf, buf.length);
                    c.receive(in);
                    assertArrayEquals(sent.get(i), Arrays.copyOf(buf, in.getLength()),
                            "datagram " + i + " (" + sent.get(i).length + " bytes)");
                }
            }
            UdpVipStats stats = h.forwarder.stats();
            assertEquals(sent.size(), stats.datagramsToBackends());
            assertEquals(sent.size(), stats.datagramsToClients());
            assertEquals(0, stats.droppedTotal());
        }
    }

    @ParameterizedTest(name = "recvBatch={0}")
    @ValueSource(ints = {1, 16})
    void theLargestDatagramCrossesIntactBothWays(int recvBatch) throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("echo", UdpTestBackend.Mode.ECHO));
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends),
                VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, FlowTableConfig.defaults(),
                UdpTuning.defaults().withRecvBatch(recvBatch));
                DatagramSocket c = UdpHarness.client()) {
            c.setReceiveBufferSize(1 << 20);
            SplittableRandom random = new SplittableRandom(65507);
            for (int size : new int[] {UdpTuning.MAX_DATAGRAM_BYTES, 1, 40_000, UdpTuning.MAX_DATAGRAM_BYTES}) {
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                assertArrayEquals(payload, h.askBytes(c, payload), size + "-byte datagram changed on the way");
            }
            UdpVipStats stats = h.forwarder.stats();
            long bytes = 2L * UdpTuning.MAX_DATAGRAM_BYTES + 1 + 40_000;
            assertEquals(bytes, stats.bytesToBackends());
            assertEquals(bytes, stats.bytesToClients());
        }
    }

    @Test
    void aVipAddressInUseIsRefusedEvenByAnotherReusePortSocket() throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("b1", UdpTestBackend.Mode.NAME));
        try (UdpHarness first = new UdpHarness(group, backends, UdpHarness.statesOf(backends))) {
            VipConfig sameAddress = new VipConfig("second", first.vipAddress(), first.vip.protocol(),
                    first.vip.mode(), first.vip.hash(), first.vip.tableSize(), first.vip.backends(),
                    first.vip.healthCheck(), 0, first.vip.connectTimeout(), first.vip.connectRetries(),
                    first.vip.idleTimeout(), first.vip.proxyProtocol(), first.vip.dsr());
            io.maglevlb.dataplane.VipBindException e = org.junit.jupiter.api.Assertions.assertThrows(
                    io.maglevlb.dataplane.VipBindException.class,
                    () -> UdpForwarder.start(sameAddress, first.snapshot, group, Transport.epoll(),
                            FlowTableConfig.defaults(), UdpTuning.defaults()));
            assertTrue(e.getMessage().contains("vip second") && e.getMessage().contains("in use"), e.getMessage());
            try (DatagramSocket c = UdpHarness.client()) {
                assertEquals("b1", first.askName(c), "the first forwarder is untouched");
            }
        }
    }

    @Test
    void emptyDatagramsAreCountedAsDropped() throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("echo", UdpTestBackend.Mode.ECHO));
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends));
                DatagramSocket c = UdpHarness.client()) {
            c.send(new DatagramPacket(new byte[0], 0, h.vipAddress()));
            UdpHarness.await("the empty datagram to be counted", Duration.ofSeconds(5),
                    () -> h.forwarder.stats().dropped(UdpDropReason.EMPTY) == 1);
            assertEquals(0, h.forwarder.stats().flowsCreated(), "an empty datagram creates no flow");
            assertEquals("x", h.ask(c, "x"));
        }
    }

    @Test
    void untrackedFlowsAreForwardedStatelesslyAndTheirRepliesCounted() throws Exception {
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("b1", UdpTestBackend.Mode.NAME));
        // Flood threshold 2: the third new flow within a second is not tracked.
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends),
                VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, new FlowTableConfig(1024, 2), UdpTuning.defaults())) {
            List<DatagramSocket> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 6; i++) {
                    DatagramSocket c = UdpHarness.client();
                    clients.add(c);
                    h.send(c, "x");
                }
                UdpHarness.await("all 6 datagrams at the backend", Duration.ofSeconds(5),
                        () -> backends.get(0).received() == 6);
                UdpHarness.await("the stateless replies to be counted", Duration.ofSeconds(5),
                        () -> h.forwarder.stats().dropped(UdpDropReason.STATELESS_REPLY) > 0);
                UdpVipStats stats = h.forwarder.stats();
                // Each loop has its own table and threshold: 2 loops track at most 4 of the 6 flows.
                assertTrue(stats.statelessDatagrams() >= 2, "stateless " + stats.statelessDatagrams());
                assertEquals(6, stats.statelessDatagrams() + stats.flowsCreated());
                assertEquals(6, stats.datagramsToBackends());
                UdpHarness.await("every reply accounted for", Duration.ofSeconds(5),
                        () -> h.forwarder.stats().datagramsToClients()
                                + h.forwarder.stats().dropped(UdpDropReason.STATELESS_REPLY) == 6);
            } finally {
                clients.forEach(DatagramSocket::close);
            }
        }
    }
}
