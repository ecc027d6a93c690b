package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendState;
import io.netty.channel.EventLoopGroup;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Placement and stickiness of UDP flows through the epoll forwarder with two SO_REUSEPORT sockets, real
 * client sockets and real backends on loopback.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpForwardingTest {
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
    void everyFlowGoesWhereTheMaglevTableSaysAndStaysThere() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2", "b3");
        List<BackendState> states = UdpHarness.statesOf(backends);
        // b1 weighs 2: it should own half of the table and get about half of the flows.
        states.set(0, new BackendState(1, "b1", backends.get(0).address(), 2, false, true));
        try (UdpHarness h = new UdpHarness(group, backends, states)) {
            assertEquals(2, h.forwarder.sockets());
            int flows = 2000;
            // Each client binds its own source address (127.0.x.y), so the 2000 flows are distinct.
            Map<InetSocketAddress, String> flowBackend = new HashMap<>();
            for (int i = 0; i < flows; i++) {
                try (DatagramSocket client = UdpHarness.client(source(i))) {
                    InetSocketAddress from = (InetSocketAddress) client.getLocalSocketAddress();
                    String first = h.askName(client);
                    String second = h.askName(client);
                    assertEquals(first, second, "both replies of flow " + from + " must come from one backend");
                    assertEquals(h.expectedBackend(from), first, "flow " + from + " placed off the Maglev table");
                    flowBackend.put(from, first);
                }
            }
            assertEquals(flows, flowBackend.size());
            Map<String, Integer> perBackend = new HashMap<>();
            for (String name : flowBackend.values()) {
                perBackend.merge(name, 1, Integer::sum);
            }
            // Table shares 1/2, 1/4, 1/4: binomial sd for 2000 flows is about 22 and 19; allow 5 sd.
            assertShare(perBackend.getOrDefault("b1", 0), flows / 2.0, 110);
            assertShare(perBackend.getOrDefault("b2", 0), flows / 4.0, 100);
            assertShare(perBackend.getOrDefault("b3", 0), flows / 4.0, 100);

            UdpVipStats stats = h.forwarder.stats();
            assertEquals(flows, stats.flowsCreated());
            assertEquals(flows, stats.flowsActive(), "idle timeout is 60 s: every flow is still tracked");
            assertEquals(2L * flows, stats.datagramsFromClients());
            assertEquals(2L * flows, stats.datagramsToBackends());
            assertEquals(2L * flows, stats.datagramsToClients());
            assertEquals(0, stats.droppedTotal());
            // SO_REUSEPORT: the kernel spread the flows over both loops' sockets, each with its own table.
            for (io.maglevlb.core.conntrack.FlowTable table : h.forwarder.flowTables()) {
                assertTrue(table.size() > flows / 4, "flows on one loop: " + table.size());
            }
            for (String name : List.of("b1", "b2", "b3")) {
                UdpBackendStats b = stats.backend(name);
                assertEquals(perBackend.get(name).longValue(), b.flowsCreated(), name);
                assertEquals(perBackend.get(name).longValue(), b.flowsActive(), name);
                assertEquals(backends.get(Integer.parseInt(name.substring(1)) - 1).received(),
                        b.datagramsToBackend(), name);
            }
        }
    }

    /** Client address number {@code i}: 127.0.x.y. */
    private static InetAddress source(int i) throws java.net.UnknownHostException {
        return InetAddress.getByAddress(new byte[] {127, 0, (byte) (1 + i / 250), (byte) (i % 250 + 1)});
    }

    private static void assertShare(int actual, double expected, double tolerance) {
        assertTrue(Math.abs(actual - expected) <= tolerance,
                "got " + actual + " flows, expected " + expected + " +- " + tolerance);
    }

    @Test
    void flowsStayOnTheirBackendWhenABackendIsAddedOrDrained() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2", "b3", "b4");
        List<BackendState> all = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, all.subList(0, 3))) {
            List<DatagramSocket> clients = new ArrayList<>();
            Map<DatagramSocket, String> placed = new HashMap<>();
            try {
                for (int i = 0; i < 300; i++) {
                    DatagramSocket c = UdpHarness.client();
                    clients.add(c);
                    placed.put(c, h.askName(c));
                }
                // b4 joins and b1 is drained: the table moves slots, tracked flows must not move.
                List<BackendState> changed = new ArrayList<>(all);
                changed.set(0, all.get(0).withDrained(true));
                h.publish(changed);
                int wouldMove = 0;
                for (DatagramSocket c : clients) {
                    InetSocketAddress from = (InetSocketAddress) c.getLocalSocketAddress();
                    if (!placed.get(c).equals(h.expectedBackend(from))) {
                        wouldMove++;
                    }
                    assertEquals(placed.get(c), h.askName(c), "flow " + from + " moved after a table change");
                }
                assertTrue(wouldMove > 50, "the change must move table slots of many flows, moved " + wouldMove);
                // New flows follow the new table: none on the drained b1, some on b4.
                Map<String, Integer> fresh = new HashMap<>();
                for (int i = 0; i < 200; i++) {
                    try (DatagramSocket c = UdpHarness.client()) {
                        String name = h.askName(c);
                        assertEquals(h.expectedBackend((InetSocketAddress) c.getLocalSocketAddress()), name);
                        fresh.merge(name, 1, Integer::sum);
                    }
                }
                assertEquals(0, fresh.getOrDefault("b1", 0), "a drained backend takes no new flows");
                assertTrue(fresh.getOrDefault("b4", 0) > 20, "new backend gets new flows: " + fresh);
                assertEquals(0, h.forwarder.stats().flowsMoved());
            } finally {
                for (DatagramSocket c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void flowsOfADownOrRemovedBackendMoveOnTheirNextDatagram() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2", "b3");
        List<BackendState> all = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, all)) {
            List<DatagramSocket> clients = new ArrayList<>();
            Map<DatagramSocket, String> placed = new HashMap<>();
            try {
                for (int i = 0; i < 300; i++) {
                    DatagramSocket c = UdpHarness.client();
                    clients.add(c);
                    placed.put(c, h.askName(c));
                }
                long onB2 = placed.values().stream().filter("b2"::equals).count();
                long onB3 = placed.values().stream().filter("b3"::equals).count();
                assertTrue(onB2 > 30 && onB3 > 30, "flows on b2 " + onB2 + ", on b3 " + onB3);

                // b2 goes down, b3 leaves the VIP: their flows move on the very next datagram.
                h.publish(List.of(all.get(0), all.get(1).withHealthy(false)));
                for (DatagramSocket c : clients) {
                    String before = placed.get(c);
                    String now = h.askName(c);
                    if (before.equals("b1")) {
                        assertEquals("b1", now, "a flow on a healthy backend must stay");
                    } else {
                        assertEquals("b1", now, "a flow of a down or removed backend must move");
                    }
                    assertEquals(now, h.askName(c), "a moved flow stays on its new backend");
                }
                UdpVipStats stats = h.forwarder.stats();
                // b2's flows were moved in place; b3's too, unless the sweep already dropped them (it removes
                // the flows of backends that left the VIP), in which case they came back as new flows.
                assertTrue(stats.flowsMoved() >= onB2, "moved " + stats.flowsMoved());
                assertEquals(300, stats.flowsActive());
                assertEquals(0, stats.backend(2).flowsActive());
                assertEquals(300, stats.backend(1).flowsActive());
            } finally {
                for (DatagramSocket c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void aReusedBackendIdDoesNotInheritTheFlowsOfTheBackendThatLeft() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2", "b3", "new");
        List<BackendState> all = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, all.subList(0, 3))) {
            List<DatagramSocket> clients = new ArrayList<>();
            Map<DatagramSocket, String> placed = new HashMap<>();
            try {
                for (int i = 0; i < 200; i++) {
                    DatagramSocket c = UdpHarness.client();
                    clients.add(c);
                    placed.put(c, h.askName(c));
                }
                // b2 leaves and "new" gets its id 2 in the same snapshot (BackendIds reuses freed ids).
                BackendState reused = new BackendState(2, "new", backends.get(3).address(), 1, false, true);
                h.publish(List.of(all.get(0), reused, all.get(2)));
                for (DatagramSocket c : clients) {
                    InetSocketAddress from = (InetSocketAddress) c.getLocalSocketAddress();
                    String before = placed.get(c);
                    String now = h.askName(c);
                    if (before.equals("b2")) {
                        assertEquals(h.expectedBackend(from), now, "b2's flow must be placed afresh");
                    } else {
                        assertEquals(before, now);
                    }
                }
            } finally {
                for (DatagramSocket c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void anIpv6VipForwardsToIpv4AndIpv6Backends() throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        List<UdpTestBackend> backends = List.of(new UdpTestBackend("v4", UdpTestBackend.Mode.NAME),
                new UdpTestBackend("v6", UdpTestBackend.Mode.NAME, 0, v6));
        try (UdpHarness h = new UdpHarness(group, v6, backends, UdpHarness.statesOf(backends),
                VipConfig.DEFAULT_UDP_IDLE_TIMEOUT, 0, FlowTableConfig.defaults(), UdpTuning.defaults())) {
            Map<String, Integer> perBackend = new HashMap<>();
            for (int i = 0; i < 200; i++) {
                try (DatagramSocket c = UdpHarness.client(v6)) {
                    String name = h.askName(c);
                    assertEquals(h.expectedBackend((InetSocketAddress) c.getLocalSocketAddress()), name);
                    perBackend.merge(name, 1, Integer::sum);
                }
            }
            assertTrue(perBackend.getOrDefault("v4", 0) > 50 && perBackend.getOrDefault("v6", 0) > 50,
                    perBackend.toString());
        }
    }

    @Test
    void noBackendDropsAreCountedAndForwardingResumesWhenOneComesBack() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1");
        List<BackendState> all = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, List.of(all.get(0).withHealthy(false)));
                DatagramSocket c = UdpHarness.client()) {
            h.send(c, "nobody home");
            h.send(c, "nobody home");
            UdpHarness.await("two no-backend drops", java.time.Duration.ofSeconds(5),
                    () -> h.forwarder.stats().dropped(UdpDropReason.NO_BACKEND) == 2);
            assertTrue(UdpHarness.silentFor(c, java.time.Duration.ofMillis(100)));
            h.publish(all);
            assertEquals("b1", h.askName(c));
            assertNotEquals(0, h.forwarder.stats().flowsActive());
        }
    }
}
