package io.maglevlb.dataplane.packet;

/**
 * The classic BPF program the kernel runs to pick a forwarding thread (PACKET_FANOUT_CBPF: the socket index is
 * the program's result modulo the number of sockets). It hashes the flow's <em>client</em> address and port:
 *
 * <ul>
 *   <li>TCP/UDP: source address and source port;
 *   <li>ICMP "destination unreachable" (IPv4) / ICMPv6 "packet too big" to the VIP: the destination address and
 *       destination port of the quoted packet (VIP:port to client:port), which are the client's;
 *   <li>fragments and anything else: the source address alone (fragments are placed without the flow table,
 *       so their thread does not matter for correctness).
 * </ul>
 *
 * So a flow's packets and the ICMP errors about it reach the same thread, whose flow table knows the flow's
 * backend. The kernel's own flow hash ({@code PACKET_FANOUT_HASH}) cannot do that: it hashes the ICMP packet's
 * outer header (router to VIP), sending the error to an arbitrary thread. Offsets are relative to the IP header:
 * the kernel runs fanout programs before it pushes the Ethernet header back for the socket filter.
 */
public final class FlowSteering {
    private static final int K1 = 0x9e3779b1;
    private static final int K2 = 0x85ebca6b;
    private static final int PORT = 0;      // scratch word: client port
    private static final int TMP = 1;
    private static final int ADDRESS = 2;   // scratch word: folded client address

    private FlowSteering() {}

    /** The steering program for IPv4 (protocol ETH_P_IP) or IPv6 traffic. */
    public static BpfProgram program(boolean ipv6) {
        return ipv6 ? ipv6() : ipv4();
    }

    private static BpfProgram.Assembler mix(BpfProgram.Assembler a) {
        // A = client address; scratch[PORT] = client port (0 if none)
        return a.label("mix")
                .multiply(K1).store(TMP)
                .loadScratch(PORT).multiply(K2)
                .loadScratchIntoX(TMP).xorX()
                .store(TMP).shiftRight(16)
                .loadScratchIntoX(TMP).xorX()
                .returnA();
    }

    private static BpfProgram ipv4() {
        BpfProgram.Assembler a = BpfProgram.assembler()
                .loadHalf(6).jumpIfAnySet(0x3fff, "addressOnly", null)   // MF or offset: a fragment
                .loadByte(9).jumpIfEqual(1, "icmp", null)
                .loadIpv4HeaderLengthIntoX(0)
                .loadHalfIndexed(0).store(PORT)                           // source port
                .loadWord(12).jump("mix")                                  // source address
                .label("icmp")
                .loadIpv4HeaderLengthIntoX(0)
                .loadByteIndexed(0).jumpIfEqual(3, null, "addressOnly")   // only destination unreachable
                .loadByteIndexed(8).and(0xf).shiftLeft(2).store(TMP)      // quoted header length
                .copyXToA().loadScratchIntoX(TMP).addX().copyAToX()       // X = outer + quoted header length
                .loadHalfIndexed(8 + 2).store(PORT)                       // quoted destination port: the client's
                .loadIpv4HeaderLengthIntoX(0)
                .loadWordIndexed(8 + 16).jump("mix")                      // quoted destination: the client
                .label("addressOnly")
                .loadConstant(0).store(PORT)
                .loadWord(12).jump("mix");
        return mix(a).build();
    }

    private static BpfProgram.Assembler foldAddress(BpfProgram.Assembler a, int offset) {
        return a.loadWord(offset).store(ADDRESS)
                .loadWord(offset + 4).loadScratchIntoX(ADDRESS).xorX().store(ADDRESS)
                .loadWord(offset + 8).loadScratchIntoX(ADDRESS).xorX().store(ADDRESS)
                .loadWord(offset + 12).loadScratchIntoX(ADDRESS).xorX();
    }

    private static BpfProgram ipv6() {
        BpfProgram.Assembler a = BpfProgram.assembler()
                .loadByte(6).jumpIfEqual(58, "icmp", null)
                .jumpIfEqual(6, "ports", null)
                .jumpIfEqual(17, "ports", "addressOnly")
                .label("ports")
                .loadHalf(40).store(PORT);                                // source port (no extension headers)
        foldAddress(a, 8).jump("mix")
                .label("icmp")
                .loadByte(40).jumpIfEqual(2, null, "addressOnly")         // packet too big
                .loadHalf(40 + 8 + 42).store(PORT);                       // quoted destination port
        foldAddress(a, 40 + 8 + 24).jump("mix")                           // quoted destination address
                .label("addressOnly")
                .loadConstant(0).store(PORT);
        foldAddress(a, 8).jump("mix");
        return mix(a).build();
    }
}
