package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ChecksumsTest {
    private static MemorySegment seg(Arena a, byte[] b) {
        MemorySegment m = a.allocate(b.length + 1);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, m, 0, b.length);
        return m;
    }

    @Test
    void rfc1071ExampleSum() {
        // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (ones' complement).
        byte[] b = HexFormat.of().parseHex("0001f203f4f5f6f7");
        try (Arena a = Arena.ofConfined()) {
            assertEquals(0xddf2, Checksums.fold(Checksums.add(0, seg(a, b), 0, b.length)));
            assertEquals(0x220d, Checksums.finish(Checksums.add(0, seg(a, b), 0, b.length)));
        }
    }

    @Test
    void knownIpv4HeaderChecksum() {
        // A widely used worked example: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        byte[] header = HexFormat.of().parseHex("450000730000400040110000c0a80001c0a800c7");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = seg(a, header);
            assertFalse(Checksums.ipv4HeaderValid(m, 0, 20));
            Checksums.setIpv4HeaderChecksum(m, 0, 20);
            assertEquals(0xb861, Bytes.u16(m, 10));
            assertTrue(Checksums.ipv4HeaderValid(m, 0, 20));
        }
    }

    @Test
    void knownUdpChecksum() {
        // UDP 198.18.0.1:5000 -> 198.18.1.100:53, payload "abc". 16-bit words:
        // pseudo header c612 0001 c612 0164 0011 000b, UDP header 1388 0035 000b 0000, data 6162 6300;
        // their ones' complement sum is 0x65d1, so the checksum is ~0x65d1 = 0x9a2e.
        byte[] ip = Frames.ipv4("198.18.0.1", "198.18.1.100", 17, 0, Frames.udp(5000, 53, "abc".getBytes()));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = seg(a, ip);
            Checksums.setTransportChecksum(m, 0, false, 17, 20, 11);
            assertEquals(0x9a2e, Bytes.u16(m, 26));
            assertTrue(Checksums.transportChecksumValid(m, 0, false, 17, 20, 11));
        }
    }

    @Test
    void transportChecksumsMatchTheReferenceOnRandomSegments() {
        SplittableRandom random = new SplittableRandom(7);
        try (Arena a = Arena.ofConfined()) {
            for (int i = 0; i < 500; i++) {
                byte[] data = new byte[random.nextInt(1500)];
                random.nextBytes(data);
                int protocol = random.nextBoolean() ? 6 : 17;
                byte[] l4 = protocol == 6 ? Frames.tcp(random.nextInt(65536), 80, data) : Frames.udp(random.nextInt(65536), 53, data);
                byte[] ip = Frames.withTransportChecksumV4(Frames.ipv4("198.18.0.1", "198.18.1.100", protocol, 0, l4));
                int field = 20 + (protocol == 6 ? 16 : 6);
                int reference = Bytes.u16(seg(a, ip), field);
                MemorySegment m = seg(a, ip);
                Bytes.put16(m, field, 0x1234); // what CHECKSUM_PARTIAL leaves there: a pseudo-header sum
                Checksums.setTransportChecksum(m, 0, false, protocol, 20, l4.length);
                int expected = reference == 0 && protocol == 17 ? 0xffff : reference;
                assertEquals(expected, Bytes.u16(m, field), "segment " + i);
                assertTrue(Checksums.transportChecksumValid(m, 0, false, protocol, 20, l4.length));
            }
        }
    }

    @Test
    void ipv6PseudoHeaderCoversBothAddresses() {
        byte[] ip = Frames.ipv6("2001:db8::1", "2001:db8::100", 6, Frames.tcp(40000, 80, "x".getBytes()));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = seg(a, ip);
            Checksums.setTransportChecksum(m, 0, true, 6, 40, 21);
            byte[] pseudo = java.nio.ByteBuffer.allocate(40).put(ip, 8, 32).putInt(21).putInt(6).array();
            byte[] segment = java.util.Arrays.copyOfRange(ip, 40, ip.length);
            segment[16] = 0;
            segment[17] = 0;
            assertEquals(Frames.referenceChecksum(pseudo, segment), Bytes.u16(m, 56));
        }
    }

    @Test
    void aChecksumLeftToOffloadIsToldApartByItsPseudoHeaderSum() {
        // the UDP example above: its pseudo header sums to 0x18da5, folded 0x8da6, which is what a sender using
        // checksum offload (CHECKSUM_PARTIAL) leaves in the field for the NIC
        byte[] ip = Frames.ipv4("198.18.0.1", "198.18.1.100", 17, 0, Frames.udp(5000, 53, "abc".getBytes()));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = seg(a, ip);
            Bytes.put16(m, 26, 0x8da6);
            assertTrue(Checksums.looksLeftToOffload(m, 0, false, 17, 20, 11));
            Checksums.setTransportChecksum(m, 0, false, 17, 20, 11);
            assertEquals(0x9a2e, Bytes.u16(m, 26));
            assertFalse(Checksums.looksLeftToOffload(m, 0, false, 17, 20, 11), "complete");
            Bytes.put16(m, 26, 0);
            assertFalse(Checksums.looksLeftToOffload(m, 0, false, 17, 20, 11), "UDP without checksum");
        }
    }

    @Test
    void completeChecksumsOfRandomSegmentsDoNotLookLeftToOffload() {
        SplittableRandom random = new SplittableRandom(11);
        try (Arena a = Arena.ofConfined()) {
            for (int i = 0; i < 500; i++) {
                byte[] data = new byte[random.nextInt(1500)];
                random.nextBytes(data);
                int protocol = random.nextBoolean() ? 6 : 17;
                byte[] l4 = protocol == 6 ? Frames.tcp(random.nextInt(65536), 80, data)
                        : Frames.udp(random.nextInt(65536), 53, data);
                MemorySegment m = seg(a, Frames.withTransportChecksumV4(
                        Frames.ipv4("198.18.0.1", "198.18.1.100", protocol, 0, l4)));
                assertFalse(Checksums.looksLeftToOffload(m, 0, false, protocol, 20, l4.length), "segment " + i);
                int field = 20 + (protocol == 6 ? 16 : 6);
                long pseudo = Checksums.ipv4PseudoHeader(m, 0, protocol, l4.length);
                Bytes.put16(m, field, Checksums.fold(pseudo)); // as the sender's stack leaves it for offload
                assertTrue(Checksums.looksLeftToOffload(m, 0, false, protocol, 20, l4.length), "segment " + i);
            }
        }
    }
}
