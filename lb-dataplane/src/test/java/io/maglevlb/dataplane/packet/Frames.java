package io.maglevlb.dataplane.packet;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.ByteBuffer;

/**
 * Builds Ethernet frames byte by byte for tests (headers written field by field from the RFCs, checksums
 * computed by {@link #referenceChecksum}, an independent 16-bit-word implementation).
 */
final class Frames {
    static final byte[] LB_MAC = mac(0x02_00_00_00_00_02L);
    static final byte[] CLIENT_MAC = mac(0x02_00_00_00_00_01L);

    private Frames() {}

    static byte[] mac(long v) {
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) (v >>> (40 - 8 * i));
        }
        return m;
    }

    static byte[] addr(String literal) {
        return InetAddress.ofLiteral(literal).getAddress();
    }

    /** RFC 1071 checksum the slow, obvious way: 16-bit words, end-around carry, complement. */
    static int referenceChecksum(byte[]... parts) {
        ByteBuffer all = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length + 1).sum());
        for (byte[] p : parts) {
            all.put(p);
            if (p.length % 2 == 1) {
                all.put((byte) 0);
            }
        }
        byte[] b = java.util.Arrays.copyOf(all.array(), all.position());
        int sum = 0;
        for (int i = 0; i + 1 < b.length; i += 2) {
            sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return ~sum & 0xffff;
    }

    static byte[] ethernet(int etherType, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(14 + payload.length);
        b.put(LB_MAC).put(CLIENT_MAC).putShort((short) etherType).put(payload);
        return b.array();
    }

    /** An IPv4 header (20 bytes, no options) with a correct checksum, followed by {@code payload}. */
    static byte[] ipv4(String src, String dst, int protocol, int flagsAndOffset, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(20 + payload.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + payload.length)).putShort((short) 0x1234)
                .putShort((short) flagsAndOffset).put((byte) 64).put((byte) protocol).putShort((short) 0)
                .put(addr(src)).put(addr(dst)).put(payload);
        byte[] out = b.array();
        int c = referenceChecksum(java.util.Arrays.copyOf(out, 20));
        out[10] = (byte) (c >>> 8);
        out[11] = (byte) c;
        return out;
    }

    static byte[] ipv6(String src, String dst, int nextHeader, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(40 + payload.length);
        b.putInt(0x6000_0000).putShort((short) payload.length).put((byte) nextHeader).put((byte) 64)
                .put(addr(src)).put(addr(dst)).put(payload);
        return b.array();
    }

    static byte[] tcp(int srcPort, int dstPort, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(20 + data.length);
        b.putShort((short) srcPort).putShort((short) dstPort).putInt(1).putInt(0).put((byte) 0x50).put((byte) 0x02)
                .putShort((short) 65535).putShort((short) 0).putShort((short) 0).put(data);
        return b.array();
    }

    static byte[] udp(int srcPort, int dstPort, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + data.length);
        b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + data.length)).putShort((short) 0)
                .put(data);
        return b.array();
    }

    /** Fills in the TCP/UDP checksum of an IPv4 packet's transport segment (no IP options). */
    static byte[] withTransportChecksumV4(byte[] ipPacket) {
        int protocol = ipPacket[9] & 0xff;
        byte[] segment = java.util.Arrays.copyOfRange(ipPacket, 20, ipPacket.length);
        int field = protocol == 6 ? 16 : 6;
        segment[field] = 0;
        segment[field + 1] = 0;
        byte[] pseudo = ByteBuffer.allocate(12).put(ipPacket, 12, 8).put((byte) 0).put((byte) protocol)
                .putShort((short) segment.length).array();
        int c = referenceChecksum(pseudo, segment);
        ipPacket[20 + field] = (byte) (c >>> 8);
        ipPacket[20 + field + 1] = (byte) c;
        return ipPacket;
    }

    /** ICMP type/code with 4 bytes of "rest of header" and the quoted packet. */
    static byte[] icmp(int type, int code, int rest, byte[] quoted) {
        ByteBuffer b = ByteBuffer.allocate(8 + quoted.length);
        b.put((byte) type).put((byte) code).putShort((short) 0).putInt(rest).put(quoted);
        byte[] out = b.array();
        int c = referenceChecksum(out);
        out[2] = (byte) (c >>> 8);
        out[3] = (byte) c;
        return out;
    }

    /** An IPv6 fragment header followed by {@code payload}. */
    static byte[] ipv6Fragment(int nextHeader, int offsetUnits, boolean more, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
        b.put((byte) nextHeader).put((byte) 0).putShort((short) ((offsetUnits << 3) | (more ? 1 : 0))).putInt(0xabcd)
                .put(payload);
        return b.array();
    }

    /** Copies {@code frame} into native memory at offset 64 (as a ring would hold it). */
    static MemorySegment native64(Arena arena, byte[] frame) {
        MemorySegment m = arena.allocate(frame.length + 128);
        MemorySegment.copy(MemorySegment.ofArray(frame), 0, m, 64, frame.length);
        return m;
    }

    static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }
}
