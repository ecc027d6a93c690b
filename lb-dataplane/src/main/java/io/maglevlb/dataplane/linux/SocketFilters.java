package io.maglevlb.dataplane.linux;

/**
 * Classic BPF socket filters (SO_ATTACH_FILTER, {@link LinuxNative#attachFilter}) that maglevd attaches to its own
 * sockets, and the packing of one struct sock_filter into a {@code long} (code in bits 0-15, jt 16-23, jf 24-31,
 * k 32-63) so a program is a plain {@code long[]}.
 *
 * <p><b>Listener drain.</b> {@link #dropTcpSyn()} is what a retiring TCP listener gets before its accept queue is
 * drained (docs/operations.md, "Reload"). A socket filter on a listening socket runs on every segment the kernel
 * hands that listener: SYNs that would start a handshake, and the final ACKs that complete the handshakes already
 * under way (tcp_v4_rcv/tcp_v6_rcv run {@code tcp_filter} on the listener for both). The program drops segments
 * with SYN set and keeps the rest, so from the moment it is attached no new handshake starts on the socket while
 * those already under way still complete into its accept queue; the queue can then only shrink, and once it is
 * empty (and the handshakes in flight had a round trip to finish) closing the socket resets nobody. A client whose
 * SYN is dropped sends it again after its retransmission timeout (1 s on Linux) and then meets whatever listens on
 * the address by then.
 *
 * <p>For a TCP socket the filter sees the segment from its TCP header on (the IP header is already pulled), so
 * absolute loads are offsets into the TCP header: byte 13 holds the flags, SYN is 0x02.
 */
public final class SocketFilters {
    // Opcodes (linux/bpf_common.h): BPF_LD|BPF_B|BPF_ABS, BPF_JMP|BPF_JSET|BPF_K, BPF_RET|BPF_K.
    private static final int LD_B_ABS = 0x30;
    private static final int JSET_K = 0x45;
    private static final int RET_K = 0x06;
    private static final int TCP_FLAGS_OFFSET = 13;
    private static final int TCP_SYN = 0x02;
    /** "Keep the whole packet": the return value of a socket filter is the length to keep, 0 drops. */
    private static final int KEEP = 0x40000;

    private SocketFilters() {
    }

    /** One struct sock_filter packed into a long. */
    public static long instruction(int code, int jt, int jf, int k) {
        return (code & 0xffffL) | (jt & 0xffL) << 16 | (jf & 0xffL) << 24 | (k & 0xffffffffL) << 32;
    }

    static int code(long insn) {
        return (int) (insn & 0xffff);
    }

    static int jt(long insn) {
        return (int) (insn >>> 16 & 0xff);
    }

    static int jf(long insn) {
        return (int) (insn >>> 24 & 0xff);
    }

    static int k(long insn) {
        return (int) (insn >>> 32);
    }

    /** For a TCP listening socket: drop segments with SYN set (new handshakes), keep everything else. */
    public static long[] dropTcpSyn() {
        return new long[] {
            instruction(LD_B_ABS, 0, 0, TCP_FLAGS_OFFSET),
            instruction(JSET_K, 0, 1, TCP_SYN), // SYN set: next instruction (drop), else skip it (keep)
            instruction(RET_K, 0, 0, 0),
            instruction(RET_K, 0, 0, KEEP),
        };
    }
}
