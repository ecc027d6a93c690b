package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.DatagramSocket;
import java.net.Socket;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** L2 DSR end to end: client, LB (engine in a child JVM in the LB namespace) and three backends on one bridge. */
@Timeout(120)
class DsrL2IT {
    private static final int TCP_PORT = 80;
    private static final int UDP_PORT = 5353;
    private static DsrLab net;
    private static EngineProcess tcpEngine;
    private static EngineProcess udpEngine;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_PACKET) and the ip tool; skipped");
        net = new DsrLab("l");
        try {
            net.startTcpServers(TCP_PORT);
            net.startUdpServers(UDP_PORT);
            tcpEngine = new EngineProcess(net.lb, DsrLab.VIP + ":" + TCP_PORT, "tcp", "l2", "eth0", "2", "65536", "0");
            udpEngine = new EngineProcess(net.lb, DsrLab.VIP + ":" + UDP_PORT, "udp", "l2", "eth0", "2", "65536", "0");
        } catch (Exception e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    static void tearDown() {
        if (tcpEngine != null) {
            tcpEngine.close();
        }
        if (udpEngine != null) {
            udpEngine.close();
        }
        if (net != null) {
            net.close();
        }
    }

    @Test
    void tcpConnectionsReachTheBackendMaglevPicksForTheirClientPort() throws Exception {
        Map<String, Integer> ids = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, TCP_PORT);
        Set<String> seen = new HashSet<>();
        for (int port = 41000; port < 41012; port++) {
            try (Socket s = net.connect(port, TCP_PORT)) {
                String reply = DsrLab.exchange(s, "hello " + port);
                String backend = reply.split(" ")[0];
                assertEquals(DsrLab.expectedBackend(expected, 6, port, TCP_PORT), backend, "client port " + port);
                assertEquals("hello " + port, reply.substring(backend.length() + 1));
                seen.add(backend);
            }
        }
        assertEquals(Set.of("b1", "b2", "b3"), seen, "12 client ports should reach all three backends");
        Map<String, Long> stats = tcpEngine.stats();
        assertTrue(stats.get("forwarded") > 0, stats.toString());
        assertTrue(stats.get("checksums") > 0, "veth frames arrive with CHECKSUM_PARTIAL: " + stats);
    }

    @Test
    void udpRepliesComeFromTheVipWithoutCrossingTheLb() throws Exception {
        Map<String, Integer> ids = udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, UDP_PORT);
        long forwardedBefore = udpEngine.stats().get("forwarded");
        long lbRxBefore = net.rxPackets(net.lb);
        int datagrams = 0;
        Set<String> seen = new HashSet<>();
        for (int port = 42000; port < 42010; port++) {
            try (DatagramSocket s = net.udpClient(port, UDP_PORT)) {
                for (int i = 0; i < 5; i++) {
                    String reply = DsrLab.udpExchange(s, ("datagram " + i).getBytes());
                    datagrams++;
                    assertEquals(DsrLab.expectedBackend(expected, 17, port, UDP_PORT) + " 10", reply, "port " + port);
                    seen.add(reply.split(" ")[0]);
                }
            }
        }
        assertEquals(3, seen.size(), "10 client ports should reach all three backends");
        long forwarded = udpEngine.stats().get("forwarded") - forwardedBefore;
        long lbRx = net.rxPackets(net.lb) - lbRxBefore;
        assertEquals(datagrams, forwarded, "the engine forwards exactly the client's datagrams");
        assertTrue(lbRx < datagrams + 10, "the LB receives the client's " + datagrams
                + " datagrams (plus a few ARP frames), not the replies; it received " + lbRx);
    }
}
