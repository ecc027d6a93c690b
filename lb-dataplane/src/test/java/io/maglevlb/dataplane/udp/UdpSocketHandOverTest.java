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
 * predecessor's close leaves the sockets alone.
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
            UdpForwarder successor = new UdpForwarder(next, h.snapshot, group, UdpHarness.transport(group),
                    FlowTableConfig.defaults(), UdpTuning.defaults());
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
}
