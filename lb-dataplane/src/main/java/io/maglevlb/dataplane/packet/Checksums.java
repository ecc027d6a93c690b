package io.maglevlb.dataplane.packet;

import java.lang.foreign.MemorySegment;

/**
 * Internet checksums (RFC 1071) over packet memory. Sums run over 64-bit big-endian words split into 32-bit
 * halves added into a long, folded once at the end: equivalent to the 16-bit ones' complement sum and a few
 * times faster. All methods are allocation-free.
 */
public final class Checksums {
    private Checksums() {}

    /** Adds {@code m[off, off + len)} to {@code sum} (unfolded); an odd last byte counts as its word's high byte. */
    public static long add(long sum, MemorySegment m, long off, int len) {
        long p = off;
        long end = off + len;
        while (end - p >= 8) {
            long v = Bytes.u64(m, p);
            sum += (v >>> 32) + (v & 0xffff_ffffL);
            p += 8;
        }
        if (end - p >= 4) {
            sum += Bytes.u32(m, p) & 0xffff_ffffL;
            p += 4;
        }
        if (end - p >= 2) {
            sum += Bytes.u16(m, p);
            p += 2;
        }
        if (p < end) {
            sum += Bytes.u8(m, p) << 8;
        }
        return sum;
    }

    /** Folds an unfolded sum to 16 bits (ones' complement addition of the carries). */
    public static int fold(long sum) {
        sum = (sum & 0xffff_ffffL) + (sum >>> 32);
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        return (int) sum;
    }

    /** The checksum value to store for data whose unfolded sum (checksum field zero) is {@code sum}. */
    public static int finish(long sum) {
        return ~fold(sum) & 0xffff;
    }

    /** Whether the IPv4 header at {@code ip} ({@code ihl} bytes, checksum field included) checks out. */
    public static boolean ipv4HeaderValid(MemorySegment m, long ip, int ihl) {
        return fold(add(0, m, ip, ihl)) == 0xffff;
    }

    /** Computes and stores the IPv4 header checksum of the {@code ihl}-byte header at {@code ip}. */
    public static void setIpv4HeaderChecksum(MemorySegment m, long ip, int ihl) {
        Bytes.put16(m, ip + 10, 0);
        Bytes.put16(m, ip + 10, finish(add(0, m, ip, ihl)));
    }

    /** Unfolded sum of the IPv4 pseudo header (addresses from the IP header at {@code ip}). */
    public static long ipv4PseudoHeader(MemorySegment m, long ip, int protocol, int l4Length) {
        return (Bytes.u32(m, ip + 12) & 0xffff_ffffL) + (Bytes.u32(m, ip + 16) & 0xffff_ffffL) + protocol + l4Length;
    }

    /** Unfolded sum of the IPv6 pseudo header (addresses from the IP header at {@code ip}). */
    public static long ipv6PseudoHeader(MemorySegment m, long ip, int nextHeader, int l4Length) {
        return add(0, m, ip + 8, 32) + l4Length + nextHeader;
    }

    /**
     * Computes and stores the TCP or UDP checksum of the segment at {@code l4} ({@code l4Length} bytes) of the
     * IP packet at {@code ip}: what a NIC does for a frame left with CHECKSUM_PARTIAL. UDP's 0 is sent as 0xffff
     * (0 would mean "no checksum").
     */
    public static void setTransportChecksum(MemorySegment m, long ip, boolean ipv6, int protocol, long l4, int l4Length) {
        long field = l4 + (protocol == 6 ? 16 : 6);
        Bytes.put16(m, field, 0);
        long sum = ipv6 ? ipv6PseudoHeader(m, ip, protocol, l4Length) : ipv4PseudoHeader(m, ip, protocol, l4Length);
        int checksum = finish(add(sum, m, l4, l4Length));
        if (checksum == 0 && protocol == 17) {
            checksum = 0xffff;
        }
        Bytes.put16(m, field, checksum);
    }

    /** Whether the TCP or UDP segment at {@code l4} carries a correct checksum (UDP over IPv4: 0 = none = valid). */
    public static boolean transportChecksumValid(MemorySegment m, long ip, boolean ipv6, int protocol, long l4,
            int l4Length) {
        if (protocol == 17 && !ipv6 && Bytes.u16(m, l4 + 6) == 0) {
            return true;
        }
        long sum = ipv6 ? ipv6PseudoHeader(m, ip, protocol, l4Length) : ipv4PseudoHeader(m, ip, protocol, l4Length);
        return fold(add(sum, m, l4, l4Length)) == 0xffff;
    }

    /**
     * Whether the TCP or UDP checksum field of the segment at {@code l4} holds what a sender that left the checksum
     * to offload (CHECKSUM_PARTIAL, e.g. a local sender on a veth) puts there: the folded pseudo-header sum, not
     * the checksum. Only the pseudo header is summed, not the payload. A complete checksum equals that value for
     * about one segment in 65,536; completing such a segment anyway stores the same, correct checksum.
     */
    public static boolean looksLeftToOffload(MemorySegment m, long ip, boolean ipv6, int protocol, long l4,
            int l4Length) {
        int field = Bytes.u16(m, l4 + (protocol == 6 ? 16 : 6));
        if (protocol == 17 && !ipv6 && field == 0) {
            return false; // no checksum
        }
        long sum = ipv6 ? ipv6PseudoHeader(m, ip, protocol, l4Length) : ipv4PseudoHeader(m, ip, protocol, l4Length);
        return field == fold(sum);
    }
}
