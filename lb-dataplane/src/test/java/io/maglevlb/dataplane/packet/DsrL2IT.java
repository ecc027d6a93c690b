package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.DatagramSocket;
import java.net.Socket;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * L2 DSR end to end: client, LB (engine in a child JVM in the LB namespace) and three backends on one bridge.
 * Runs once per I/O kind ({@code dsr.io}). On af_xdp each engine has an LB host of its own (one AF_XDP engine per
 * process and interface; the client reaches the UDP engines' hosts by policy routing on the destination port) and
 * the TCP engine one thread (a veth has one queue). The client leaves its checksums to offload, as a local sender
 * on a veth does: on AF_XDP the engine recognises such frames by their checksum field and completes them. The tc
 * ingress filter tests are AF_PACKET's only.
 */
@ParameterizedClass(name = "dsr.io {0}")
@ValueSource(strings = {"af_packet", "af_xdp"})
@Timeout(120)
class DsrL2IT {
    private static final int TCP_PORT = 80;
    private static final int UDP_PORT = 5353;
    private static DsrLab net;
    private static EngineProcess tcpEngine;
    private static EngineProcess udpEngine;
    /** UDP engine with a 64-flow table and flood mode above 100 new flows/s: for the flood test. */
    private static EngineProcess smallTableEngine;
    private static final int SMALL_TABLE_PORT = 5454;
    /** UDP port of the engines the ingress-filter test starts and stops itself. */
    private static final int FILTER_TEST_PORT = 5656;
    /** The invocation's dsr.io: af_packet or af_xdp. */
    @Parameter
    String ioKind;

    @BeforeParameterizedClassInvocation
    static void setUp(String ioKind) throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_PACKET) and the ip tool; skipped");
        net = new DsrLab("l");
        try {
            net.startTcpServers(TCP_PORT);
            net.startUdpServers(UDP_PORT);
            net.startUdpServers(SMALL_TABLE_PORT);
            net.startUdpServers(FILTER_TEST_PORT);
            boolean xdp = ioKind.equals("af_xdp");
            String udpLb = net.lbFor(ioKind, 1, "udp", UDP_PORT);
            String smallLb = net.lbFor(ioKind, 2, "udp", SMALL_TABLE_PORT);
            String threads = xdp ? "1" : "2";
            var tcp = java.util.concurrent.CompletableFuture.supplyAsync(() -> start(net.lb, DsrLab.VIP + ":" + TCP_PORT,
                    "tcp", "l2", "eth0", threads, "65536", "0", "-", "6080", "5-tuple", "-", "ingress-drop", ioKind));
            var udp = java.util.concurrent.CompletableFuture.supplyAsync(() -> start(udpLb, DsrLab.VIP + ":" + UDP_PORT,
                    "udp", "l2", "eth0", threads, "65536", "0", "-", "6080", "5-tuple", "-", "ingress-drop", ioKind));
            var small = java.util.concurrent.CompletableFuture.supplyAsync(() -> start(smallLb,
                    DsrLab.VIP + ":" + SMALL_TABLE_PORT, "udp", "l2", "eth0", "1", "64", "100", "-", "6080", "5-tuple",
                    "-", "ingress-drop", ioKind));
            tcpEngine = tcp.join();
            udpEngine = udp.join();
            smallTableEngine = small.join();
            for (EngineProcess e : new EngineProcess[] {tcpEngine, udpEngine, smallTableEngine}) {
                assertEquals(ioKind, e.io());
            }
        } catch (Exception e) {
            tearDown();
            throw e;
        }
    }

    private static EngineProcess start(String namespace, String... args) {
        try {
            return new EngineProcess(namespace, args);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterParameterizedClassInvocation
    static void tearDown() {
        for (EngineProcess e : new EngineProcess[] {tcpEngine, udpEngine, smallTableEngine}) {
            if (e != null) {
                e.close();
            }
        }
        if (net != null) {
            net.close();
        }
        tcpEngine = null;
        udpEngine = null;
        smallTableEngine = null;
        net = null;
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
        if (ioKind.equals("af_packet")) {
            assertTrue(stats.get("checksums") > 0, "veth frames arrive with CHECKSUM_PARTIAL: " + stats);
        }
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
        // A connection made while the VIP had b1, b2 stays on its backend after b3 joins, even where the Maglev
        // table now says b3: the ICMP error about it must follow the flow table, not the new table.
        Map<String, Integer> ids = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2"));
        ForwardingSnapshot two = DsrLab.expectedSnapshot(ids, TCP_PORT);
        int clientPort = 45000;
        Map<String, Integer> allIds = new java.util.HashMap<>(ids);
        allIds.put("b3", ids.values().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1);
        ForwardingSnapshot three = DsrLab.expectedSnapshot(allIds, TCP_PORT);
        while (DsrLab.expectedBackend(two, 6, clientPort, TCP_PORT).equals(DsrLab.expectedBackend(three, 6, clientPort, TCP_PORT))) {
            clientPort++;
        }
        String owner = DsrLab.expectedBackend(two, 6, clientPort, TCP_PORT);
        try (Socket s = net.connect(clientPort, TCP_PORT)) {
            assertEquals(owner, DsrLab.exchange(s, "before").split(" ")[0]);
            assertEquals(allIds, tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3")));
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
                assertTrue(got != null, "the ICMP error reached " + owner + ", the flow's backend");
                assertEquals(java.util.HexFormat.of().formatHex(icmp),
                        java.util.HexFormat.of().formatHex(java.util.Arrays.copyOfRange(got, 14, got.length)),
                        "forwarded unchanged after the Ethernet header");
                assertEquals(java.util.HexFormat.of().formatHex(lbMac),
                        java.util.HexFormat.of().formatHex(java.util.Arrays.copyOfRange(got, 6, 12)), "source MAC is the LB's");
            }
            assertEquals(1, tcpEngine.stats().get("icmp") - icmpBefore);
            assertEquals(owner, DsrLab.exchange(s, "after").split(" ")[0], "the connection itself stayed too");
        }
    }

    @Test
    void establishedConnectionsKeepTheirBackendWhenABackendIsAdded() throws Exception {
        Map<String, Integer> ids = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2"));
        ForwardingSnapshot two = DsrLab.expectedSnapshot(ids, TCP_PORT);
        java.util.List<Socket> sockets = new java.util.ArrayList<>();
        Map<Integer, String> before = new java.util.TreeMap<>();
        try {
            for (int port = 47000; port < 47024; port++) {
                Socket s = net.connect(port, TCP_PORT);
                sockets.add(s);
                String backend = DsrLab.exchange(s, "one").split(" ")[0];
                assertEquals(DsrLab.expectedBackend(two, 6, port, TCP_PORT), backend);
                before.put(port, backend);
            }
            Map<String, Integer> allIds = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
            ForwardingSnapshot three = DsrLab.expectedSnapshot(allIds, TCP_PORT);
            int wouldMove = 0;
            for (int i = 0; i < sockets.size(); i++) {
                int port = 47000 + i;
                if (!DsrLab.expectedBackend(three, 6, port, TCP_PORT).equals(before.get(port))) {
                    wouldMove++;
                }
                assertEquals(before.get(port), DsrLab.exchange(sockets.get(i), "two").split(" ")[0],
                        "port " + port + " keeps its backend");
            }
            assertTrue(wouldMove > 0, "some of 24 flows map to b3 in the new table, so the test means something");
            Map<String, Long> stats = tcpEngine.stats();
            assertTrue(stats.get("flows.hits") > 0 && stats.get("flows.size") > 0, stats.toString());
            // new connections follow the new table
            for (int port = 47100; port < 47106; port++) {
                try (Socket s = net.connect(port, TCP_PORT)) {
                    assertEquals(DsrLab.expectedBackend(three, 6, port, TCP_PORT), DsrLab.exchange(s, "new").split(" ")[0]);
                }
            }
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void drainingKeepsExistingConnectionsAndSendsNewOnesElsewhere() throws Exception {
        Map<String, Integer> ids = tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot all = DsrLab.expectedSnapshot(ids, TCP_PORT);
        int port = 47200;
        while (!DsrLab.expectedBackend(all, 6, port, TCP_PORT).equals("b2")) {
            port++;
        }
        try (Socket onB2 = net.connect(port, TCP_PORT)) {
            assertEquals("b2", DsrLab.exchange(onB2, "one").split(" ")[0]);
            tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2:drained", "b3"));
            ForwardingSnapshot drained = DsrLab.expectedSnapshot(ids, TCP_PORT, "b2:drained");
            assertEquals("b2", DsrLab.exchange(onB2, "two").split(" ")[0], "a draining backend keeps its connections");
            for (int p = 47300; p < 47310; p++) {
                try (Socket s = net.connect(p, TCP_PORT)) {
                    String backend = DsrLab.exchange(s, "new").split(" ")[0];
                    assertEquals(DsrLab.expectedBackend(drained, 6, p, TCP_PORT), backend);
                    assertTrue(!backend.equals("b2"), "no new connection on the draining backend");
                }
            }
        } finally {
            tcpEngine.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
        }
    }

    @Test
    void flowsOfARemovedBackendMoveAndTheOthersStay() throws Exception {
        Map<String, Integer> ids = udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot all = DsrLab.expectedSnapshot(ids, UDP_PORT);
        java.util.List<DatagramSocket> sockets = new java.util.ArrayList<>();
        try {
            Map<Integer, String> before = new java.util.TreeMap<>();
            for (int port = 47400; port < 47424; port++) {
                DatagramSocket s = net.udpClient(port, UDP_PORT);
                sockets.add(s);
                before.put(port, DsrLab.udpExchange(s, new byte[3]).split(" ")[0]);
                assertEquals(DsrLab.expectedBackend(all, 17, port, UDP_PORT), before.get(port));
            }
            assertTrue(before.containsValue("b2"));
            Map<String, Integer> withoutB2 = new java.util.HashMap<>(ids);
            withoutB2.remove("b2");
            udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b3"));
            ForwardingSnapshot after = DsrLab.expectedSnapshot(withoutB2, UDP_PORT);
            for (int i = 0; i < sockets.size(); i++) {
                int port = 47400 + i;
                String now = DsrLab.udpExchange(sockets.get(i), new byte[3]).split(" ")[0];
                String expected = before.get(port).equals("b2") ? DsrLab.expectedBackend(after, 17, port, UDP_PORT)
                        : before.get(port);
                assertEquals(expected, now, "port " + port + " was on " + before.get(port));
            }
        } finally {
            for (DatagramSocket s : sockets) {
                s.close();
            }
            udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        }
    }

    @Test
    void whenNotTakingNewFlowsTrackedFlowsGoOnAndNewOnesAreDropped() throws Exception {
        udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        try (DatagramSocket tracked = net.udpClient(49000, UDP_PORT); DatagramSocket fresh = net.udpClient(49001, UDP_PORT)) {
            assertTrue(DsrLab.udpExchange(tracked, new byte[2]) != null);
            udpEngine.command("new-flows off");
            long noBackendBefore = udpEngine.stats().get("drop.no_backend");
            assertTrue(DsrLab.udpExchange(tracked, new byte[2]) != null, "a tracked flow is still forwarded");
            fresh.setSoTimeout(1000);
            assertEquals(null, DsrLab.udpExchange(fresh, new byte[2]), "a new flow is not");
            assertEquals(1, udpEngine.stats().get("drop.no_backend") - noBackendBefore);
            udpEngine.command("new-flows on");
            fresh.setSoTimeout(5000);
            assertTrue(DsrLab.udpExchange(fresh, new byte[2]) != null, "new flows again once resumed");
        } finally {
            udpEngine.command("new-flows on");
        }
    }

    @Test
    void aFloodOfNewFlowsFillingTheFlowTableIsStillForwardedByTheMaglevTable() throws Exception {
        Map<String, Integer> ids = smallTableEngine.backends(DsrLab.spec(SMALL_TABLE_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, SMALL_TABLE_PORT);
        int flows = 400;
        java.util.List<String> wrong = NetLab.inNamespace(net.client, () -> {
            java.util.List<String> mismatches = new java.util.ArrayList<>();
            for (int port = 48000; port < 48000 + flows; port++) {
                try (DatagramSocket s = new DatagramSocket(new java.net.InetSocketAddress(
                        java.net.InetAddress.ofLiteral(DsrLab.CLIENT_IP), port))) {
                    s.setSoTimeout(5000);
                    s.connect(new java.net.InetSocketAddress(java.net.InetAddress.ofLiteral(DsrLab.VIP), SMALL_TABLE_PORT));
                    String reply = DsrLab.udpExchange(s, new byte[1]);
                    String want = DsrLab.expectedBackend(expected, 17, port, SMALL_TABLE_PORT) + " 1";
                    if (!want.equals(reply)) {
                        mismatches.add(port + ": " + reply + " instead of " + want);
                    }
                }
            }
            return mismatches;
        });
        assertEquals(java.util.List.of(), wrong, "every new flow is answered by its Maglev backend");
        Map<String, Long> stats = smallTableEngine.stats();
        assertEquals(flows, stats.get("forwarded"), stats.toString());
        assertTrue(stats.get("flows.size") <= 64, stats.toString());
        assertTrue(stats.get("flows.evictions") + stats.get("flows.floodSkips") > 0,
                "a full table replaced entries or stopped inserting: " + stats);
    }

    @Test
    void udpRepliesComeFromTheVipWithoutCrossingTheLb() throws Exception {
        Map<String, Integer> ids = udpEngine.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, UDP_PORT);
        long forwardedBefore = udpEngine.stats().get("forwarded");
        long lbRxBefore = net.rxPackets(udpEngine.namespace());
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
        long lbRx = net.rxPackets(udpEngine.namespace()) - lbRxBefore;
        assertEquals(datagrams, forwarded, "the engine forwards exactly the client's datagrams");
        assertTrue(lbRx < datagrams + 10, "the LB receives the client's " + datagrams
                + " datagrams (plus a few ARP frames), not the replies; it received " + lbRx);
    }

    @Test
    void theIngressFilterKeepsVipPacketsFromTheLbsIpStackAndLeavesWithTheEngine() throws Exception {
        Assumptions.assumeTrue(ioKind.equals("af_packet"), "the tc ingress drop filter is AF_PACKET's (AF_XDP's program keeps "
                + "the VIP's packets from the stack itself)");
        Assumptions.assumeTrue(NetLab.hasCommand("tc"), "needs the tc tool (iproute2) to list ingress filters");
        String vip = DsrLab.VIP + ":" + FILTER_TEST_PORT;
        String handle = "0x" + Integer.toUnsignedString(
                IngressDrop.handleFor(new java.net.InetSocketAddress(DsrLab.VIP, FILTER_TEST_PORT), 17), 16);
        long stackWithout;
        try (EngineProcess e = new EngineProcess(net.lb, vip, "udp", "l2", "eth0", "1", "65536", "0", "-", "6080",
                "5-tuple", "-", "no-ingress-drop")) {
            e.backends(DsrLab.spec(FILTER_TEST_PORT, "b1", "b2", "b3"));
            assertFalse(ingressFilters().contains(handle), ingressFilters());
            stackWithout = lbIpReceivesDuring(20);
        }
        long stackWith;
        try (EngineProcess e = new EngineProcess(net.lb, vip, "udp", "l2", "eth0", "1", "65536", "0")) {
            e.backends(DsrLab.spec(FILTER_TEST_PORT, "b1", "b2", "b3"));
            String filters = ingressFilters();
            assertTrue(filters.lines().anyMatch(l -> l.contains("pref 65520 bpf chain 0 handle " + handle + " ")
                    && l.contains("direct-action")), filters);
            stackWith = lbIpReceivesDuring(20);
        }
        assertFalse(ingressFilters().contains(handle), "the engine removes its filter when it stops");
        assertTrue(stackWithout >= 20, "without the filter the LB's IP stack receives every datagram too: "
                + stackWithout);
        assertTrue(stackWith < 5, "with the filter the LB's IP stack receives none of them: " + stackWith);
    }

    @Test
    void aSecondEngineForTheSameVipLeavesTheFirstEnginesFilterAlone() throws Exception {
        Assumptions.assumeTrue(ioKind.equals("af_packet"), "the tc ingress drop filter is AF_PACKET's (AF_XDP's program keeps "
                + "the VIP's packets from the stack itself)");
        Assumptions.assumeTrue(NetLab.hasCommand("tc"), "needs the tc tool (iproute2) to list ingress filters");
        String vip = DsrLab.VIP + ":" + FILTER_TEST_PORT;
        String handle = "handle 0x" + Integer.toUnsignedString(
                IngressDrop.handleFor(new java.net.InetSocketAddress(DsrLab.VIP, FILTER_TEST_PORT), 17), 16) + " ";
        try (EngineProcess first = new EngineProcess(net.lb, vip, "udp", "l2", "eth0", "1", "65536", "0")) {
            String flowid = "flowid :" + Long.toHexString(first.pid()); // tc prints the owner tag (class id) so
            assertTrue(filterLine(handle).contains(flowid), ingressFilters());
            try (EngineProcess second = new EngineProcess(net.lb, vip, "udp", "l2", "eth0", "1", "65536", "0")) {
                assertTrue(filterLine(handle).contains(flowid), "the second engine does not take the filter over: "
                        + ingressFilters());
            }
            assertTrue(filterLine(handle).contains(flowid), "the second engine's stop leaves the first's filter: "
                    + ingressFilters());
        }
        assertFalse(ingressFilters().contains(handle), "the first engine removes its filter when it stops");
    }

    /** The line of {@code tc filter show} with {@code handle}, or "" when there is none. */
    private String filterLine(String handle) throws Exception {
        return ingressFilters().lines().filter(l -> l.contains(handle)).findFirst().orElse("");
    }

    private String ingressFilters() throws Exception {
        return net.lab.exec(net.lb, "tc", "filter", "show", "dev", "eth0", "ingress");
    }

    /** IP packets the LB namespace's stack received (Ip: InReceives) while 20 datagrams went through the VIP. */
    private long lbIpReceivesDuring(int datagrams) throws Exception {
        long before = ipInReceives(net.lb);
        for (int i = 0; i < datagrams; i++) {
            try (DatagramSocket s = net.udpClient(43000 + i, FILTER_TEST_PORT)) {
                DsrLab.udpExchange(s, ("datagram " + i).getBytes());
            }
        }
        return ipInReceives(net.lb) - before;
    }

    private long ipInReceives(String ns) throws Exception {
        String[] lines = net.lab.exec(ns, "cat", "/proc/net/snmp").split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("Ip: ") && lines[i + 1].startsWith("Ip: ")) {
                java.util.List<String> names = java.util.List.of(lines[i].split(" "));
                return Long.parseLong(lines[i + 1].split(" ")[names.indexOf("InReceives")]);
            }
        }
        throw new IllegalStateException("no Ip: lines in /proc/net/snmp");
    }

    @Test
    void aKilledEnginesFilterIsRemovedByTheNextStartAndLiveOnesStay() throws Exception {
        Assumptions.assumeTrue(ioKind.equals("af_packet"), "the tc ingress drop filter is AF_PACKET's (AF_XDP's program keeps "
                + "the VIP's packets from the stack itself)");
        Assumptions.assumeTrue(NetLab.hasCommand("tc"), "needs the tc tool (iproute2) to list ingress filters");
        String handle = "0x" + Integer.toUnsignedString(
                IngressDrop.handleFor(new java.net.InetSocketAddress(DsrLab.VIP, FILTER_TEST_PORT), 17), 16);
        EngineProcess killed = new EngineProcess(net.lb, DsrLab.VIP + ":" + FILTER_TEST_PORT, "udp", "l2", "eth0", "1",
                "65536", "0");
        try {
            assertTrue(ingressFilters().contains("handle " + handle + " "), ingressFilters());
            ProcessHandle.of(killed.pid()).orElseThrow().destroyForcibly(); // SIGKILL: no chance to clean up
            assertTrue(ProcessHandle.of(killed.pid()).orElseThrow().onExit().get(10, TimeUnit.SECONDS) != null);
        } finally {
            killed.close();
        }
        String before = ingressFilters();
        assertTrue(before.contains("handle " + handle + " "), "a killed engine leaves its filter: " + before);
        long liveFilters = before.lines().filter(l -> l.contains(" handle ")).count() - 1;

        int removed = NetLab.inNamespace(net.lb, DsrEngine::removeStaleIngressFilters);

        String after = ingressFilters();
        assertEquals(1, removed, after);
        assertFalse(after.contains("handle " + handle + " "), after);
        assertEquals(liveFilters, after.lines().filter(l -> l.contains(" handle ")).count(),
                "the running engines keep theirs: " + after);
        assertEquals(0, (int) NetLab.inNamespace(net.lb, DsrEngine::removeStaleIngressFilters));
    }
}
