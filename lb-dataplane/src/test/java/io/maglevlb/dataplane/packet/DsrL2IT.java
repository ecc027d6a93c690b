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
    void malformedAndTruncatedFramesAreCountedAndForwardingGoesOn() throws Exception {
        tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
        Map<String, Long> before = tcpEngine.stats();
        byte[] lbMac = RawLink.macOf(net.lab, net.lb);
        try (RawLink link = RawLink.open(net.client)) {
            byte[] good = Frames.ipv4(DsrLab.CLIENT_IP, DsrLab.VIP, 6, 0x4000, Frames.tcp(43000, TCP_PORT, new byte[0]));
            byte[] badChecksum = good.clone();
            badChecksum[10] ^= 0x55;
            byte[] claimsMore = good.clone();
            claimsMore[2] = 0x01; // total length 256+ but only 40 bytes follow; header checksum fixed below
            claimsMore[10] = 0;
            claimsMore[11] = 0;
            int c = Frames.referenceChecksum(java.util.Arrays.copyOf(claimsMore, 20));
            claimsMore[10] = (byte) (c >>> 8);
            claimsMore[11] = (byte) c;
            byte[] badDataOffset = good.clone();
            badDataOffset[20 + 12] = 0x20;
            for (byte[] ip : new byte[][] {badChecksum, claimsMore, badDataOffset}) {
                link.send(toLb(lbMac, ip));
            }
        }
        // the engine still forwards: a fresh connection works
        try (Socket s = net.connect(43001, TCP_PORT)) {
            DsrLab.exchange(s, "still alive");
        }
        Map<String, Long> after = tcpEngine.stats();
        assertEquals(2, after.get("drop.malformed") - before.get("drop.malformed"), after.toString());
        assertEquals(1, after.get("drop.truncated") - before.get("drop.truncated"), after.toString());
    }

    private static byte[] toLb(byte[] lbMac, byte[] ipPacket) {
        return Frames.concat(lbMac, Frames.CLIENT_MAC, new byte[] {0x08, 0x00}, ipPacket);
    }

    @Test
    void allFragmentsOfADatagramReachTheBackendOfItsThreeTuple() throws Exception {
        Map<String, Integer> ids = udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, UDP_PORT);
        long hash = io.maglevlb.core.flow.FlowHash.fiveTuple(17, 0, io.maglevlb.core.flow.FlowHash.v4Lo(DsrLab.ip(DsrLab.CLIENT_IP)),
                0, 0, io.maglevlb.core.flow.FlowHash.v4Lo(DsrLab.ip(DsrLab.VIP)), 0);
        String threeTupleBackend = expected.backend(expected.backendFor(hash)).name();
        long fragmentsBefore = udpEngine.stats().get("fragments");
        for (int port = 44000; port < 44004; port++) {
            try (DatagramSocket s = net.udpClient(port, UDP_PORT)) {
                // 4000 bytes over a 1500-byte MTU: the client's kernel sends three fragments
                String reply = DsrLab.udpExchange(s, new byte[4000]);
                assertEquals(threeTupleBackend + " 4000", reply,
                        "every client port's fragmented datagrams go to the 3-tuple's backend");
            }
        }
        assertTrue(udpEngine.stats().get("fragments") - fragmentsBefore >= 12);
    }

    @Test
    void icmpFragmentationNeededReachesTheBackendOwningTheFlow() throws Exception {
        Map<String, Integer> ids = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, TCP_PORT);
        int clientPort = 45000;
        String owner = DsrLab.expectedBackend(expected, 6, clientPort, TCP_PORT);
        String ownerNs = net.backends[Integer.parseInt(owner.substring(1)) - 1];
        byte[] lbMac = RawLink.macOf(net.lab, net.lb);
        // what a router on the backend -> client path sends: "fragmentation needed, MTU 1400" about VIP:80 -> client
        byte[] quoted = java.util.Arrays.copyOf(
                Frames.ipv4(DsrLab.VIP, DsrLab.CLIENT_IP, 6, 0x4000, Frames.tcp(TCP_PORT, clientPort, new byte[0])), 28);
        byte[] icmp = Frames.ipv4("198.18.0.254", DsrLab.VIP, 1, 0, Frames.icmp(3, 4, 1400, quoted));
        long icmpBefore = tcpEngine.stats().get("icmp");
        try (RawLink capture = RawLink.open(ownerNs); RawLink link = RawLink.open(net.client)) {
            link.send(toLb(lbMac, icmp));
            byte[] got = capture.receive(10_000, f -> f.length >= 14 + 20 + 8 && f[23] == 1 && f[14 + 20] == 3);
            assertTrue(got != null, "the ICMP error reached " + owner);
            assertEquals(java.util.HexFormat.of().formatHex(icmp),
                    java.util.HexFormat.of().formatHex(java.util.Arrays.copyOfRange(got, 14, got.length)),
                    "forwarded unchanged after the Ethernet header");
            assertEquals(java.util.HexFormat.of().formatHex(lbMac),
                    java.util.HexFormat.of().formatHex(java.util.Arrays.copyOfRange(got, 6, 12)), "source MAC is the LB's");
        }
        assertEquals(1, tcpEngine.stats().get("icmp") - icmpBefore);
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
