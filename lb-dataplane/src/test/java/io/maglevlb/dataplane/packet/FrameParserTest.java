package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.FlowHash;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FrameParserTest {
    private static final String VIP = "198.18.1.100";
    private static final String VIP6 = "2001:db8::100";
    private static final String CLIENT = "198.18.0.1";
    private static final String CLIENT6 = "2001:db8::1";
    private final FrameParser tcp4 = new FrameParser(InetAddress.ofLiteral(VIP), 6, 80);
    private final FrameParser udp4 = new FrameParser(InetAddress.ofLiteral(VIP), 17, 53);
    private final FrameParser tcp6 = new FrameParser(InetAddress.ofLiteral(VIP6), 6, 80);

    private static int parse(FrameParser p, byte[] frame) {
        return parse(p, frame, frame.length, frame.length);
    }

    private static int parse(FrameParser p, byte[] frame, int captured, int wire) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = Frames.native64(arena, frame);
            return p.parse(m, 64, captured, wire);
        }
    }

    private static byte[] tcpFrame(String src, int srcPort, String dst, int dstPort) {
        return Frames.ethernet(0x0800, Frames.ipv4(src, dst, 6, 0x4000, Frames.tcp(srcPort, dstPort, new byte[10])));
    }

    @Test
    void ipv4TcpToTheVipIsAFlowWithItsFiveTuple() {
        assertEquals(FrameParser.FLOW, parse(tcp4, tcpFrame(CLIENT, 40000, VIP, 80)));
        assertEquals(6, tcp4.protocol());
        assertEquals(FlowHash.v4Lo(DsrLab.ip(CLIENT)), tcp4.srcLo());
        assertEquals(FlowHash.v4Hi(), tcp4.srcHi());
        assertEquals(FlowHash.v4Lo(DsrLab.ip(VIP)), tcp4.dstLo());
        assertEquals(40000, tcp4.srcPort());
        assertEquals(80, tcp4.dstPort());
        assertEquals(4, tcp4.ipVersion());
        assertEquals(20 + 20 + 10, tcp4.ipLength());
    }

    @Test
    void ethernetPaddingIsNotPartOfTheIpPacket() {
        byte[] frame = Frames.concat(tcpFrame(CLIENT, 1, VIP, 80), new byte[6]);
        assertEquals(FrameParser.FLOW, parse(tcp4, frame));
        assertEquals(50, tcp4.ipLength());
    }

    @Test
    void otherAddressPortOrProtocolIsNotTheVip() {
        assertDrop(tcp4, tcpFrame(CLIENT, 1, "198.18.1.101", 80), DropReason.NOT_VIP);
        assertDrop(tcp4, tcpFrame(CLIENT, 1, VIP, 81), DropReason.NOT_VIP);
        assertDrop(udp4, tcpFrame(CLIENT, 1, VIP, 53), DropReason.NOT_VIP);
        assertDrop(tcp6, tcpFrame(CLIENT, 1, VIP, 80), DropReason.NOT_VIP);
    }

    @Test
    void nonIpFramesAreCounted() {
        assertDrop(tcp4, Frames.ethernet(0x0806, new byte[28]), DropReason.NOT_IP);
        assertDrop(tcp4, Frames.ethernet(0x8100, new byte[60]), DropReason.NOT_IP);
    }

    @Test
    void everyTruncationOfAValidFrameIsDroppedAsTruncatedOrMalformed() {
        byte[][] frames = {
            tcpFrame(CLIENT, 40000, VIP, 80),
            Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 6, Frames.tcp(1, 80, new byte[3]))),
            icmpFragNeeded(40000),
        };
        FrameParser[] parsers = {tcp4, tcp6, tcp4};
        for (int f = 0; f < frames.length; f++) {
            for (int len = 0; len < frames[f].length; len++) {
                // what a capture cut short looks like: captured < wire length
                assertDrop(parsers[f], frames[f], len, frames[f].length, DropReason.TRUNCATED);
                // a frame that really is this short: headers claim more than there is
                int kind = parse(parsers[f], java.util.Arrays.copyOf(frames[f], len));
                assertEquals(FrameParser.DROP, kind, "frame " + f + " cut to " + len);
                DropReason r = parsers[f].dropReason();
                assertTrue(r == DropReason.TRUNCATED || r == DropReason.MALFORMED, "frame " + f + " len " + len + ": " + r);
            }
        }
    }

    @Test
    void badIpv4HeaderFieldsAreMalformed() {
        byte[] good = tcpFrame(CLIENT, 1, VIP, 80);
        byte[] badVersion = good.clone();
        badVersion[14] = 0x55;
        assertDrop(tcp4, badVersion, DropReason.MALFORMED);
        byte[] shortIhl = good.clone();
        shortIhl[14] = 0x44;
        assertDrop(tcp4, shortIhl, DropReason.MALFORMED);
        byte[] badChecksum = good.clone();
        badChecksum[24] ^= 0x01;
        assertDrop(tcp4, badChecksum, DropReason.MALFORMED);
        byte[] totalBelowHeader = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 0, new byte[0]));
        assertDrop(tcp4, totalBelowHeader, DropReason.MALFORMED); // a TCP packet without a TCP header
        byte[] badDataOffset = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 0, withByte(Frames.tcp(1, 80, new byte[0]), 12, 0x40)));
        assertDrop(tcp4, badDataOffset, DropReason.MALFORMED);
        byte[] dataOffsetBeyondSegment = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 0, withByte(Frames.tcp(1, 80, new byte[0]), 12, 0xf0)));
        assertDrop(tcp4, dataOffsetBeyondSegment, DropReason.MALFORMED);
        byte[] udpLengthTooLong = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 17, 0, withByte(Frames.udp(1, 53, new byte[4]), 5, 0x40)));
        assertDrop(udp4, udpLengthTooLong, DropReason.MALFORMED);
    }

    private static byte[] withByte(byte[] b, int index, int value) {
        b[index] = (byte) value;
        return b;
    }

    @Test
    void ipv4FragmentsCarryOnlyTheThreeTuple() {
        byte[] first = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 17, 0x2000, Frames.udp(5000, 53, new byte[32])));
        assertEquals(FrameParser.FRAGMENT, parse(udp4, first));
        assertEquals(0, udp4.srcPort());
        assertEquals(0, udp4.dstPort());
        assertEquals(17, udp4.protocol());
        byte[] later = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 17, 5, new byte[40]));
        assertEquals(FrameParser.FRAGMENT, parse(udp4, later));
        byte[] laterOtherProtocol = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 5, new byte[40]));
        assertDrop(udp4, laterOtherProtocol, DropReason.NOT_VIP);
        byte[] fragmentedIcmp = Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 1, 0x2000, new byte[40]));
        assertDrop(udp4, fragmentedIcmp, DropReason.UNSUPPORTED);
    }

    @Test
    void ipv4DontFragmentIsNotAFragment() {
        assertEquals(FrameParser.FLOW, parse(tcp4, tcpFrame(CLIENT, 1, VIP, 80))); // built with DF set
    }

    private static byte[] icmpFragNeeded(int clientPort) {
        byte[] quoted = Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(80, clientPort, new byte[0]));
        byte[] quote = java.util.Arrays.copyOf(quoted, 28); // header + 64 bits, as routers quote
        return Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 1400, quote)));
    }

    @Test
    void icmpFragmentationNeededIsPlacedByTheQuotedFlowReversed() {
        assertEquals(FrameParser.ICMP_ERROR, parse(tcp4, icmpFragNeeded(40000)));
        assertEquals(FlowHash.v4Lo(DsrLab.ip(CLIENT)), tcp4.srcLo());
        assertEquals(40000, tcp4.srcPort());
        assertEquals(FlowHash.v4Lo(DsrLab.ip(VIP)), tcp4.dstLo());
        assertEquals(80, tcp4.dstPort());
        assertEquals(6, tcp4.protocol());
    }

    @Test
    void otherIcmpIsUnsupportedAndIcmpAboutOtherFlowsIsNotTheVip() {
        byte[] quoted = java.util.Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0, Frames.tcp(80, 1, new byte[0])), 28);
        assertDrop(tcp4, Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(8, 0, 0, new byte[8]))),
                DropReason.UNSUPPORTED);
        assertDrop(tcp4, Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 1, 0, quoted))),
                DropReason.UNSUPPORTED);
        byte[] otherPort = java.util.Arrays.copyOf(Frames.ipv4(VIP, CLIENT, 6, 0, Frames.tcp(81, 1, new byte[0])), 28);
        assertDrop(tcp4, Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 0, otherPort))),
                DropReason.NOT_VIP);
        byte[] shortQuote = java.util.Arrays.copyOf(quoted, 22);
        assertDrop(tcp4, Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.icmp(3, 4, 0, shortQuote))),
                DropReason.MALFORMED);
    }

    @Test
    void ipv6TcpAndExtensionHeaders() {
        byte[] plain = Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 6, Frames.tcp(40000, 80, new byte[5])));
        assertEquals(FrameParser.FLOW, parse(tcp6, plain));
        assertEquals(6, tcp6.ipVersion());
        assertEquals(40000, tcp6.srcPort());
        assertEquals(0x2001_0db8_0000_0000L, tcp6.srcHi());
        assertEquals(1L, tcp6.srcLo());
        byte[] hopByHop = Frames.concat(new byte[] {6, 0, 1, 4, 0, 0, 0, 0}, Frames.tcp(40001, 80, new byte[0]));
        assertEquals(FrameParser.FLOW, parse(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 0, hopByHop))));
        assertEquals(40001, tcp6.srcPort());
        byte[] atomicFragment = Frames.ipv6Fragment(6, 0, false, Frames.tcp(40002, 80, new byte[0]));
        assertEquals(FrameParser.FLOW, parse(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, atomicFragment))));
        assertEquals(40002, tcp6.srcPort());
        byte[] esp = Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 50, new byte[16]));
        assertDrop(tcp6, esp, DropReason.UNSUPPORTED);
        byte[] jumbo = Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 6, new byte[0]));
        assertDrop(tcp6, jumbo, DropReason.UNSUPPORTED);
        byte[] extensionBeyondPacket = Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 0, new byte[] {6, 9, 0, 0, 0, 0, 0, 0}));
        assertDrop(tcp6, extensionBeyondPacket, DropReason.MALFORMED);
    }

    @Test
    void ipv6FragmentsCarryOnlyTheThreeTuple() {
        byte[] first = Frames.ipv6Fragment(6, 0, true, Frames.tcp(40000, 80, new byte[16]));
        assertEquals(FrameParser.FRAGMENT, parse(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, first))));
        assertEquals(0, tcp6.srcPort());
        byte[] later = Frames.ipv6Fragment(6, 185, false, new byte[24]);
        assertEquals(FrameParser.FRAGMENT, parse(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, later))));
        byte[] laterUdp = Frames.ipv6Fragment(17, 185, false, new byte[24]);
        assertDrop(tcp6, Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, laterUdp)), DropReason.NOT_VIP);
    }

    @Test
    void icmpv6PacketTooBigIsPlacedByTheQuotedFlowReversed() {
        byte[] quoted = Frames.ipv6(VIP6, CLIENT6, 6, Frames.tcp(80, 40000, new byte[0]));
        byte[] frame = Frames.ethernet(0x86dd, Frames.ipv6("2001:db8::fe", VIP6, 58, Frames.icmp(2, 0, 1280, quoted)));
        assertEquals(FrameParser.ICMP_ERROR, parse(tcp6, frame));
        assertEquals(1L, tcp6.srcLo());
        assertEquals(40000, tcp6.srcPort());
        assertEquals(80, tcp6.dstPort());
        byte[] unreachable = Frames.ethernet(0x86dd, Frames.ipv6("2001:db8::fe", VIP6, 58, Frames.icmp(1, 0, 0, quoted)));
        assertDrop(tcp6, unreachable, DropReason.UNSUPPORTED);
    }

    /** Property: random bytes and random corruptions of valid frames never throw and never read outside the frame. */
    @Test
    void randomAndCorruptedFramesNeverThrow() {
        SplittableRandom random = new SplittableRandom(20260411);
        byte[][] seeds = {
            tcpFrame(CLIENT, 40000, VIP, 80), icmpFragNeeded(1234),
            Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, Frames.ipv6Fragment(6, 0, true, new byte[30]))),
        };
        FrameParser[] parsers = {tcp4, udp4, tcp6};
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < 20_000; i++) {
                byte[] frame = random.nextInt(4) == 0 ? new byte[random.nextInt(200)] : seeds[random.nextInt(seeds.length)].clone();
                for (int flips = random.nextInt(6); flips > 0 && frame.length > 0; flips--) {
                    frame[random.nextInt(frame.length)] = (byte) random.nextInt(256);
                }
                if (random.nextInt(4) == 0 && frame.length > 0) {
                    frame = java.util.Arrays.copyOf(frame, random.nextInt(frame.length));
                }
                // exactly-sized native memory: any read past the frame would throw IndexOutOfBoundsException
                MemorySegment m = arena.allocate(Math.max(frame.length, 1));
                MemorySegment.copy(MemorySegment.ofArray(frame), 0, m, 0, frame.length);
                for (FrameParser p : parsers) {
                    int kind = p.parse(m, 0, frame.length, frame.length);
                    assertTrue(kind >= FrameParser.FLOW && kind <= FrameParser.DROP);
                }
            }
        }
    }

    private static void assertDrop(FrameParser p, byte[] frame, DropReason expected) {
        assertDrop(p, frame, frame.length, frame.length, expected);
    }

    private static void assertDrop(FrameParser p, byte[] frame, int captured, int wire, DropReason expected) {
        assertEquals(FrameParser.DROP, parse(p, frame, captured, wire), "expected a drop: " + expected);
        assertEquals(expected, p.dropReason());
    }
}
