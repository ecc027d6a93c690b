package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;

/**
 * Coverage-guided fuzzing of the packet engine's frame parser: every byte of a frame comes from the wire, so
 * no input may throw, read outside the captured bytes or report a flow with a port outside 0..65535.
 *
 * <p>Each input either is a raw frame or picks one of a few valid frames (TCP and UDP over IPv4 and IPv6,
 * ICMP and ICMPv6 errors quoting a VIP flow, IPv6 fragments) and corrupts, cuts or extends it, so that the
 * fuzzer starts deep inside the parser instead of spending its time discovering Ethernet. The frame is copied
 * into exactly-sized native memory: a read past its end throws IndexOutOfBoundsException and fails the run.
 * The parsers cover all four VIP kinds (TCP/UDP x IPv4/IPv6). Run in the suite for {@code fuzz.duration}
 * (pom.xml); the long run is in docs/reliability.md.
 */
class FrameParserFuzzTest {
    private static final String VIP = "198.18.1.1";
    private static final String VIP6 = "2001:db8::1";
    private static final String CLIENT = "198.18.0.50";
    private static final String CLIENT6 = "2001:db8::50";

    private static final FrameParser[] PARSERS = {
        new FrameParser(InetAddress.ofLiteral(VIP), 6, 80),
        new FrameParser(InetAddress.ofLiteral(VIP), 17, 53),
        new FrameParser(InetAddress.ofLiteral(VIP6), 6, 80),
        new FrameParser(InetAddress.ofLiteral(VIP6), 17, 53),
    };

    private static final byte[][] TEMPLATES = {
        Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 0x4000, Frames.tcp(40000, 80, new byte[10]))),
        Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 17, 0x4000, Frames.udp(40000, 53, new byte[12]))),
        Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 6, Frames.tcp(40000, 80, new byte[10]))),
        Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 17, Frames.udp(40000, 53, new byte[12]))),
        // ICMP fragmentation needed, quoting the VIP's own answer to a client (what DSR must steer back)
        Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0,
                Frames.icmp(3, 4, 1400, Frames.ipv4(VIP, CLIENT, 6, 0x4000, Frames.tcp(80, 40000, new byte[0]))))),
        Frames.ethernet(0x0800, Frames.ipv4("198.18.0.254", VIP, 1, 0,
                Frames.icmp(3, 3, 0, Frames.ipv4(VIP, CLIENT, 17, 0x4000, Frames.udp(53, 40000, new byte[0]))))),
        Frames.ethernet(0x86dd, Frames.ipv6("2001:db8::fe", VIP6, 58,
                Frames.icmp(2, 0, 1280, Frames.ipv6(VIP6, CLIENT6, 6, Frames.tcp(80, 40000, new byte[0]))))),
        Frames.ethernet(0x86dd, Frames.ipv6(CLIENT6, VIP6, 44, Frames.ipv6Fragment(6, 0, true, new byte[30]))),
        Frames.ethernet(0x0800, Frames.ipv4(CLIENT, VIP, 6, 0x2000, Frames.tcp(40000, 80, new byte[10]))),
    };

    @FuzzTest
    void neverThrowsNorReadsPastTheFrame(FuzzedDataProvider data) {
        byte[] frame;
        int choice = data.consumeInt(0, TEMPLATES.length);
        if (choice == TEMPLATES.length) {
            frame = data.consumeRemainingAsBytes();
        } else {
            frame = TEMPLATES[choice].clone();
            int edits = data.consumeInt(0, 8);
            for (int i = 0; i < edits && frame.length > 0; i++) {
                frame[data.consumeInt(0, frame.length - 1)] = data.consumeByte();
            }
            int cut = data.consumeInt(0, 3);
            if (cut == 0 && frame.length > 0) {
                frame = java.util.Arrays.copyOf(frame, data.consumeInt(0, frame.length));
            } else if (cut == 1) {
                frame = Frames.concat(frame, data.consumeBytes(64));
            }
        }
        int wire = data.consumeBoolean() ? frame.length : frame.length + data.consumeInt(0, 1500);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(Math.max(frame.length, 1));
            MemorySegment.copy(MemorySegment.ofArray(frame), 0, m, 0, frame.length);
            for (FrameParser p : PARSERS) {
                int kind = p.parse(m, 0, frame.length, wire);
                assertTrue(kind >= FrameParser.FLOW && kind <= FrameParser.DROP, "kind " + kind);
                if (wire > frame.length) {
                    assertEquals(FrameParser.DROP, kind, "a frame cut by the capture is dropped");
                }
                if (kind == FrameParser.DROP) {
                    assertNotNull(p.dropReason());
                } else {
                    assertTrue(p.srcPort() >= 0 && p.srcPort() <= 0xffff, "src port " + p.srcPort());
                    assertTrue(p.dstPort() >= 0 && p.dstPort() <= 0xffff, "dst port " + p.dstPort());
                    assertTrue(p.ipLength() <= frame.length - FrameParser.ETHERNET_HEADER,
                            "IP length " + p.ipLength() + " beyond the captured frame");
                }
            }
        }
    }
}
