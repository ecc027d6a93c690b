package io.maglevlb.dataplane.packet;

import static io.maglevlb.dataplane.packet.XdpVipProgram.XDP_PASS;
import static io.maglevlb.dataplane.packet.XdpVipProgram.XDP_REDIRECT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.dataplane.linux.Bpf;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.XdpLink;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The XDP program run by the kernel on test inputs ({@code BPF_PROG_TEST_RUN}, as Katran and Cilium test theirs):
 * each frame must give the expected action, and VIP frames must be redirected only on the queue whose AF_XDP
 * socket is in the XSKMAP. Also attach, detach and the ownership rules on a real veth. Root only.
 */
@Timeout(120)
class XdpVipProgramIT {
    private static final String VIP = "198.18.0.10";
    private static final String VIP6 = "2001:db8::10";
    private static final String CLIENT = "198.18.1.1";
    private static final String CLIENT6 = "2001:db8::1";
    private static NetLab lab;
    private static String ns;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "XDP program tests need root (bpf(), network namespaces, AF_XDP) and the ip tool; skipped");
        lab = new NetLab("x");
        ns = lab.host("h", "198.18.0.2/24");
        // a veth with two queues: the redirect must follow the receiving queue
        NetLab.run("ip", "-n", ns, "link", "add", "xq0", "numrxqueues", "2", "numtxqueues", "2", "type", "veth",
                "peer", "name", "xq1", "numrxqueues", "2", "numtxqueues", "2");
        NetLab.run("ip", "-n", ns, "link", "set", "xq0", "up");
        NetLab.run("ip", "-n", ns, "link", "set", "xq1", "up");
    }

    @AfterAll
    static void tearDown() {
        if (lab != null) {
            lab.close();
        }
    }

    private static Set<byte[]> vips() throws Exception {
        InetAddress v4 = InetAddress.ofLiteral(VIP);
        InetAddress v6 = InetAddress.ofLiteral(VIP6);
        return Set.of(XdpVipProgram.key(v4, 80, 6), XdpVipProgram.key(v4, 0, 6),
                XdpVipProgram.key(v4, 53, 17), XdpVipProgram.key(v4, 0, 17),
                XdpVipProgram.key(v6, 443, 6), XdpVipProgram.key(v6, 0, 6));
    }

    private static byte[] eth(byte[] ip) {
        return Frames.ethernet(ip[0] >>> 4 == 6 ? 0x86dd : 0x0800, ip);
    }

    /** Frames the program must send to the receiving queue's socket. */
    private static Map<String, byte[]> vipFrames() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("tcp to VIP:80", eth(Frames.ipv4(CLIENT, VIP, 6, 0x4000, Frames.tcp(40000, 80, new byte[0]))));
        m.put("udp to VIP:53", eth(Frames.ipv4(CLIENT, VIP, 17, 0, Frames.udp(40000, 53, new byte[8]))));
        byte[] options = Frames.ipv4(CLIENT, VIP, 6, 0x4000, concatNop(Frames.tcp(40001, 80, new byte[0])));
        options[0] = 0x46; // IHL 6: four bytes of options (NOPs) before the TCP header
        m.put("tcp to VIP:80 with IP options", eth(options));
        m.put("first fragment to VIP:80", eth(Frames.ipv4(CLIENT, VIP, 6, 0x2000, Frames.tcp(40002, 80, new byte[16]))));
        m.put("later fragment, tcp, to VIP", eth(Frames.ipv4(CLIENT, VIP, 6, 0x0003, new byte[16])));
        m.put("later fragment, udp, to VIP", eth(Frames.ipv4(CLIENT, VIP, 17, 0x2005, new byte[16])));
        byte[] quoted = Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(80, 40000, new byte[0])), 28);
        m.put("icmp frag-needed about VIP:80", eth(Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 1400, quoted))));
        m.put("ipv6 tcp to VIP:443", eth(Frames.ipv6(CLIENT6, VIP6, 6, Frames.tcp(40000, 443, new byte[0]))));
        m.put("ipv6 fragment, tcp, to VIP", eth(Frames.ipv6(CLIENT6, VIP6, 44,
                Frames.ipv6Fragment(6, 0, true, Frames.tcp(40000, 443, new byte[8])))));
        byte[] quoted6 = Frames.ipv6(VIP6, CLIENT6, 6, Frames.tcp(443, 40000, new byte[0]));
        m.put("icmpv6 packet-too-big about VIP:443", eth(Frames.ipv6("2001:db8::fe", VIP6, 58,
                Frames.icmp(2, 0, 1280, quoted6))));
        return m;
    }

    private static byte[] concatNop(byte[] tcp) {
        return Frames.concat(new byte[] {1, 1, 1, 1}, tcp);
    }

    /** Frames the program must pass to the kernel, on any queue. */
    private static Map<String, byte[]> otherFrames() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("tcp to VIP:81", eth(Frames.ipv4(CLIENT, VIP, 6, 0x4000, Frames.tcp(40000, 81, new byte[0]))));
        m.put("udp to VIP:80 (tcp VIP)", eth(Frames.ipv4(CLIENT, VIP, 17, 0, Frames.udp(40000, 80, new byte[0]))));
        m.put("tcp to another address", eth(Frames.ipv4(CLIENT, "198.18.0.11", 6, 0x4000, Frames.tcp(40000, 80, new byte[0]))));
        m.put("ARP", Frames.ethernet(0x0806, new byte[28]));
        m.put("ICMP echo to VIP", eth(Frames.ipv4(CLIENT, VIP, 1, 0, Frames.icmp(8, 0, 1, new byte[8]))));
        byte[] quoted = Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(80, 40000, new byte[0])), 28);
        m.put("icmp port-unreachable about VIP:80", eth(Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 3, 0, quoted))));
        byte[] quoted81 = Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(81, 40000, new byte[0])), 28);
        m.put("icmp frag-needed about VIP:81", eth(Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 1400, quoted81))));
        m.put("ipv6 udp to VIP:443", eth(Frames.ipv6(CLIENT6, VIP6, 17, Frames.udp(40000, 443, new byte[0]))));
        m.put("ipv6 with a hop-by-hop header", eth(Frames.ipv6(CLIENT6, VIP6, 0, new byte[16])));
        // truncated and malformed
        byte[] good = eth(Frames.ipv4(CLIENT, VIP, 6, 0x4000, Frames.tcp(40000, 80, new byte[0])));
        m.put("Ethernet header only", Arrays.copyOf(good, 14));
        m.put("IPv4 header cut at 19 bytes", Arrays.copyOf(good, 14 + 19));
        m.put("TCP ports cut off", Arrays.copyOf(good, 14 + 20 + 3));
        byte[] shortIhl = good.clone();
        shortIhl[14] = 0x44;
        m.put("IPv4 header length 4", shortIhl);
        byte[] version = good.clone();
        version[14] = 0x65;
        m.put("version 6 in an IPv4 frame", version);
        byte[] longIhl = good.clone();
        longIhl[14] = 0x4f; // 60-byte header: the ports would lie beyond the frame
        m.put("IPv4 header length 15, frame too short", longIhl);
        m.put("ipv6 cut at 53 bytes", Arrays.copyOf(eth(Frames.ipv6(CLIENT6, VIP6, 6, Frames.tcp(1, 443, new byte[0]))), 14 + 39));
        byte[] quotedShort = Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(80, 40000, new byte[0])), 21);
        m.put("icmp frag-needed with a cut quote", eth(Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 1400, quotedShort))));
        return m;
    }

    @Test
    void vipFramesGoToTheReceivingQueuesSocketAndEverythingElsePasses() throws Exception {
        NetLab.inNamespace(ns, () -> {
            InterfaceInfo iface;
            try (LinuxNative sys = new LinuxNative()) {
                iface = InterfaceInfo.read(sys, "xq0");
            }
            try (XdpRedirect redirect = XdpRedirect.create(2); Bpf bpf = new Bpf()) {
                redirect.updateVips(vips());
                try (AfXdpIo socket = AfXdpIo.open(iface, 1, redirect, io.maglevlb.core.config.DsrConfig.DEFAULT_XDP_FRAMES)) {
                    for (Map.Entry<String, byte[]> e : vipFrames().entrySet()) {
                        assertEquals(XDP_REDIRECT, run(bpf, redirect, e.getValue(), iface.index(), 1),
                                e.getKey() + " on queue 1 (socket bound)");
                        assertEquals(XDP_PASS, run(bpf, redirect, e.getValue(), iface.index(), 0),
                                e.getKey() + " on queue 0 (no socket): passed, not dropped");
                    }
                    for (Map.Entry<String, byte[]> e : otherFrames().entrySet()) {
                        assertEquals(XDP_PASS, run(bpf, redirect, e.getValue(), iface.index(), 1), e.getKey());
                    }
                    // reload: the UDP VIP goes, the program stays loaded
                    int program = redirect.programFd();
                    InetAddress v4 = InetAddress.ofLiteral(VIP);
                    InetAddress v6 = InetAddress.ofLiteral(VIP6);
                    redirect.updateVips(Set.of(XdpVipProgram.key(v4, 80, 6), XdpVipProgram.key(v4, 0, 6),
                            XdpVipProgram.key(v6, 443, 6), XdpVipProgram.key(v6, 0, 6)));
                    assertEquals(4, redirect.vipMapSize());
                    assertEquals(program, redirect.programFd());
                    assertEquals(XDP_PASS, run(bpf, redirect, vipFrames().get("udp to VIP:53"), iface.index(), 1));
                    assertEquals(XDP_REDIRECT, run(bpf, redirect, vipFrames().get("tcp to VIP:80"), iface.index(), 1));
                }
                // the socket closed: the kernel took it out of the XSKMAP, VIP frames pass
                assertEquals(XDP_PASS, run(bpf, redirect, vipFrames().get("tcp to VIP:80"), iface.index(), 1));
            }
            return null;
        });
    }

    private static int run(Bpf bpf, XdpRedirect redirect, byte[] frame, int ifindex, int queue) {
        Bpf.TestRun r = bpf.testRunXdp(redirect.programFd(), frame, ifindex, queue);
        assertNotNull(r, "BPF_PROG_TEST_RUN failed: " + LinuxNative.describe(bpf.errno()));
        return r.returnValue();
    }

    @Test
    void attachesToAVethAndDetachesOnClose() throws Exception {
        NetLab.inNamespace(ns, () -> {
            InterfaceInfo iface;
            try (LinuxNative sys = new LinuxNative()) {
                iface = InterfaceInfo.read(sys, "xq0");
            }
            try (XdpRedirect redirect = XdpRedirect.create(2)) {
                redirect.attach(iface, "test");
                assertEquals(XdpRedirect.Mode.NATIVE, redirect.mode(), "veth has native XDP");
                assertTrue(linkShow().contains("xdp"), linkShow());
                try (XdpRedirect second = XdpRedirect.create(2)) {
                    PacketEngineException e = assertThrows(PacketEngineException.class, () -> second.attach(iface, "other"));
                    assertTrue(e.getMessage().contains("of this maglevd process"), e.getMessage());
                }
                assertTrue(linkShow().contains("xdp"), "a refused second engine leaves the first program: " + linkShow());
            }
            assertFalse(linkShow().contains("xdp"), linkShow());
            return null;
        });
    }

    @Test
    void replacesAStaleMaglevProgramButNeverAnotherProgram() throws Exception {
        NetLab.inNamespace(ns, () -> {
            InterfaceInfo iface;
            try (LinuxNative sys = new LinuxNative()) {
                iface = InterfaceInfo.read(sys, "xq0");
            }
            Process gone = new ProcessBuilder("true").start();
            gone.waitFor();
            try (Bpf bpf = new Bpf(); LinuxNative sys = new LinuxNative(); XdpLink link = XdpLink.open()) {
                byte[] passAll = Ebpf.assembler().mov(Ebpf.Reg.R0, XDP_PASS).exit().build();
                // a program of a maglevd that died without detaching
                int stale = bpf.loadProgram(Bpf.PROG_TYPE_XDP, passAll, XdpRedirect.NAME_PREFIX + gone.pid()).fd();
                assertTrue(stale >= 0);
                assertEquals(0, link.set(iface.index(), stale, XdpLink.FLAG_SKB_MODE, -1));
                int staleId = link.query(iface.index()).programId();
                try (XdpRedirect redirect = XdpRedirect.create(2)) {
                    redirect.attach(iface, "test");
                    int id = link.query(iface.index()).programId();
                    assertTrue(id != 0 && id != staleId, "replaced: " + staleId + " -> " + id);
                }
                assertFalse(linkShow().contains("xdp"), linkShow());
                sys.closeFd(stale);
                // somebody else's program
                int foreign = bpf.loadProgram(Bpf.PROG_TYPE_XDP, passAll, "firewall").fd();
                assertEquals(0, link.set(iface.index(), foreign, XdpLink.FLAG_DRV_MODE, -1));
                int foreignId = link.query(iface.index()).programId();
                try (XdpRedirect redirect = XdpRedirect.create(2)) {
                    PacketEngineException e = assertThrows(PacketEngineException.class, () -> redirect.attach(iface, "test"));
                    assertTrue(e.getMessage().contains("not maglevd's") && e.getMessage().contains("xdp off"),
                            e.getMessage());
                }
                assertEquals(foreignId, link.query(iface.index()).programId(), "the other program stays");
                assertEquals(0, link.set(iface.index(), -1, XdpLink.FLAG_DRV_MODE, foreign));
                sys.closeFd(foreign);
            }
            return null;
        });
    }

    private static String linkShow() throws Exception {
        return NetLab.run("ip", "-n", ns, "link", "show", "xq0");
    }
}
