package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendState;
import io.netty.channel.EventLoopGroup;
import java.net.DatagramSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A successor forwarder on the same address takes over the VIP sockets ({@link UdpForwarder#startInPlaceOf}): the
 * sockets stay open, new and tracked flows are answered by the successor from the VIP address, and the
 * predecessor's close leaves the sockets alone. Where the flows can stay (same hash and table size), the
 * successor takes the predecessor's loops with their flows instead.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpSocketHandOverTest {
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
    void theSuccessorServesOnTheSameSocketsAndThePredecessorLeavesThemOpen() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2");
        List<BackendState> states = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, states);
             DatagramSocket tracked = UdpHarness.client()) {
            String before = h.askName(tracked);
            VipConfig next = new VipConfig(h.vip.name(), h.forwarder.localAddress(), h.vip.protocol(), h.vip.mode(),
                    h.vip.hash(), h.vip.tableSize(), h.vip.backends(), h.vip.healthCheck(), 0,
                    h.vip.connectTimeout(), h.vip.connectRetries(), Duration.ofSeconds(31), h.vip.proxyProtocol(),
                    h.vip.dsr());
            // another table size: the flows cannot move, so the successor's handler takes over the sockets
            UdpForwarder successor = new UdpForwarder(next, h.snapshot, group, UdpHarness.transport(group),
                    new FlowTableConfig(4096, 0), UdpTuning.defaults());
            try {
                assertTrue(successor.startInPlaceOf(h.forwarder));
                assertEquals(h.forwarder.localAddress(), successor.localAddress());
                assertEquals(2, successor.sockets());
                assertEquals(before, h.askName(tracked), "a tracked flow keeps its backend (same table)");
                // 50 new flows: the sockets stay open until counted, so no two get the same ephemeral port (a
                // closed socket's port may be handed out again, and its datagrams would join the earlier flow)
                List<DatagramSocket> fresh = new ArrayList<>();
                try {
                    for (int i = 0; i < 50; i++) {
                        DatagramSocket client = UdpHarness.client();
                        fresh.add(client);
                        assertEquals(h.expectedBackend((java.net.InetSocketAddress) client.getLocalSocketAddress()),
                                h.askName(client));
                    }
                    assertEquals(51, successor.stats().flowsActive(), "every flow is the successor's now");
                } finally {
                    for (DatagramSocket client : fresh) {
                        client.close();
                    }
                }
                h.forwarder.stopAccepting();
                h.forwarder.closeConnections(); // the predecessor goes: the sockets stay open
                assertEquals(before, h.askName(tracked));
            } finally {
                successor.closeConnections();
            }
        }
    }

    private static VipConfig withIdleTimeout(VipConfig vip, java.net.InetSocketAddress listen, Duration idle) {
        return new VipConfig(vip.name(), listen, vip.protocol(), vip.mode(), vip.hash(), vip.tableSize(),
                vip.backends(), vip.healthCheck(), vip.maxConnections(), vip.connectTimeout(), vip.connectRetries(),
                idle, vip.proxyProtocol(), vip.dsr());
    }

    /**
     * Reloads that change only the idle timeout, faster than flows go idle: the flows move to each successor
     * with their sessions, so every predecessor is left with no flow (a retired forwarder keeps nothing) and
     * the tracked flows are not created again. Before, each predecessor kept its flow tables and sessions until
     * its flows went idle, and every tracked flow became a new flow (a new session socket) at the successor.
     */
    @Test
    void settingsReloadsMoveTheFlowsToTheSuccessorAndLeaveThePredecessorNothing() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2");
        List<BackendState> states = UdpHarness.statesOf(backends);
        try (UdpHarness h = new UdpHarness(group, backends, states)) {
            int flows = 30;
            DatagramSocket[] c = new DatagramSocket[flows];
            String[] first = new String[flows];
            java.util.List<UdpForwarder> forwarders = new java.util.ArrayList<>(List.of(h.forwarder));
            try {
                for (int i = 0; i < flows; i++) {
                    c[i] = UdpHarness.client();
                    first[i] = h.askName(c[i]);
                }
                long fdsBefore = UdpFlowLifetimeTest.openFds();
                for (int r = 1; r <= 10; r++) {
                    UdpForwarder current = forwarders.get(forwarders.size() - 1);
                    Duration idle = Duration.ofSeconds(r % 2 == 0 ? 30 : 31);
                    UdpForwarder next = new UdpForwarder(withIdleTimeout(h.vip, current.localAddress(), idle),
                            h.snapshot, group, UdpHarness.transport(group), FlowTableConfig.defaults(),
                            UdpTuning.defaults());
                    assertTrue(next.startInPlaceOf(current));
                    current.stopAccepting(); // retired, as the daemon does
                    forwarders.add(next);
                    assertEquals(0, current.activeConnections(), "reload " + r + ": the predecessor kept flows");
                    assertEquals(idle, next.idleTimeout());
                    for (int i = 0; i < flows; i++) {
                        assertEquals(first[i], h.askName(c[i]), "reload " + r + ": flow " + i + " moved backend");
                    }
                    UdpVipStats stats = next.stats();
                    assertEquals(flows, stats.flowsActive(), "reload " + r);
                    assertEquals(flows, stats.flowsCreated(), "reload " + r + ": tracked flows were created again");
                }
                assertTrue(UdpFlowLifetimeTest.openFds() <= fdsBefore + 2, "no session socket was added");
                // the last successor's idle timeout is in force: the flows end by it
                UdpForwarder last = forwarders.get(forwarders.size() - 1);
                UdpForwarder shortIdle = new UdpForwarder(withIdleTimeout(h.vip, last.localAddress(),
                        Duration.ofMillis(300)), h.snapshot, group, UdpHarness.transport(group),
                        FlowTableConfig.defaults(), UdpTuning.defaults());
                assertTrue(shortIdle.startInPlaceOf(last));
                forwarders.add(shortIdle);
                UdpHarness.await("the flows to go idle by the new timeout", Duration.ofSeconds(10),
                        () -> shortIdle.activeConnections() == 0);
            } finally {
                for (DatagramSocket s : c) {
                    if (s != null) {
                        s.close();
                    }
                }
                for (int i = forwarders.size() - 1; i >= 1; i--) {
                    forwarders.get(i).closeConnections();
                }
            }
        }
    }
}
