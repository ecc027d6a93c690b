package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.conntrack.FlowStateException;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.SnapshotHolder;
import io.netty.channel.EventLoopGroup;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The UDP half of a takeover's flow state, with real sockets: a forwarder's tracked flows, exported
 * ({@link UdpForwarder#exportFlowState}) and imported into the next forwarder on the VIP
 * ({@link UdpForwarder#importFlowState}), keep their backends there, also the flows the current table would now
 * send elsewhere (a backend was added after they began), although the next forwarder numbers the backends
 * otherwise. Without the import those flows change backend: the test checks that too, so it can fail.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class UdpFlowStateTest {
    private static final int FLOWS = 40;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"epoll", "nio"})
    void trackedFlowsKeepTheirBackendInTheNextForwarder(String transport) throws Exception {
        EventLoopGroup group = transport.equals("epoll") ? UdpHarness.epollLoops(1) : UdpHarness.nioLoops(1);
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2", "b3");
        List<DatagramSocket> clients = new ArrayList<>();
        UdpForwarder next = null;
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends.subList(0, 2)))) {
            Map<DatagramSocket, String> before = new LinkedHashMap<>();
            for (int i = 0; i < FLOWS; i++) {
                DatagramSocket c = UdpHarness.client();
                clients.add(c);
                before.put(c, h.askName(c));
            }
            h.publish(UdpHarness.statesOf(backends)); // b3 joins: a third of the flows' slots now name it
            List<DatagramSocket> moved = new ArrayList<>();
            for (DatagramSocket c : clients) {
                assertEquals(before.get(c), h.askName(c), "tracked flows stay in this forwarder");
                if (!before.get(c).equals(h.expectedBackend((InetSocketAddress) c.getLocalSocketAddress()))) {
                    moved.add(c);
                }
            }
            assertTrue(moved.size() >= 5, "some flows' table answer is b3 now: " + moved.size());

            byte[] state = h.forwarder.exportFlowState();
            InetSocketAddress vipAddress = h.forwarder.localAddress();
            h.forwarder.closeConnections(); // the old process is gone; the next binds the address itself here

            // The next process met the backends in another order: other ids, same names and addresses.
            List<BackendState> renumbered = List.of(
                    new BackendState(1, "b3", backends.get(2).address(), 1, false, true),
                    new BackendState(2, "b1", backends.get(0).address(), 1, false, true),
                    new BackendState(7, "b2", backends.get(1).address(), 1, false, true));
            next = startOn(h.vip, vipAddress, group, renumbered);
            assertEquals(FLOWS, next.importFlowState(state));
            assertEquals(FLOWS, next.activeConnections());
            for (DatagramSocket c : clients) {
                assertEquals(before.get(c), h.askName(c), "a flow keeps its backend across the hand-over");
            }
            DatagramSocket fresh = UdpHarness.client();
            clients.add(fresh);
            assertEquals(h.expectedBackend((InetSocketAddress) fresh.getLocalSocketAddress()), h.askName(fresh),
                    "a new flow follows the table");

            // Control: a forwarder that did not import places the moved flows by the table, on b3.
            next.closeConnections();
            next = startOn(h.vip, vipAddress, group, renumbered);
            for (DatagramSocket c : moved) {
                assertEquals("b3", h.askName(c));
            }
        } finally {
            if (next != null) {
                next.closeConnections();
            }
            clients.forEach(DatagramSocket::close);
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @Test
    void unreadableStateIsRejectedAndImportsNothing() throws Exception {
        EventLoopGroup group = UdpHarness.epollLoops(2);
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1");
        try (UdpHarness h = new UdpHarness(group, backends, UdpHarness.statesOf(backends));
             DatagramSocket c = UdpHarness.client()) {
            h.askName(c);
            byte[] state = h.forwarder.exportFlowState();
            byte[] cut = java.util.Arrays.copyOf(state, state.length - 1);
            assertTrue(assertThrows(FlowStateException.class, () -> h.forwarder.importFlowState(cut)).getMessage()
                    .contains("checksum mismatch"));
            assertEquals(1, h.forwarder.activeConnections());
            // Groups are per socket: state from two sockets does not fit one, and is left to the table.
            EventLoopGroup one = UdpHarness.epollLoops(1);
            try (UdpHarness other = new UdpHarness(one, List.of(), UdpHarness.statesOf(backends))) {
                assertEquals(0, other.forwarder.importFlowState(state));
            } finally {
                one.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            }
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static UdpForwarder startOn(VipConfig vip, InetSocketAddress address, EventLoopGroup group,
            List<BackendState> states) throws Exception {
        // On NIO a closed channel's socket is released when its selector next runs, after the close future
        // completed: the previous forwarder's address may be busy for a moment (bounded retry, 200 x 50 ms).
        for (int attempt = 1; ; attempt++) {
            try {
                return startOnce(vip, address, group, states);
            } catch (io.maglevlb.dataplane.VipBindException e) {
                if (attempt == 200 || !(e.getCause() instanceof java.net.BindException)) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    private static UdpForwarder startOnce(VipConfig vip, InetSocketAddress address, EventLoopGroup group,
            List<BackendState> states) throws Exception {
        VipConfig at = new VipConfig(vip.name(), address, vip.protocol(), vip.mode(), vip.hash(), vip.tableSize(),
                vip.backends(), vip.healthCheck(), vip.maxConnections(), vip.connectTimeout(), vip.connectRetries(),
                vip.idleTimeout(), vip.proxyProtocol(), vip.dsr());
        SnapshotHolder snapshots = new SnapshotHolder(
                ForwardingSnapshot.build(vip.name(), 1, UdpHarness.TABLE_SIZE, states));
        return UdpForwarder.start(at, snapshots, group, UdpHarness.transport(group), FlowTableConfig.defaults(),
                UdpTuning.defaults());
    }
}
