package io.maglevlb.dataplane.packet;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * The socket filter that lets only a VIP's traffic reach user space, so the packet engine never sees (or pays
 * for) the rest of the interface's traffic. It accepts Ethernet frames carrying:
 *
 * <ul>
 *   <li>IPv4 to the VIP address with the VIP's protocol and destination port; non-first fragments of that
 *       protocol (they have no ports, the engine places them by 3-tuple); ICMP destination-unreachable to the
 *       VIP (the engine forwards "fragmentation needed" about a VIP flow to the flow's backend).
 *   <li>IPv6 to the VIP address whose next header is the VIP's protocol with the VIP's destination port, a
 *       fragment header (the engine parses it), or ICMPv6 packet-too-big.
 * </ul>
 *
 * Everything else, including IPv6 with other extension headers before the transport header, stays with the
 * kernel. The engine re-checks every field it relies on: the filter only saves work.
 */
public final class VipFilter {
    /** Bytes of an accepted packet to deliver: more than any frame (GRO super-frames included). */
    public static final int ACCEPT_ALL = 0x40000;
    /** tc verdicts (linux/pkt_cls.h) of the {@linkplain #ingressDrop ingress} variant. */
    static final int TC_ACT_SHOT = 2;
    static final int TC_ACT_UNSPEC = -1;

    private VipFilter() {}

    /** The filter for VIP {@code address}:{@code port} over IP protocol {@code protocol} (6 = TCP, 17 = UDP). */
    public static BpfProgram forVip(InetAddress address, int protocol, int port) {
        return build(address, protocol, port, ACCEPT_ALL, 0);
    }

    /**
     * The same match as a tc ingress program in direct-action mode: it ends ({@code TC_ACT_SHOT}) exactly the
     * packets {@link #forVip} hands to the engine, which the interface's packet taps have copied by then, and
     * leaves every other packet to the next filter ({@code TC_ACT_UNSPEC}). Without it the host's IP stack
     * also routes each VIP packet it does not own, only to drop it (or, with forwarding on, send a duplicate).
     */
    public static BpfProgram ingressDrop(InetAddress address, int protocol, int port) {
        return build(address, protocol, port, TC_ACT_SHOT, TC_ACT_UNSPEC);
    }

    private static BpfProgram build(InetAddress address, int protocol, int port, int match, int noMatch) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("VIP port must be 1..65535, was " + port);
        }
        if (protocol != 6 && protocol != 17) {
            throw new IllegalArgumentException("VIP protocol must be 6 (tcp) or 17 (udp), was " + protocol);
        }
        return switch (address) {
            case Inet4Address v4 -> ipv4(v4, protocol, port, match, noMatch);
            case Inet6Address v6 -> ipv6(v6, protocol, port, match, noMatch);
            default -> throw new IllegalArgumentException("not an IP address: " + address);
        };
    }

    private static BpfProgram ipv4(Inet4Address vip, int protocol, int port, int match, int noMatch) {
        byte[] a = vip.getAddress();
        int vipWord = ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
        return BpfProgram.assembler()
                .loadHalf(12).jumpIfEqual(0x0800, null, "drop")
                .loadWord(30).jumpIfEqual(vipWord, null, "drop")
                .loadHalf(20).jumpIfAnySet(0x1fff, "fragment", null)      // fragment offset != 0: no ports
                .loadByte(23).jumpIfEqual(protocol, "ports", null)
                .jumpIfEqual(1, "icmp", "drop")
                .label("fragment")
                .loadByte(23).jumpIfEqual(protocol, "accept", "drop")
                .label("ports")
                .loadIpv4HeaderLengthIntoX(14)
                .loadHalfIndexed(16).jumpIfEqual(port, "accept", "drop")  // 14 + ihl + 2: destination port
                .label("icmp")
                .loadIpv4HeaderLengthIntoX(14)
                .loadByteIndexed(14).jumpIfEqual(3, "accept", "drop")     // ICMP type 3: destination unreachable
                .label("accept").ret(match)
                .label("drop").ret(noMatch)
                .build();
    }

    private static BpfProgram ipv6(Inet6Address vip, int protocol, int port, int match, int noMatch) {
        byte[] a = vip.getAddress();
        BpfProgram.Assembler asm = BpfProgram.assembler().loadHalf(12).jumpIfEqual(0x86dd, null, "drop");
        for (int w = 0; w < 4; w++) {
            int word = ((a[4 * w] & 0xff) << 24) | ((a[4 * w + 1] & 0xff) << 16) | ((a[4 * w + 2] & 0xff) << 8)
                    | (a[4 * w + 3] & 0xff);
            asm.loadWord(38 + 4 * w).jumpIfEqual(word, null, "drop");
        }
        return asm.loadByte(20).jumpIfEqual(protocol, "ports", null)
                .jumpIfEqual(44, "accept", null)                          // fragment header: user space parses it
                .jumpIfEqual(58, "icmp6", "drop")
                .label("ports")
                .loadHalf(56).jumpIfEqual(port, "accept", "drop")         // 14 + 40 + 2: destination port
                .label("icmp6")
                .loadByte(54).jumpIfEqual(2, "accept", "drop")            // ICMPv6 type 2: packet too big
                .label("accept").ret(match)
                .label("drop").ret(noMatch)
                .build();
    }
}
