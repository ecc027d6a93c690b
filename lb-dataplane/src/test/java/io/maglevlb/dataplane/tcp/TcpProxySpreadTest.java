package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Backend choice through real sockets: every connection lands where the Maglev table says. */
class TcpProxySpreadTest {
    private final List<TestBackend> backends = new ArrayList<>();

    @AfterEach
    void closeBackends() throws IOException {
        for (TestBackend b : backends) {
            b.close();
        }
    }

    private TestBackend backend(String name) throws IOException {
        TestBackend b = TestBackend.start(name, TestBackend.sendsName());
        backends.add(b);
        return b;
    }

    @Test
    void fiveTupleSpreadFollowsTheTableShares() throws Exception {
        TestBackend a = backend("a");
        TestBackend b = backend("b");
        TestBackend c = backend("c");
        try (ProxyFixture proxy = ProxyFixture.spec("spread")
                .backend(a.name(), a.address(), 1)
                .backend(b.name(), b.address(), 1)
                .backend(c.name(), c.address(), 2)
                .start()) {
            ForwardingSnapshot snapshot = proxy.snapshot();
            int connections = 3000;
            Map<String, Integer> counts = new HashMap<>();
            for (int i = 0; i < connections; i++) {
                InetAddress source = Clients.source(i % 100);
                Clients.Answer answer = Clients.fetchName(proxy.address(), source);
                int expected = Clients.expectedBackend(snapshot, HashMode.FIVE_TUPLE, source, answer.clientPort(),
                        proxy.address());
                assertEquals(snapshot.backend(expected).name(), answer.name(),
                        "connection " + i + " from " + source + ":" + answer.clientPort());
                counts.merge(answer.name(), 1, Integer::sum);
            }
            // Each backend's share of connections is within 3 percentage points of its share of table slots
            // (about 3.3 standard deviations of a binomial share at n = 3000).
            for (BackendState s : snapshot.backends()) {
                double tableShare = (double) snapshot.slotCount(s.id()) / snapshot.tableSize();
                double observed = counts.getOrDefault(s.name(), 0) / (double) connections;
                assertTrue(Math.abs(observed - tableShare) <= 0.03,
                        s.name() + ": " + observed + " of connections vs " + tableShare + " of slots");
            }
            proxy.awaitNoConnections();
            TcpVipStats stats = proxy.vip.stats();
            assertEquals(connections, stats.accepted());
            for (BackendState s : snapshot.backends()) {
                assertEquals(counts.getOrDefault(s.name(), 0).longValue(), stats.connections(s.id()), s.name());
                assertEquals(0, stats.activeConnections(s.id()), s.name());
            }
        }
    }

    @Test
    void sourceIpKeepsEachClientAddressOnOneBackend() throws Exception {
        TestBackend a = backend("a");
        TestBackend b = backend("b");
        TestBackend c = backend("c");
        try (ProxyFixture proxy = ProxyFixture.spec("sticky").backend(a).backend(b).backend(c)
                .hash(HashMode.SOURCE_IP).start()) {
            ForwardingSnapshot snapshot = proxy.snapshot();
            Set<String> used = new HashSet<>();
            for (int client = 0; client < 60; client++) {
                InetAddress source = Clients.source(client);
                String expected = snapshot.backend(
                        Clients.expectedBackend(snapshot, HashMode.SOURCE_IP, source, 0, proxy.address())).name();
                for (int k = 0; k < 8; k++) {
                    assertEquals(expected, Clients.fetchName(proxy.address(), source).name(),
                            "client " + source + " connection " + k);
                }
                used.add(expected);
            }
            assertEquals(Set.of("a", "b", "c"), used, "60 client addresses should reach all three backends");
        }
    }

    @Test
    void ipv6ClientsAreHashedByTheirFullAddress() throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        try (ServerSocket probe = new ServerSocket(0, 1, v6)) {
            Assumptions.assumeTrue(probe.getInetAddress() instanceof Inet6Address);
        } catch (IOException e) {
            Assumptions.abort("no IPv6 loopback here: " + e);
        }
        TestBackend a = backend("a");
        TestBackend b = backend("b");
        try (ProxyFixture proxy = ProxyFixture.spec("v6").listen(new InetSocketAddress(v6, 0))
                .backend(a).backend(b).start()) {
            ForwardingSnapshot snapshot = proxy.snapshot();
            Set<String> used = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                Clients.Answer answer = Clients.fetchName(proxy.address(), v6);
                int expected = Clients.expectedBackend(snapshot, HashMode.FIVE_TUPLE, v6, answer.clientPort(),
                        proxy.address());
                assertEquals(snapshot.backend(expected).name(), answer.name(), "port " + answer.clientPort());
                used.add(answer.name());
            }
            assertEquals(Set.of("a", "b"), used);
        }
    }
}
