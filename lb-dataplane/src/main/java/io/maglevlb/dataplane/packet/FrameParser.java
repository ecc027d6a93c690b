package io.maglevlb.dataplane.packet;

import io.maglevlb.core.flow.FlowHash;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Parses one received Ethernet frame of a VIP's traffic into the fields a forwarding decision needs, checking
 * every length against the captured bytes first: a malformed or truncated frame yields a {@link DropReason},
 * never an exception or a read outside the frame.
 *
 * <p>{@link #parse} classifies the frame as
 * <ul>
 *   <li>{@link #FLOW}: a TCP/UDP packet to the VIP; the key fields hold its 5-tuple;
 *   <li>{@link #FRAGMENT}: an IPv4/IPv6 fragment (first or later) of the VIP's protocol; only the 3-tuple
 *       (addresses, protocol) is known for all fragments alike, ports are 0;
 *   <li>{@link #ICMP_ERROR}: ICMP "fragmentation needed" / ICMPv6 "packet too big" sent to the VIP about a packet
 *       the VIP's backend sent (VIP:port to client); the key fields hold the flow as the client sends it, read
 *       from the quoted inner header, so the error goes where the flow goes;
 * </ul>
 * or returns {@link #DROP} with {@link #dropReason()} set.
 *
 * <p>Addresses come out as two longs (IPv4 as the IPv4-mapped IPv6 address), as {@link FlowHash} and the flow
 * table want them. <b>Threading:</b> one instance per forwarding thread; fields are overwritten by each call.
 */
public final class FrameParser {
    public static final int FLOW = 0;
    public static final int FRAGMENT = 1;
    public static final int ICMP_ERROR = 2;
    public static final int DROP = 3;

    static final int ETHERNET_HEADER = 14;
    private static final int PROTO_ICMP = 1;
    private static final int PROTO_TCP = 6;
    private static final int PROTO_UDP = 17;
    private static final int PROTO_ICMPV6 = 58;
    private static final int MAX_EXTENSION_HEADERS = 8;

    private final boolean vipIsIpv6;
    private final int vipV4;
    private final long vipHi;
    private final long vipLo;
    private final int vipProtocol;
    private final int vipPort;

    // ---- results of the last parse
    private DropReason dropReason;
    /** 4 or 6. */
    int ipVersion;
    /** Offset of the IP header in the memory passed to parse. */
    long ipOffset;
    /** Bytes of the IP packet (header + payload, without Ethernet padding). */
    int ipLength;
    /** IPv4 TOS / IPv6 traffic class of the packet (outer header for ICMP errors). */
    int trafficClass;
    /** Transport protocol of the flow (for ICMP errors: of the flow the error is about). */
    int protocol;
    long srcHi;
    long srcLo;
    int srcPort;
    long dstHi;
    long dstLo;
    int dstPort;
    /** FLOW only: offset and length of the TCP/UDP segment, for checksum completion. */
    long l4Offset;
    int l4Length;

    public FrameParser(InetAddress vipAddress, int vipProtocol, int vipPort) {
        this.vipProtocol = vipProtocol;
        this.vipPort = vipPort;
        byte[] a = vipAddress.getAddress();
        if (vipAddress instanceof Inet4Address) {
            vipIsIpv6 = false;
            vipV4 = ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
            vipHi = FlowHash.v4Hi();
            vipLo = FlowHash.v4Lo(vipV4);
        } else if (vipAddress instanceof Inet6Address) {
            vipIsIpv6 = true;
            vipV4 = 0;
            vipHi = longAt(a, 0);
            vipLo = longAt(a, 8);
        } else {
            throw new IllegalArgumentException("not an IP address: " + vipAddress);
        }
    }

    private static long longAt(byte[] a, int from) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (a[from + i] & 0xff);
        }
        return v;
    }

    /** Why the last {@link #parse} returned {@link #DROP}. */
    public DropReason dropReason() {
        return dropReason;
    }

    /**
     * Parses the frame at {@code m[frame, frame + capturedLength)}.
     *
     * @param wireLength the frame's length on the wire; larger than captured means the capture was cut
     * @return {@link #FLOW}, {@link #FRAGMENT}, {@link #ICMP_ERROR} or {@link #DROP}
     */
    public int parse(MemorySegment m, long frame, int capturedLength, int wireLength) {
        if (capturedLength < wireLength || capturedLength < ETHERNET_HEADER) {
            return drop(DropReason.TRUNCATED);
        }
        int etherType = Bytes.u16(m, frame + 12);
        long ip = frame + ETHERNET_HEADER;
        int available = capturedLength - ETHERNET_HEADER;
        ipOffset = ip;
        if (etherType == 0x0800) {
            return ipv4(m, ip, available);
        }
        if (etherType == 0x86dd) {
            return ipv6(m, ip, available);
        }
        return drop(DropReason.NOT_IP);
    }

    private int drop(DropReason reason) {
        dropReason = reason;
        return DROP;
    }

    private int ipv4(MemorySegment m, long ip, int available) {
        if (available < 20) {
            return drop(DropReason.TRUNCATED);
        }
        int b0 = Bytes.u8(m, ip);
        int ihl = (b0 & 0xf) << 2;
        if ((b0 >>> 4) != 4 || ihl < 20) {
            return drop(DropReason.MALFORMED);
        }
        if (ihl > available) {
            return drop(DropReason.TRUNCATED);
        }
        int total = Bytes.u16(m, ip + 2);
        if (total < ihl) {
            return drop(DropReason.MALFORMED);
        }
        if (total > available) {
            return drop(DropReason.TRUNCATED);
        }
        if (!Checksums.ipv4HeaderValid(m, ip, ihl)) {
            return drop(DropReason.MALFORMED);
        }
        int dst = Bytes.u32(m, ip + 16);
        if (vipIsIpv6 || dst != vipV4) {
            return drop(DropReason.NOT_VIP);
        }
        ipVersion = 4;
        ipLength = total;
        trafficClass = Bytes.u8(m, ip + 1);
        srcHi = FlowHash.v4Hi();
        srcLo = FlowHash.v4Lo(Bytes.u32(m, ip + 12));
        dstHi = vipHi;
        dstLo = vipLo;
        int proto = Bytes.u8(m, ip + 9);
        int fragment = Bytes.u16(m, ip + 6) & 0x3fff; // MF flag + fragment offset
        if (fragment != 0) {
            if (proto != vipProtocol) {
                return drop(proto == PROTO_ICMP ? DropReason.UNSUPPORTED : DropReason.NOT_VIP);
            }
            protocol = proto;
            srcPort = 0;
            dstPort = 0;
            return FRAGMENT;
        }
        if (proto == vipProtocol) {
            return transport(m, ip + ihl, total - ihl);
        }
        if (proto == PROTO_ICMP) {
            return icmpv4(m, ip + ihl, total - ihl);
        }
        return drop(DropReason.NOT_VIP);
    }

    private int transport(MemorySegment m, long l4, int length) {
        if (vipProtocol == PROTO_TCP) {
            if (length < 20) {
                return drop(DropReason.MALFORMED);
            }
            int dataOffset = (Bytes.u8(m, l4 + 12) >>> 4) << 2;
            if (dataOffset < 20 || dataOffset > length) {
                return drop(DropReason.MALFORMED);
            }
        } else {
            if (length < 8) {
                return drop(DropReason.MALFORMED);
            }
            int udpLength = Bytes.u16(m, l4 + 4);
            if (udpLength < 8 || udpLength > length) {
                return drop(DropReason.MALFORMED);
            }
        }
        int dport = Bytes.u16(m, l4 + 2);
        if (dport != vipPort) {
            return drop(DropReason.NOT_VIP);
        }
        protocol = vipProtocol;
        srcPort = Bytes.u16(m, l4);
        dstPort = dport;
        l4Offset = l4;
        l4Length = length;
        return FLOW;
    }

    /** ICMP type 3 code 4 quoting a packet VIP:port -> client:port of the VIP's protocol. */
    private int icmpv4(MemorySegment m, long icmp, int length) {
        if (length < 8) {
            return drop(DropReason.MALFORMED);
        }
        if (Bytes.u8(m, icmp) != 3 || Bytes.u8(m, icmp + 1) != 4) {
            return drop(DropReason.UNSUPPORTED);
        }
        long inner = icmp + 8;
        int innerAvailable = length - 8;
        if (innerAvailable < 20) {
            return drop(DropReason.MALFORMED);
        }
        int b0 = Bytes.u8(m, inner);
        int ihl = (b0 & 0xf) << 2;
        if ((b0 >>> 4) != 4 || ihl < 20 || innerAvailable < ihl + 4) {
            return drop(DropReason.MALFORMED); // RFC 792: the quote holds the header and 64 bits of data
        }
        if (Bytes.u8(m, inner + 9) != vipProtocol || Bytes.u32(m, inner + 12) != vipV4) {
            return drop(DropReason.NOT_VIP);
        }
        if ((Bytes.u16(m, inner + 6) & 0x1fff) != 0) {
            return drop(DropReason.UNSUPPORTED); // a later fragment: no ports to find the flow by
        }
        if (Bytes.u16(m, inner + ihl) != vipPort) {
            return drop(DropReason.NOT_VIP);
        }
        protocol = vipProtocol;
        srcHi = FlowHash.v4Hi();
        srcLo = FlowHash.v4Lo(Bytes.u32(m, inner + 16));
        srcPort = Bytes.u16(m, inner + ihl + 2);
        dstHi = vipHi;
        dstLo = vipLo;
        dstPort = vipPort;
        return ICMP_ERROR;
    }

    private int ipv6(MemorySegment m, long ip, int available) {
        if (available < 40) {
            return drop(DropReason.TRUNCATED);
        }
        int first = Bytes.u32(m, ip);
        if ((first >>> 28) != 6) {
            return drop(DropReason.MALFORMED);
        }
        int payload = Bytes.u16(m, ip + 4);
        if (payload == 0) {
            return drop(DropReason.UNSUPPORTED); // jumbogram (hop-by-hop jumbo payload option) or empty
        }
        int total = 40 + payload;
        if (total > available) {
            return drop(DropReason.TRUNCATED);
        }
        if (!vipIsIpv6 || Bytes.u64(m, ip + 24) != vipHi || Bytes.u64(m, ip + 32) != vipLo) {
            return drop(DropReason.NOT_VIP);
        }
        ipVersion = 6;
        ipLength = total;
        trafficClass = (first >>> 20) & 0xff;
        srcHi = Bytes.u64(m, ip + 8);
        srcLo = Bytes.u64(m, ip + 16);
        dstHi = vipHi;
        dstLo = vipLo;
        int nextHeader = Bytes.u8(m, ip + 6);
        int offset = 40;
        for (int i = 0; ; i++) {
            if (i == MAX_EXTENSION_HEADERS) {
                return drop(DropReason.UNSUPPORTED);
            }
            if (nextHeader == 0 || nextHeader == 43 || nextHeader == 60 || nextHeader == 51) {
                if (offset + 8 > total) {
                    return drop(DropReason.MALFORMED);
                }
                int lengthField = Bytes.u8(m, ip + offset + 1);
                int headerLength = nextHeader == 51 ? (lengthField + 2) << 2 : (lengthField + 1) << 3;
                nextHeader = Bytes.u8(m, ip + offset);
                offset += headerLength;
                if (offset > total) {
                    return drop(DropReason.MALFORMED);
                }
            } else if (nextHeader == 44) {
                if (offset + 8 > total) {
                    return drop(DropReason.MALFORMED);
                }
                int next = Bytes.u8(m, ip + offset);
                int offsetAndFlags = Bytes.u16(m, ip + offset + 2);
                offset += 8;
                if ((offsetAndFlags & 0xfff9) != 0) { // fragment offset != 0 or M flag set
                    if (next != vipProtocol) {
                        return drop(next == PROTO_TCP || next == PROTO_UDP ? DropReason.NOT_VIP : DropReason.UNSUPPORTED);
                    }
                    protocol = next;
                    srcPort = 0;
                    dstPort = 0;
                    return FRAGMENT;
                }
                nextHeader = next; // atomic fragment (RFC 6946): a whole packet
            } else {
                break;
            }
        }
        if (nextHeader == vipProtocol) {
            return transport(m, ip + offset, total - offset);
        }
        if (nextHeader == PROTO_ICMPV6) {
            return icmpv6(m, ip + offset, total - offset);
        }
        return drop(nextHeader == PROTO_TCP || nextHeader == PROTO_UDP ? DropReason.NOT_VIP : DropReason.UNSUPPORTED);
    }

    /** ICMPv6 type 2 (packet too big) quoting a packet VIP:port -> client:port (no inner extension headers). */
    private int icmpv6(MemorySegment m, long icmp, int length) {
        if (length < 8) {
            return drop(DropReason.MALFORMED);
        }
        if (Bytes.u8(m, icmp) != 2) {
            return drop(DropReason.UNSUPPORTED);
        }
        long inner = icmp + 8;
        if (length - 8 < 44) {
            return drop(DropReason.MALFORMED);
        }
        if ((Bytes.u8(m, inner) >>> 4) != 6) {
            return drop(DropReason.MALFORMED);
        }
        int innerNext = Bytes.u8(m, inner + 6);
        if (innerNext != vipProtocol) {
            return drop(innerNext == PROTO_TCP || innerNext == PROTO_UDP ? DropReason.NOT_VIP : DropReason.UNSUPPORTED);
        }
        if (Bytes.u64(m, inner + 8) != vipHi || Bytes.u64(m, inner + 16) != vipLo
                || Bytes.u16(m, inner + 40) != vipPort) {
            return drop(DropReason.NOT_VIP);
        }
        protocol = vipProtocol;
        srcHi = Bytes.u64(m, inner + 24);
        srcLo = Bytes.u64(m, inner + 32);
        srcPort = Bytes.u16(m, inner + 42);
        dstHi = vipHi;
        dstLo = vipLo;
        dstPort = vipPort;
        return ICMP_ERROR;
    }

    // ---- accessors for tests and diagnostics

    public int ipVersion() {
        return ipVersion;
    }

    public int ipLength() {
        return ipLength;
    }

    public int protocol() {
        return protocol;
    }

    public long srcHi() {
        return srcHi;
    }

    public long srcLo() {
        return srcLo;
    }

    public int srcPort() {
        return srcPort;
    }

    public long dstHi() {
        return dstHi;
    }

    public long dstLo() {
        return dstLo;
    }

    public int dstPort() {
        return dstPort;
    }
}
