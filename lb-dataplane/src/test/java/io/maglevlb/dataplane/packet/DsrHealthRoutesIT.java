package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.DsrHealthConfig;
import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Health probes at the VIP for ipip and gue ({@link DsrHealthRoutes}, {@link HealthTunnel}), checked byte for
 * byte on the backend's interface as the forwarding tests do (this kernel has no ipip/fou modules, so the
 * backends cannot decapsulate): a marked datagram to the VIP leaves the LB encapsulated exactly as the engine
 * encapsulates a client's packet. Also: what the paths add is tagged and removed, stale entries of a dead
 * maglevd are cleaned up, and a foreign rule in the ranges refuses the start.
 */
@Timeout(120)
class DsrHealthRoutesIT {
    private static final int VIP_PORT = 7100;
    private static final int SO_MARK = 36;
    private static DsrLab net;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR health routing tests need root (network namespaces, policy routing, a TAP device) and the ip "
                        + "tool; skipped");
        net = new DsrLab("r");
    }

    @AfterAll
    static void tearDown() {
        if (net != null) {
            net.close();
        }
    }

    @Test
    void ipipProbeLeavesAsTheEngineWouldSendTheClientPacket() throws Exception {
        byte[][] r = probe(DsrMethod.IPIP, 0, 46300, "ipip probe");
        byte[] frame = r[0];
        byte[] inner = r[1];
        assertOuter(frame, 4, inner.length, 0);
        assertEquals(hex(Frames.addr(DsrLab.LB_IP)), hex(Arrays.copyOfRange(frame, 26, 30)),
                "outer source: the LB interface's address");
        assertEquals(hex(inner), hex(Arrays.copyOfRange(frame, 34, frame.length)), "the probe's packet, unchanged");
    }

    @Test
    void gueProbeCarriesUdpAndAVersion0GueHeader() throws Exception {
        int sourcePort = 46400;
        byte[][] r = probe(DsrMethod.GUE, 1, sourcePort, "gue probe");
        byte[] frame = r[0];
        byte[] inner = r[1];
        assertOuter(frame, 17, 8 + 4 + inner.length, 1);
        int udp = 34;
        long hash = FlowHash.fiveTuple(17, FlowHash.v4Hi(), FlowHash.v4Lo(DsrLab.ip(DsrLab.LB_IP)), sourcePort,
                FlowHash.v4Hi(), FlowHash.v4Lo(DsrLab.ip(DsrLab.VIP)), VIP_PORT);
        assertEquals(Encapsulation.gueSourcePort(hash), ((frame[udp] & 0xff) << 8) | (frame[udp + 1] & 0xff),
                "UDP source port from the flow hash, as for forwarded packets");
        assertEquals(6080, ((frame[udp + 2] & 0xff) << 8) | (frame[udp + 3] & 0xff), "GUE port");
        assertEquals(8 + 4 + inner.length, ((frame[udp + 4] & 0xff) << 8) | (frame[udp + 5] & 0xff), "UDP length");
        assertEquals("0000", hex(Arrays.copyOfRange(frame, udp + 6, udp + 8)), "UDP checksum 0");
        assertEquals("00040000", hex(Arrays.copyOfRange(frame, udp + 8, udp + 12)), "GUE version 0, proto 4");
        assertEquals(hex(inner), hex(Arrays.copyOfRange(frame, udp + 12, frame.length)), "the probe's packet");
    }

    /**
     * Opens the routes in the LB, adds a path to backend {@code b}, sends one marked datagram from
     * {@code sourcePort} to the VIP, and returns (the frame captured at the backend, the expected inner packet).
     * Checks that the path's rule and route exist while open and are gone, with the TAP device, after close.
     */
    private static byte[][] probe(DsrMethod method, int b, int sourcePort, String text) throws Exception {
        byte[] payload = text.getBytes();
        InetAddress vip = InetAddress.ofLiteral(DsrLab.VIP);
        InetAddress backend = InetAddress.ofLiteral(DsrLab.BACKEND_IPS[b]);
        DsrHealthRoutes routes = NetLab.inNamespace(net.lb, () -> DsrHealthRoutes.open(DsrHealthConfig.defaults()));
        byte[] frame;
        try (RawLink capture = RawLink.open(net.backends[b])) {
            DsrHealthRoutes.Path path = NetLab.inNamespace(net.lb, () -> routes.acquire(vip, backend, method, "eth0",
                    6080, Optional.empty()));
            assertTrue(path.description().startsWith("via " + DsrLab.BACKEND_IPS[b] + " (" + method.configName()
                    + " on eth0"), path.description());
            assertTrue(path.hint().contains("is the VIP on its loopback"), path.hint());
            String rules = NetLab.run("ip", "-n", net.lb, "rule", "show");
            assertTrue(rules.contains("fwmark 0x" + Integer.toHexString(path.mark())) && rules.contains("proto 77"),
                    rules);
            String tapRoute = NetLab.run("ip", "-n", net.lb, "route", "show", "table",
                    Integer.toUnsignedString(path.table()));
            assertTrue(tapRoute.contains(DsrLab.VIP + " via " + DsrLab.BACKEND_IPS[b] + " dev mlbhc")
                    && tapRoute.contains("proto 77") && tapRoute.contains("src " + DsrLab.LB_IP), tapRoute);
            long before = net.rxPackets(net.backends[b]);
            NetLab.inNamespace(net.lb, () -> {
                sendMarked(path.mark(), sourcePort, payload);
                return null;
            });
            frame = capture.receive(10_000, f -> f.length > 34 && f[12] == 0x08 && f[13] == 0
                    && Arrays.equals(Arrays.copyOfRange(f, 30, 34), Frames.addr(DsrLab.BACKEND_IPS[b]))
                    && (method == DsrMethod.IPIP ? f[23] == 4
                            : f[23] == 17 && f.length > 38 && ((f[36] & 0xff) << 8 | (f[37] & 0xff)) == 6080));
            assertNotNull(frame, "an encapsulated probe reached " + DsrLab.BACKEND_IPS[b]);
            assertTrue(net.rxPackets(net.backends[b]) > before);
            routes.release(path);
            assertFalse(NetLab.run("ip", "-n", net.lb, "rule", "show").contains("fwmark"), "released: rule gone");
        } finally {
            routes.close();
        }
        assertFalse(NetLab.run("ip", "-n", net.lb, "link", "show").contains("mlbhc"), "closed: TAP device gone");
        assertEquals("", NetLab.run("ip", "-n", net.lb, "route", "show", "table", "all", "proto", "77").strip());
        assertEquals(hex(RawLink.macOf(net.lab, net.backends[b])), hex(Arrays.copyOfRange(frame, 0, 6)),
                "Ethernet destination: the backend");
        assertEquals(hex(RawLink.macOf(net.lab, net.lb)), hex(Arrays.copyOfRange(frame, 6, 12)), "source: the LB");
        // The probe's packet as the LB's stack wrote it: take its IP id and TTL, the rest is known.
        int innerStart = method == DsrMethod.GUE ? 34 + 12 : 34;
        byte[] inner = Frames.ipv4(DsrLab.LB_IP, DsrLab.VIP, 17, 0x4000, Frames.udp(sourcePort, VIP_PORT, payload));
        inner[4] = frame[innerStart + 4];
        inner[5] = frame[innerStart + 5];
        inner[8] = frame[innerStart + 8];
        inner[10] = 0;
        inner[11] = 0;
        int c = Frames.referenceChecksum(Arrays.copyOf(inner, 20));
        inner[10] = (byte) (c >>> 8);
        inner[11] = (byte) c;
        return new byte[][] {frame, Frames.withTransportChecksumV4(inner)};
    }

    /** One UDP datagram from LB_IP:sourcePort to VIP:VIP_PORT through a socket with SO_MARK {@code mark}. */
    private static void sendMarked(int mark, int sourcePort, byte[] payload) throws IOException {
        try (LinuxNative sys = new LinuxNative()) {
            int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
            try {
                if (sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, SO_MARK, mark) < 0) {
                    throw new IOException("SO_MARK: " + LinuxNative.describe(sys.errno()));
                }
                if (sys.bind(fd, sockaddr(sys, DsrLab.LB_IP, sourcePort), 16) < 0) {
                    throw new IOException("bind: " + LinuxNative.describe(sys.errno()));
                }
                MemorySegment data = sys.allocate(payload.length);
                MemorySegment.copy(MemorySegment.ofArray(payload), 0, data, 0, payload.length);
                if (sys.sendto(fd, data, payload.length, 0, sockaddr(sys, DsrLab.VIP, VIP_PORT), 16) < 0) {
                    throw new IOException("sendto: " + LinuxNative.describe(sys.errno()));
                }
            } finally {
                sys.closeFd(fd);
            }
        }
    }

    private static MemorySegment sockaddr(LinuxNative sys, String ip, int port) {
        MemorySegment sa = sys.allocate(16);
        sa.set(JAVA_SHORT, 0, (short) LinuxNative.AF_INET);
        sa.set(JAVA_SHORT, 2, LinuxNative.htons(port));
        sa.set(JAVA_INT, 4, Integer.reverseBytes(DsrLab.ip(ip)));
        return sa;
    }

    private static void assertOuter(byte[] frame, int protocol, int payloadLength, int b) {
        assertEquals(0x45, frame[14] & 0xff, "version 4, IHL 5");
        assertEquals(20 + payloadLength, ((frame[16] & 0xff) << 8) | (frame[17] & 0xff), "total length");
        assertEquals("0000", hex(Arrays.copyOfRange(frame, 18, 20)), "ID 0");
        assertEquals(0x4000, ((frame[20] & 0xff) << 8) | (frame[21] & 0xff), "DF set, not a fragment");
        assertEquals(64, frame[22] & 0xff, "TTL");
        assertEquals(protocol, frame[23] & 0xff, "protocol");
        assertEquals(0, Frames.referenceChecksum(Arrays.copyOfRange(frame, 14, 34)), "header checksum verifies");
        assertEquals(hex(Frames.addr(DsrLab.BACKEND_IPS[b])), hex(Arrays.copyOfRange(frame, 30, 34)),
                "outer destination: the backend");
    }

    @Test
    void staleEntriesOfADeadMaglevdGoAndForeignOnesRefuseTheStart() throws Exception {
        DsrHealthConfig s = DsrHealthConfig.defaults();
        String mark = "0x" + Integer.toHexString(s.firstMark() + 7);
        String table = Integer.toUnsignedString(s.firstTable() + 7);
        // what a killed maglevd leaves: its rule (its TAP device and routes died with it)
        NetLab.run("ip", "-n", net.lb, "rule", "add", "pref", "19000", "fwmark", mark, "lookup", table, "proto", "77");
        DsrHealthRoutes routes = NetLab.inNamespace(net.lb, () -> DsrHealthRoutes.open(s));
        routes.close();
        assertFalse(NetLab.run("ip", "-n", net.lb, "rule", "show").contains("fwmark"), "the stale rule was removed");

        NetLab.run("ip", "-n", net.lb, "rule", "add", "pref", "100", "fwmark", mark, "lookup", "100");
        try {
            IOException e = assertThrows(IOException.class,
                    () -> NetLab.inNamespace(net.lb, () -> DsrHealthRoutes.open(s)));
            assertTrue(e.getMessage().contains("was not added by maglevd"), e.getMessage());
            assertTrue(NetLab.run("ip", "-n", net.lb, "rule", "show").contains("fwmark " + mark + " lookup 100"),
                    "someone else's rule is left alone");
        } finally {
            NetLab.run("ip", "-n", net.lb, "rule", "del", "pref", "100", "fwmark", mark, "lookup", "100");
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
