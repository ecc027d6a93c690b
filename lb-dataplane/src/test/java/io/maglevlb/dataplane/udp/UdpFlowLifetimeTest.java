package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.dataplane.VipBindException;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How long flows live: idle expiry (client and backend traffic both count), replacement when the table or
 * the VIP's flow limit is full, and that every session socket is closed again. One event loop, so that every
 * flow lands in the same flow table.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpFlowLifetimeTest {
    private static final Duration SHORT_IDLE = Duration.ofMillis(300);
    private static EventLoopGroup group;

    @BeforeAll
    static void startLoop() {
        group = UdpHarness.epollLoops(1);
    }

    @AfterAll
    static void stopLoop() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static UdpHarness harness(UdpTestBackend.Mode mode, Duration idle, int maxFlows, int capacity)
            throws IOException, VipBindException {
        List<UdpTestBackend> backends = UdpHarness.startBackends(mode, "b1", "b2");
        return new UdpHarness(group, backends, UdpHarness.statesOf(backends), idle, maxFlows,
                new FlowTableConfig(capacity, 0), UdpTuning.defaults());
    }

    @Test
    void anIdleFlowExpiresAndComesBackAsANewFlow() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.NAME, SHORT_IDLE, 0, 1024);
                DatagramSocket c = UdpHarness.client()) {
            String first = h.askName(c);
            assertEquals(1, h.forwarder.stats().flowsActive());
            UdpHarness.await("the idle flow to expire", Duration.ofSeconds(5),
                    () -> h.forwarder.stats().flowsActive() == 0);
            UdpVipStats expired = h.forwarder.stats();
            assertEquals(1, expired.flowsEvicted(EvictionReason.IDLE));
            assertEquals(0, expired.backend(1).flowsActive() + expired.backend(2).flowsActive());

            assertEquals(first, h.askName(c), "the new flow is placed by the same table");
            UdpVipStats again = h.forwarder.stats();
            assertEquals(2, again.flowsCreated());
            assertEquals(1, again.flowsActive());
        }
    }

    @Test
    void trafficEitherWayKeepsAFlowAlive() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.TRICKLE, SHORT_IDLE, 0, 1024);
                DatagramSocket c = UdpHarness.client()) {
            // One client datagram, then replies 150 ms apart for 600 ms: longer than the idle timeout, so the
            // flow survives only if replies count as traffic.
            h.send(c, "start");
            byte[] buf = new byte[100];
            for (int i = 0; i < UdpTestBackend.TRICKLE_REPLIES; i++) {
                DatagramPacket in = new DatagramPacket(buf, buf.length);
                c.receive(in);
                assertEquals(h.vipAddress(), in.getSocketAddress());
                assertTrue(new String(buf, 0, in.getLength(), StandardCharsets.UTF_8).endsWith("\n"));
            }
            UdpVipStats stats = h.forwarder.stats();
            assertEquals(1, stats.flowsCreated());
            assertEquals(0, stats.flowsEvicted(EvictionReason.IDLE), "the flow expired while its backend talked");
            assertEquals(UdpTestBackend.TRICKLE_REPLIES, stats.datagramsToClients());
        }
    }

    @Test
    void aFullTableReplacesTheLeastRecentlySeenFlow() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.NAME, Duration.ofSeconds(60), 0, 4)) {
            DatagramSocket[] c = new DatagramSocket[5];
            try {
                for (int i = 0; i < c.length; i++) {
                    c[i] = UdpHarness.client();
                }
                for (int i = 0; i < 4; i++) {
                    h.askName(c[i]);
                }
                assertEquals(4, h.forwarder.stats().flowsActive());
                h.askName(c[4]); // table full: c0, seen longest ago, goes
                assertCounts(h, 5, 1);
                h.askName(c[1]); // still tracked
                assertCounts(h, 5, 1);
                h.askName(c[0]); // a new flow again; now c2 is the least recently seen
                assertCounts(h, 6, 2);
                h.askName(c[1]);
                h.askName(c[3]);
                h.askName(c[4]);
                assertCounts(h, 6, 2);
                h.askName(c[2]);
                assertCounts(h, 7, 3);
            } finally {
                for (DatagramSocket s : c) {
                    if (s != null) {
                        s.close();
                    }
                }
            }
        }
    }

    @Test
    void theVipFlowLimitReplacesTheLeastRecentlySeenFlow() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.NAME, Duration.ofSeconds(60), 3, 1024)) {
            DatagramSocket[] c = new DatagramSocket[4];
            try {
                for (int i = 0; i < c.length; i++) {
                    c[i] = UdpHarness.client();
                }
                for (int i = 0; i < 3; i++) {
                    h.askName(c[i]);
                }
                h.askName(c[0]);
                h.askName(c[3]); // over the limit of 3: c1 goes
                assertCounts(h, 4, 1);
                assertEquals(3, h.forwarder.stats().flowsActive());
                h.askName(c[0]);
                h.askName(c[2]);
                assertCounts(h, 4, 1);
                h.askName(c[1]);
                assertCounts(h, 5, 2);
                assertEquals(3, h.forwarder.stats().flowsActive());
            } finally {
                for (DatagramSocket s : c) {
                    if (s != null) {
                        s.close();
                    }
                }
            }
        }
    }

    private static void assertCounts(UdpHarness h, long created, long replaced) {
        UdpVipStats stats = h.forwarder.stats();
        assertEquals(created, stats.flowsCreated(), "flows created");
        assertEquals(replaced, stats.flowsEvicted(EvictionReason.CAPACITY), "flows replaced");
        assertEquals(created - replaced, stats.flowsActive() + stats.flowsEvicted(EvictionReason.IDLE));
    }

    /**
     * The process's descriptors are nearly all taken (here: a ceiling a few above the fds open now, as a 20,000-flow
     * burst under a 20,000 descriptor limit does): each new flow still gets a session, answered from the VIP,
     * in place of the least recently seen flow, and the sessions stay below the ceiling. Before, the sessions
     * took every descriptor and later new flows went stateless, their replies dropped.
     */
    @Test
    void atTheDescriptorCeilingANewFlowReplacesTheLeastRecentlySeenFlow() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2");
        int room = 8;
        long[] ceiling = new long[1];
        try (UdpHarness h = new UdpHarness(group, java.net.InetAddress.getLoopbackAddress(), backends,
                UdpHarness.statesOf(backends), Duration.ofSeconds(60), 0, new FlowTableConfig(64, 0),
                UdpTuning.defaults(), () -> ceiling[0])) {
            int flows = 40;
            DatagramSocket[] c = new DatagramSocket[flows];
            try {
                for (int i = 0; i < flows; i++) {
                    c[i] = UdpHarness.client();
                }
                ceiling[0] = highestFd() + 1 + room; // from here, `room` more descriptors
                long holes = ceiling[0] - room - openFds(); // free numbers below the highest: taken first
                for (int i = 0; i < flows; i++) {
                    h.askName(c[i]); // throws SocketTimeoutException when the flow got no session
                }
                UdpVipStats stats = h.forwarder.stats();
                assertEquals(flows, stats.flowsCreated(), "every flow had a session");
                assertEquals(0, stats.statelessDatagrams(), "no flow went stateless");
                // listing /proc/self/fd takes a descriptor or two itself: the counts are blurred by that much
                long slack = 2;
                String fds = "; ceiling " + ceiling[0] + ", highest fd " + highestFd() + ", replaced "
                        + stats.flowsEvicted(EvictionReason.CAPACITY);
                assertTrue(stats.flowsActive() <= room + holes + slack,
                        stats.flowsActive() + " sessions for " + (room + holes) + " descriptors" + fds);
                assertTrue(stats.flowsEvicted(EvictionReason.CAPACITY) >= flows - room - holes - slack,
                        "too few flows replaced" + fds);
                assertTrue(highestFd() <= ceiling[0] + slack - 1, "the sessions took the reserve" + fds);
                assertEquals(h.expectedBackend((java.net.InetSocketAddress) c[0].getLocalSocketAddress()),
                        h.askName(c[0]), "a replaced flow comes back on its backend");
            } finally {
                for (DatagramSocket s : c) {
                    if (s != null) {
                        s.close();
                    }
                }
            }
        }
    }

    /** The highest open fd number of this process. */
    static long highestFd() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.mapToLong(p -> Long.parseLong(p.getFileName().toString())).max().orElse(0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void afterStopAcceptingTrackedFlowsGoOnUntilIdleAndNewOnesAreRefused() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.NAME, SHORT_IDLE, 0, 1024);
                DatagramSocket tracked = UdpHarness.client();
                DatagramSocket late = UdpHarness.client()) {
            String backend = h.askName(tracked);
            h.forwarder.stopAccepting();
            assertEquals(backend, h.askName(tracked), "a tracked flow goes on");
            h.send(late, "let me in");
            UdpHarness.await("the new flow to be refused", Duration.ofSeconds(5),
                    () -> h.forwarder.stats().dropped(UdpDropReason.NOT_ACCEPTING) == 1);
            assertTrue(UdpHarness.silentFor(late, Duration.ofMillis(50)));
            assertEquals(1, h.forwarder.activeConnections());
            UdpHarness.await("the tracked flow to go idle", Duration.ofSeconds(5),
                    () -> h.forwarder.activeConnections() == 0);
        }
    }

    @Test
    void sessionSocketsAreClosedWhenTheirFlowsEnd() throws Exception {
        try (UdpHarness h = harness(UdpTestBackend.Mode.NAME, Duration.ofSeconds(2), 0, 4096)) {
            long before = openFds();
            for (int i = 0; i < 500; i++) {
                try (DatagramSocket c = UdpHarness.client()) {
                    h.askName(c);
                }
            }
            int live = h.forwarder.activeConnections();
            long held = openFds() - before;
            // One socket per live flow (a few flows may expire between the two reads).
            assertTrue(held >= live - 10, live + " live flows but only " + held + " more descriptors");
            UdpHarness.await("all flows to expire", Duration.ofSeconds(10),
                    () -> h.forwarder.activeConnections() == 0);
            UdpHarness.await("session sockets to close", Duration.ofSeconds(5), () -> openFds() <= before + 10);
            UdpVipStats stats = h.forwarder.stats();
            assertEquals(stats.flowsCreated(), stats.flowsEvicted(EvictionReason.IDLE));
            assertTrue(stats.flowsCreated() > 400, "flows " + stats.flowsCreated());
        }
    }

    static long openFds() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
