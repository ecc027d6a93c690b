package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class VipFilterTest {
    private static final String VIP = "198.18.1.100";
    private static final String VIP6 = "2001:db8::100";
    private final BpfProgram tcp80 = VipFilter.forVip(InetAddress.ofLiteral(VIP), 6, 80);
    private final BpfProgram udp53 = VipFilter.forVip(InetAddress.ofLiteral(VIP), 17, 53);
    private final BpfProgram tcp6 = VipFilter.forVip(InetAddress.ofLiteral(VIP6), 6, 443);

    private static boolean accepts(BpfProgram p, byte[] frame) {
        return BpfInterpreter.run(p, frame) != 0;
    }

    private static byte[] v4(String dst, int protocol, int flags, byte[] l4) {
        return Frames.ethernet(0x0800, Frames.ipv4("198.18.0.1", dst, protocol, flags, l4));
    }

    @Test
    void ipv4AcceptsOnlyTheVipsProtocolAndPort() {
        assertEquals(VipFilter.ACCEPT_ALL, BpfInterpreter.run(tcp80, v4(VIP, 6, 0x4000, Frames.tcp(1, 80, new byte[0]))));
        assertEquals(false, accepts(tcp80, v4(VIP, 6, 0, Frames.tcp(1, 81, new byte[0]))));
        assertEquals(false, accepts(tcp80, v4("198.18.1.101", 6, 0, Frames.tcp(1, 80, new byte[0]))));
        assertEquals(false, accepts(tcp80, v4(VIP, 17, 0, Frames.udp(1, 80, new byte[0]))));
        assertEquals(true, accepts(udp53, v4(VIP, 17, 0, Frames.udp(1, 53, new byte[0]))));
        assertEquals(false, accepts(tcp80, Frames.ethernet(0x0806, new byte[28])));
    }

    @Test
    void ipv4PortIsFoundBehindIpOptions() {
        byte[] ip = Frames.ipv4("198.18.0.1", VIP, 6, 0, Frames.concat(new byte[] {1, 1, 1, 1}, Frames.tcp(1, 80, new byte[0])));
        ip[0] = 0x46; // 24-byte header: the 4 bytes of NOP options come first
        assertEquals(true, accepts(tcp80, Frames.ethernet(0x0800, ip)));
        ip[0] = 0x45; // now the "options" are read as ports 0x0101:0x0101
        assertEquals(false, accepts(tcp80, Frames.ethernet(0x0800, ip)));
    }

    @Test
    void ipv4FragmentsAndIcmpUnreachable() {
        assertEquals(true, accepts(udp53, v4(VIP, 17, 0x2000, Frames.udp(1, 53, new byte[8]))), "first fragment");
        assertEquals(true, accepts(udp53, v4(VIP, 17, 0x0010, new byte[64])), "later fragment, no ports");
        assertEquals(false, accepts(udp53, v4(VIP, 6, 0x0010, new byte[64])), "later fragment of another protocol");
        assertEquals(true, accepts(tcp80, v4(VIP, 1, 0, Frames.icmp(3, 4, 0, new byte[28]))), "frag needed");
        assertEquals(false, accepts(tcp80, v4(VIP, 1, 0, Frames.icmp(8, 0, 0, new byte[8]))), "echo request");
        assertEquals(false, accepts(tcp80, v4(VIP, 1, 0x0010, new byte[16])), "later fragment of ICMP");
    }

    @Test
    void truncatedFramesAreDroppedNotOverread() {
        byte[] full = v4(VIP, 6, 0, Frames.tcp(1, 80, new byte[0]));
        for (int len = 0; len < 14 + 20 + 4; len++) {
            assertEquals(false, accepts(tcp80, java.util.Arrays.copyOf(full, len)), "length " + len);
        }
    }

    @Test
    void ipv6AcceptsVipPortFragmentHeaderAndPacketTooBig() {
        String client = "2001:db8::1";
        assertEquals(true, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 6, Frames.tcp(1, 443, new byte[0])))));
        assertEquals(false, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 6, Frames.tcp(1, 80, new byte[0])))));
        assertEquals(false, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, "2001:db8::101", 6, Frames.tcp(1, 443, new byte[0])))));
        assertEquals(true, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 44, new byte[16]))));
        assertEquals(true, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 58, Frames.icmp(2, 0, 1280, new byte[48])))));
        assertEquals(false, accepts(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 58, Frames.icmp(128, 0, 0, new byte[8])))));
        assertEquals(false, accepts(tcp6, Frames.ethernet(0x0800, Frames.ipv4("198.18.0.1", VIP, 6, 0, Frames.tcp(1, 443, new byte[0])))));
    }

    @Test
    void ingressVariantEndsExactlyWhatTheSocketFilterAccepts() {
        BpfProgram drop80 = VipFilter.ingressDrop(InetAddress.ofLiteral(VIP), 6, 80);
        BpfProgram drop6 = VipFilter.ingressDrop(InetAddress.ofLiteral(VIP6), 6, 443);
        String client = "2001:db8::1";
        byte[][] v4Frames = {
            v4(VIP, 6, 0x4000, Frames.tcp(1, 80, new byte[0])), v4(VIP, 6, 0, Frames.tcp(1, 81, new byte[0])),
            v4("198.18.1.101", 6, 0, Frames.tcp(1, 80, new byte[0])), v4(VIP, 17, 0, Frames.udp(1, 80, new byte[0])),
            v4(VIP, 6, 0x0010, new byte[64]), v4(VIP, 1, 0, Frames.icmp(3, 4, 0, new byte[28])),
            v4(VIP, 1, 0, Frames.icmp(8, 0, 0, new byte[8])), Frames.ethernet(0x0806, new byte[28]),
        };
        for (byte[] f : v4Frames) {
            assertEquals(accepts(tcp80, f) ? VipFilter.TC_ACT_SHOT : VipFilter.TC_ACT_UNSPEC,
                    BpfInterpreter.run(drop80, f));
        }
        byte[][] v6Frames = {
            Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 6, Frames.tcp(1, 443, new byte[0]))),
            Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 6, Frames.tcp(1, 80, new byte[0]))),
            Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 58, Frames.icmp(2, 0, 1280, new byte[48]))),
            Frames.ethernet(0x86dd, Frames.ipv6(client, VIP6, 58, Frames.icmp(128, 0, 0, new byte[8]))),
        };
        for (byte[] f : v6Frames) {
            assertEquals(accepts(tcp6, f) ? VipFilter.TC_ACT_SHOT : VipFilter.TC_ACT_UNSPEC,
                    BpfInterpreter.run(drop6, f));
        }
        assertEquals(VipFilter.TC_ACT_SHOT, BpfInterpreter.run(drop80, v4Frames[0]));
        assertEquals(VipFilter.TC_ACT_UNSPEC, BpfInterpreter.run(drop80, v4Frames[1]));
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> VipFilter.forVip(InetAddress.ofLiteral(VIP), 1, 80));
        assertThrows(IllegalArgumentException.class, () -> VipFilter.forVip(InetAddress.ofLiteral(VIP), 6, 0));
    }
}
