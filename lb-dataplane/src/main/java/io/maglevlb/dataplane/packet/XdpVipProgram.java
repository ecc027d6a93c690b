package io.maglevlb.dataplane.packet;

import static io.maglevlb.dataplane.packet.Ebpf.Cond.EQ;
import static io.maglevlb.dataplane.packet.Ebpf.Cond.GT;
import static io.maglevlb.dataplane.packet.Ebpf.Cond.LT;
import static io.maglevlb.dataplane.packet.Ebpf.Cond.NE;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R0;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R1;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R10;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R2;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R3;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R4;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R5;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R6;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R7;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R8;
import static io.maglevlb.dataplane.packet.Ebpf.Reg.R9;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * The XDP program of the AF_XDP engine: it sends a VIP's packets to the AF_XDP socket of the queue that received
 * them ({@code bpf_redirect_map} on the XSKMAP, indexed by {@code rx_queue_index}) and passes everything else to
 * the kernel ({@code XDP_PASS}), so the host keeps its own traffic (SSH, BGP, ARP, health checks).
 *
 * <p>It matches what {@link VipFilter} matches for AF_PACKET, looking each packet up in the VIP map by a 20-byte
 * {@linkplain #key key} (address, port, protocol, family):
 * <ul>
 *   <li>IPv4/IPv6 TCP or UDP: (destination address, destination port, protocol).
 *   <li>IPv4 non-first fragments and every IPv6 fragment (the fragment header right after the fixed header):
 *       (destination address, port 0, protocol): the VIP's <em>address entry</em>.
 *   <li>ICMP "fragmentation needed" (type 3 code 4) and ICMPv6 "packet too big" (type 2) to the VIP address:
 *       (destination address, the quoted packet's source port, its protocol): errors about a VIP flow.
 * </ul>
 * Anything shorter than the headers it reads, with other IP versions, IPv4 options-length below 5 or IPv6
 * extension headers other than one fragment header, passes. A VIP packet on a queue without a socket passes
 * too (the action on a missing XSKMAP entry): the kernel then handles it as if no program were attached.
 *
 * <p>The VIP map is a hash map the control side rewrites on reload ({@link XdpRedirect#updateVips}); the program
 * is loaded once. Registers: r6 the context, r7 the packet start, r8 its end; the key is built on the stack at
 * r10-24..r10-5.
 */
final class XdpVipProgram {
    /** XDP actions (enum xdp_action). */
    static final int XDP_ABORTED = 0;
    static final int XDP_DROP = 1;
    static final int XDP_PASS = 2;
    static final int XDP_TX = 3;
    static final int XDP_REDIRECT = 4;

    /** Bytes of a VIP map key: address[16], port (network order)[2], protocol, family (4 or 6). */
    static final int KEY_SIZE = 20;
    /** Bytes of a VIP map value (reserved; 1 for every entry). */
    static final int VALUE_SIZE = 4;

    private static final int KEY = -24; // stack offset of the key
    private static final int KEY_PORT = KEY + 16;
    private static final int KEY_PROTOCOL = KEY + 18;
    private static final int KEY_FAMILY = KEY + 19;
    // network-order 16-bit constants as a little-endian 16-bit load sees them
    private static final int ETH_IPV4 = 0x0008;
    private static final int ETH_IPV6 = 0xdd86;
    private static final int FRAGMENT_OFFSET_MASK = 0xff1f; // 0x1fff in network order

    private XdpVipProgram() {}

    /** The program's instructions, referring to the two maps by their file descriptors. */
    static byte[] build(int vipMapFd, int socketMapFd) {
        Ebpf a = Ebpf.assembler();
        a.mov(R6, R1)
                .ldxw(R7, R6, 0)                         // r7 = ctx->data
                .ldxw(R8, R6, 4)                         // r8 = ctx->data_end
                .stdw(R10, KEY, 0)                       // key = 0
                .stdw(R10, KEY + 8, 0)
                .stdw(R10, KEY + 16, 0)
                .mov(R2, R7).add(R2, 14)
                .jumpIf(GT, R2, R8, "pass")              // no Ethernet header
                .ldxh(R3, R7, 12)                        // ethertype
                .jumpIf(EQ, R3, ETH_IPV4, "ipv4")
                .jumpIf(EQ, R3, ETH_IPV6, "ipv6")
                .jump("pass");

        a.label("ipv4")
                .mov(R2, R7).add(R2, 14 + 20)
                .jumpIf(GT, R2, R8, "pass")              // no IPv4 header
                .ldxb(R3, R7, 14)                        // version and header length
                .mov(R4, R3).and(R4, 0xf0)
                .jumpIf(NE, R4, 0x40, "pass")
                .and(R3, 0x0f)
                .jumpIf(LT, R3, 5, "pass")
                .lsh(R3, 2)                              // r3 = header length in bytes, 20..60
                .ldxw(R4, R7, 14 + 16).stxw(R10, KEY, R4) // key.address = destination
                .mov(R4, 4).stxb(R10, KEY_FAMILY, R4)
                .ldxb(R4, R7, 14 + 9)                    // r4 = protocol
                .ldxh(R5, R7, 14 + 6).and(R5, FRAGMENT_OFFSET_MASK)
                .jumpIf(NE, R5, 0, "v4_fragment")
                .jumpIf(EQ, R4, 1, "v4_icmp")
                .mov(R2, R7).add(R2, R3).add(R2, 14 + 4) // transport header + 4: the ports
                .jumpIf(GT, R2, R8, "pass")
                .ldxh(R5, R2, -2)                        // destination port
                .stxh(R10, KEY_PORT, R5)
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("v4_fragment")                           // no ports: the address entry
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("v4_icmp")                               // an error quoting VIP:port -> client
                .mov(R9, R7).add(R9, R3).add(R9, 14)     // r9 = ICMP header
                .mov(R2, R9).add(R2, 8 + 20)
                .jumpIf(GT, R2, R8, "pass")              // ICMP header + a minimal quoted IPv4 header
                .ldxb(R4, R9, 0)
                .jumpIf(NE, R4, 3, "pass")               // destination unreachable
                .ldxb(R4, R9, 1)
                .jumpIf(NE, R4, 4, "pass")               // fragmentation needed
                .ldxb(R3, R9, 8).and(R3, 0x0f)
                .jumpIf(LT, R3, 5, "pass")
                .lsh(R3, 2)                              // quoted header length
                .ldxb(R4, R9, 8 + 9)                     // quoted protocol
                .mov(R2, R9).add(R2, R3).add(R2, 8 + 2)  // quoted transport header + 2: its source port
                .jumpIf(GT, R2, R8, "pass")
                .ldxh(R5, R2, -2)
                .stxh(R10, KEY_PORT, R5)
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("ipv6")
                .mov(R2, R7).add(R2, 14 + 40)
                .jumpIf(GT, R2, R8, "pass")              // no IPv6 header
                .ldxb(R3, R7, 14).and(R3, 0xf0)
                .jumpIf(NE, R3, 0x60, "pass");
        for (int w = 0; w < 4; w++) {                    // key.address = destination
            a.ldxw(R4, R7, 14 + 24 + 4 * w).stxw(R10, KEY + 4 * w, R4);
        }
        a.mov(R4, 6).stxb(R10, KEY_FAMILY, R4)
                .ldxb(R4, R7, 14 + 6)                    // next header
                .jumpIf(EQ, R4, 44, "v6_fragment")
                .jumpIf(EQ, R4, 58, "v6_icmp")
                .mov(R2, R7).add(R2, 14 + 40 + 4)
                .jumpIf(GT, R2, R8, "pass")
                .ldxh(R5, R7, 14 + 40 + 2)               // destination port
                .stxh(R10, KEY_PORT, R5)
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("v6_fragment")                           // every fragment: the address entry
                .mov(R2, R7).add(R2, 14 + 40 + 8)
                .jumpIf(GT, R2, R8, "pass")
                .ldxb(R4, R7, 14 + 40)                   // the fragment header's next header
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("v6_icmp")                               // packet too big, quoting VIP:port -> client
                .mov(R2, R7).add(R2, 14 + 40 + 8 + 40 + 2)
                .jumpIf(GT, R2, R8, "pass")
                .ldxb(R4, R7, 14 + 40)
                .jumpIf(NE, R4, 2, "pass")
                .ldxb(R4, R7, 14 + 40 + 8 + 6)           // quoted next header
                .ldxh(R5, R7, 14 + 40 + 8 + 40)          // quoted source port
                .stxh(R10, KEY_PORT, R5)
                .stxb(R10, KEY_PROTOCOL, R4)
                .jump("lookup");

        a.label("lookup")
                .loadMapFd(R1, vipMapFd)
                .mov(R2, R10).add(R2, KEY)
                .call(Ebpf.Helper.MAP_LOOKUP_ELEM)
                .jumpIf(EQ, R0, 0, "pass")               // not a VIP
                .loadMapFd(R1, socketMapFd)
                .ldxw(R2, R6, 16)                        // ctx->rx_queue_index
                .mov(R3, XDP_PASS)                       // the action when that queue has no socket
                .call(Ebpf.Helper.REDIRECT_MAP)
                .exit();

        a.label("pass")
                .mov(R0, XDP_PASS)
                .exit();
        return a.build();
    }

    /** The VIP map key of ({@code address}, {@code port}, {@code protocol}); port 0 is the address entry. */
    static byte[] key(InetAddress address, int port, int protocol) {
        byte[] key = new byte[KEY_SIZE];
        byte[] a = address.getAddress();
        System.arraycopy(a, 0, key, 0, a.length);
        key[16] = (byte) (port >>> 8);
        key[17] = (byte) port;
        key[18] = (byte) protocol;
        key[19] = (byte) (address instanceof Inet4Address ? 4 : 6);
        return key;
    }
}
