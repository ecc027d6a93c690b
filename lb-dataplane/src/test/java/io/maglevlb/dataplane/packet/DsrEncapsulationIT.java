package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ipip and gue DSR, checked byte for byte as captured on the backend's interface. This kernel has no ipip/fou
 * modules, so the backends cannot decapsulate; the test injects a client packet with a raw socket and compares
 * what arrives at the backend the Maglev table picks: Ethernet to the backend, a correct outer IPv4 header
 * (+ UDP + GUE), and the client's packet unchanged inside. Runs once per I/O kind ({@code dsr.io}); on af_xdp
 * the gue engine runs on an LB host of its own (one AF_XDP engine per interface).
 */
@ParameterizedClass(name = "dsr.io {0}")
@ValueSource(strings = {"af_packet", "af_xdp"})
@Timeout(120)
class DsrEncapsulationIT {
    private static final int IPIP_PORT = 7000;
    private static final int GUE_PORT = 7001;
    private static final int GUE_DESTINATION_PORT = 6080;
    private static final String OUTER_RANGE = "198.18.2.0/28";
    private static DsrLab net;
    /** The invocation's dsr.io: af_packet or af_xdp. */
    @Parameter
    String ioKind;
    private static EngineProcess ipip;
    private static EngineProcess gue;

    @BeforeParameterizedClassInvocation
    static void setUp(String ioKind) throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_PACKET) and the ip tool; skipped");
        net = new DsrLab("e");
        try {
            String gueLb = net.lbFor(ioKind, 1, "udp", GUE_PORT);
            CompletableFuture<EngineProcess> a = CompletableFuture.supplyAsync(() -> start(net.lb,
                    DsrLab.VIP + ":" + IPIP_PORT, "udp", "ipip", "eth0", "1", "1024", "0", "-", "6080", "5-tuple", "1",
                    "ingress-drop", ioKind));
            CompletableFuture<EngineProcess> b = CompletableFuture.supplyAsync(() -> start(gueLb,
                    DsrLab.VIP + ":" + GUE_PORT, "udp", "gue", "eth0", "1", "1024", "0", OUTER_RANGE,
                    String.valueOf(GUE_DESTINATION_PORT), "5-tuple", "-", "ingress-drop", ioKind));
            ipip = a.join();
            gue = b.join();
            assertEquals(ioKind, ipip.io());
            assertEquals(ioKind, gue.io());
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
        for (EngineProcess e : new EngineProcess[] {ipip, gue}) {
            if (e != null) {
                e.close();
            }
        }
        if (net != null) {
            net.close();
        }
        ipip = null;
        gue = null;
        net = null;
    }

    /** Injects a UDP datagram client:port -> VIP:vipPort and returns (the IP packet sent, the frame captured). */
    private static byte[][] sendAndCapture(EngineProcess engine, int vipPort, int clientPort) throws Exception {
        Map<String, Integer> ids = engine.backends(DsrLab.spec(vipPort, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, vipPort);
        String owner = DsrLab.expectedBackend(expected, 17, clientPort, vipPort);
        int backendIndex = Integer.parseInt(owner.substring(1)) - 1;
        byte[] lbMac = RawLink.macOf(net.lab, engine.namespace());
        byte[] payload = ("payload for " + clientPort).getBytes();
        byte[] ip = Frames.withTransportChecksumV4(
                Frames.ipv4(DsrLab.CLIENT_IP, DsrLab.VIP, 17, 0x4000, Frames.udp(clientPort, vipPort, payload)));
        ip[1] = (byte) 0xb8; // DSCP EF: the outer header must copy it
        ip[10] = 0;
        ip[11] = 0;
        int c = Frames.referenceChecksum(Arrays.copyOf(ip, 20));
        ip[10] = (byte) (c >>> 8);
        ip[11] = (byte) c;
        try (RawLink capture = RawLink.open(net.backends[backendIndex]); RawLink client = RawLink.open(net.client)) {
            client.send(Frames.concat(lbMac, Frames.CLIENT_MAC, new byte[] {0x08, 0x00}, ip));
            byte[] frame = capture.receive(10_000, f -> f.length > 34 && f[12] == 0x08 && f[13] == 0
                    && Arrays.equals(Arrays.copyOfRange(f, 30, 34), Frames.addr(DsrLab.BACKEND_IPS[backendIndex]))
                    && (f[23] == 4 || f[23] == 17));
            assertNotNull(frame, "an encapsulated frame reached " + owner);
            assertEquals(hex(RawLink.macOf(net.lab, net.backends[backendIndex])), hex(Arrays.copyOfRange(frame, 0, 6)),
                    "Ethernet destination: the backend");
            assertEquals(hex(lbMac), hex(Arrays.copyOfRange(frame, 6, 12)), "Ethernet source: the LB");
            return new byte[][] {ip, frame, Frames.addr(DsrLab.BACKEND_IPS[backendIndex])};
        }
    }

    private static void assertOuterIpv4(byte[] frame, int protocol, int payloadLength, byte[] backendIp) {
        assertEquals(0x45, frame[14] & 0xff, "version 4, IHL 5");
        assertEquals(0xb8, frame[15] & 0xff, "DSCP/ECN copied from the client packet");
        assertEquals(20 + payloadLength, ((frame[16] & 0xff) << 8) | (frame[17] & 0xff), "total length");
        assertEquals(0x4000, ((frame[20] & 0xff) << 8) | (frame[21] & 0xff), "DF set, not a fragment");
        assertEquals(64, frame[22] & 0xff, "TTL");
        assertEquals(protocol, frame[23] & 0xff, "protocol");
        assertEquals(0, Frames.referenceChecksum(Arrays.copyOfRange(frame, 14, 34)), "header checksum verifies");
        assertEquals(hex(backendIp), hex(Arrays.copyOfRange(frame, 30, 34)), "outer destination: the backend");
    }

    @Test
    void ipipCarriesTheClientPacketUnchangedBehindACorrectOuterHeader() throws Exception {
        byte[][] r = sendAndCapture(ipip, IPIP_PORT, 46000);
        byte[] ip = r[0];
        byte[] frame = r[1];
        assertOuterIpv4(frame, 4, ip.length, r[2]);
        assertEquals(hex(Frames.addr(DsrLab.LB_IP)), hex(Arrays.copyOfRange(frame, 26, 30)),
                "outer source: the LB interface's address (no range configured)");
        assertEquals(hex(ip), hex(Arrays.copyOfRange(frame, 34, 34 + ip.length)), "inner packet unchanged");
        assertEquals(34 + ip.length, frame.length, "nothing after the inner packet");
    }

    @Test
    void gueCarriesTheClientPacketBehindUdpAndAVersion0GueHeader() throws Exception {
        int clientPort = 46100;
        byte[][] r = sendAndCapture(gue, GUE_PORT, clientPort);
        byte[] ip = r[0];
        byte[] frame = r[1];
        assertOuterIpv4(frame, 17, 8 + 4 + ip.length, r[2]);
        long hash = FlowHash.fiveTuple(17, 0, FlowHash.v4Lo(DsrLab.ip(DsrLab.CLIENT_IP)), clientPort, 0,
                FlowHash.v4Lo(DsrLab.ip(DsrLab.VIP)), GUE_PORT);
        Ipv4Range range = Ipv4Range.parse(OUTER_RANGE);
        int outerSource = DsrLab.ip(java.net.InetAddress.getByAddress(Arrays.copyOfRange(frame, 26, 30)).getHostAddress());
        assertEquals(range.pick(hash), outerSource, "outer source: the flow's address from the configured range");
        int udp = 34;
        int sourcePort = ((frame[udp] & 0xff) << 8) | (frame[udp + 1] & 0xff);
        assertEquals(Encapsulation.gueSourcePort(hash), sourcePort, "UDP source port from the flow hash");
        assertTrue(sourcePort >= 49152);
        assertEquals(GUE_DESTINATION_PORT, ((frame[udp + 2] & 0xff) << 8) | (frame[udp + 3] & 0xff));
        assertEquals(8 + 4 + ip.length, ((frame[udp + 4] & 0xff) << 8) | (frame[udp + 5] & 0xff), "UDP length");
        assertEquals("0000", hex(Arrays.copyOfRange(frame, udp + 6, udp + 8)), "UDP checksum 0 (none, IPv4)");
        assertEquals("00040000", hex(Arrays.copyOfRange(frame, udp + 8, udp + 12)),
                "GUE: version 0, C 0, Hlen 0, protocol 4 (IPv4), flags 0");
        assertEquals(hex(ip), hex(Arrays.copyOfRange(frame, udp + 12, udp + 12 + ip.length)), "inner packet unchanged");
    }

    @Test
    void packetsThatWouldExceedTheMtuOnceEncapsulatedAreCountedNotSent() throws Exception {
        ipip.backends(DsrLab.spec(IPIP_PORT, "b1", "b2", "b3"));
        Map<String, Long> before = ipip.stats();
        byte[] lbMac = RawLink.macOf(net.lab, ipip.namespace());
        // 1500-byte IP packet (the MTU): 20 bytes of outer header make it 1520
        byte[] ip = Frames.ipv4(DsrLab.CLIENT_IP, DsrLab.VIP, 17, 0x4000, Frames.udp(46200, IPIP_PORT, new byte[1472]));
        try (RawLink client = RawLink.open(net.client)) {
            client.send(Frames.concat(lbMac, Frames.CLIENT_MAC, new byte[] {0x08, 0x00}, ip));
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        Map<String, Long> after;
        do {
            Thread.sleep(20);
            after = ipip.stats();
        } while (after.get("drop.too_big").equals(before.get("drop.too_big")) && System.nanoTime() < deadline);
        assertEquals(1, after.get("drop.too_big") - before.get("drop.too_big"), after.toString());
        assertEquals(before.get("forwarded"), after.get("forwarded"));
    }

    @Test
    void forwardingThreadsArePinnedWhereAsked() throws Exception {
        // the ipip engine runs its one forwarding thread pinned to CPU 1
        java.nio.file.Path tasks = java.nio.file.Path.of("/proc", String.valueOf(ipip.pid()), "task");
        java.util.List<String> pinned = new java.util.ArrayList<>();
        try (var dirs = java.nio.file.Files.list(tasks)) {
            for (java.nio.file.Path task : dirs.toList()) {
                String comm = java.nio.file.Files.readString(task.resolve("comm")).trim();
                // "maglev-dsr-test-0" (AF_PACKET: the VIP's thread) or "maglev-dsr-xdp-eth0-0" (AF_XDP: the
                // interface's queue thread), cut to 15 characters
                if (comm.startsWith("maglev-dsr-tes") || comm.startsWith("maglev-dsr-xdp")) {
                    String status = java.nio.file.Files.readString(task.resolve("status"));
                    pinned.add(status.lines().filter(l -> l.startsWith("Cpus_allowed_list:")).findFirst().orElseThrow()
                            .substring("Cpus_allowed_list:".length()).trim());
                }
            }
        }
        assertEquals(java.util.List.of("1"), pinned);
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
