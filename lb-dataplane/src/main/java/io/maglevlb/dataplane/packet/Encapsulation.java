package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrMethod;
import java.lang.foreign.MemorySegment;

/**
 * Outer headers for ipip and gue DSR, written in front of the client's unchanged IP packet:
 *
 * <pre>
 * ipip: Ethernet(14) | IPv4(20, protocol 4 = IPv4-in-IPv4 or 41 = IPv6-in-IPv4) | client IP packet
 * gue:  Ethernet(14) | IPv4(20, protocol 17) | UDP(8) | GUE(4: version 0, C 0, Hlen 0, proto 4/41, flags 0) | client IP packet
 * </pre>
 *
 * The outer IPv4 header has TTL 64, DF set (the path MTU is the operator's to size, see docs/dsr.md; a
 * fragmenting LB would spread one packet over two receivers' reassembly), ID 0 (RFC 6864: atomic datagrams),
 * the client packet's DSCP/ECN copied (RFC 6040 normal mode), and a correct header checksum. The UDP checksum
 * is 0 (allowed for UDP over IPv4 and what Linux's fou/gue receive path accepts by default); the UDP source port
 * comes from the flow hash so receivers and ECMP hops can spread flows.
 */
public final class Encapsulation {
    public static final int ETHERNET = 14;
    public static final int OUTER_IPV4 = 20;
    public static final int UDP = 8;
    public static final int GUE = 4;
    /** Lowest GUE source port; flows spread over 49152..65535. */
    public static final int GUE_SOURCE_PORT_BASE = 49152;

    private Encapsulation() {}

    /** A GUE source port for the flow with {@code hash}, in 49152..65535. */
    public static int gueSourcePort(long hash) {
        return GUE_SOURCE_PORT_BASE | (int) ((hash >>> 40) & 0x3fff);
    }

    /**
     * Writes Ethernet + outer IPv4 (+ UDP + GUE) headers at the start of {@code h}.
     *
     * @param innerVersion 4 or 6: the client packet's IP version (selects protocol 4 or 41)
     * @param innerLength bytes of the client's IP packet that follow the headers
     * @return bytes written
     */
    public static int writeOuterHeaders(MemorySegment h, DsrMethod method, long dstMac, long srcMac, int outerSource,
            int outerDestination, int trafficClass, int innerVersion, int innerLength, int gueSourcePort, int guePort) {
        int innerProtocol = innerVersion == 4 ? 4 : 41;
        boolean gue = method == DsrMethod.GUE;
        int outerLength = OUTER_IPV4 + (gue ? UDP + GUE : 0) + innerLength;
        Bytes.putMac(h, 0, dstMac);
        Bytes.putMac(h, 6, srcMac);
        Bytes.put16(h, 12, 0x0800);
        long ip = ETHERNET;
        Bytes.put32(h, ip, 0x4500_0000 | ((trafficClass & 0xff) << 16) | outerLength);
        Bytes.put32(h, ip + 4, 0x0000_4000);                               // ID 0, DF, offset 0
        Bytes.put32(h, ip + 8, (64 << 24) | ((gue ? 17 : innerProtocol) << 16)); // TTL, protocol, checksum 0
        Bytes.put32(h, ip + 12, outerSource);
        Bytes.put32(h, ip + 16, outerDestination);
        Checksums.setIpv4HeaderChecksum(h, ip, OUTER_IPV4);
        if (!gue) {
            return ETHERNET + OUTER_IPV4;
        }
        long udp = ETHERNET + OUTER_IPV4;
        Bytes.put16(h, udp, gueSourcePort);
        Bytes.put16(h, udp + 2, guePort);
        Bytes.put16(h, udp + 4, UDP + GUE + innerLength);
        Bytes.put16(h, udp + 6, 0);
        Bytes.put32(h, udp + 8, innerProtocol << 16);                      // GUE: ver 0, C 0, Hlen 0, proto, flags 0
        return ETHERNET + OUTER_IPV4 + UDP + GUE;
    }
}
