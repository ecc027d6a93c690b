package io.maglevlb.core.flow;

/**
 * Fixed-seed, allocation-free flow hashes. Addresses are given as two longs (the 128-bit IPv6 address, or
 * the IPv4-mapped form {@code ::ffff:a.b.c.d} from {@link #v4Hi()} / {@link #v4Lo(int)}), so IPv4 and IPv6
 * flows share one code path. The result depends only on the tuple, never on the process: every host hashes
 * a flow the same way, which Maglev needs behind ECMP.
 *
 * <p><b>Construction.</b> Each 128-bit address is compressed with one 64x64->128-bit multiply of its two
 * halves (each first XORed with its own key), folded to 64 bits as {@code low ^ high}; the packed
 * protocol and ports get the same treatment against a constant. The final fold multiplies the source and
 * ports part by the destination part. Every step is nonlinear in its inputs, the three compressions run in
 * parallel, and the whole hash costs four wide multiplies and no memory access: a few nanoseconds,
 * roughly a third of the murmur-style word-at-a-time chain it replaced. All 64 output bits are usable:
 * the Maglev slot uses the high 32 bits, flow tables may use the low ones (tests check the avalanche of
 * every input bit into every output bit, and the bucket spread of both ends).
 *
 * <p>The keys are odd 64-bit constants with 32 bits set, drawn once from a fixed generator; {@link #SEED}
 * enters through the final key. Changing any of them moves every flow to another backend on upgrade: never do so lightly (the golden
 * values in FlowHashTest catch it).
 */
public final class FlowHash {
    /** Seed of the 5-tuple and source-IP hashes. Changing it moves every flow: never do so lightly. */
    public static final long SEED = 0x6d61676c65766c62L; // "maglevlb"

    private static final long SRC_HI_KEY = 0xafddaaa407c03c99L;
    private static final long SRC_LO_KEY = 0x43337ba884f1cad3L;
    private static final long DST_HI_KEY = 0xc10e8ecbec3d6329L;
    private static final long DST_LO_KEY = 0x84b278d3f3586599L;
    private static final long PORTS_KEY = 0x22a406eb4eabde4dL;
    private static final long PORTS_MULTIPLIER = 0x5528afa669226e4fL;
    private static final long FINAL_KEY = SEED ^ 0x6fc46ba1f081e527L;
    private static final long SOURCE_ONLY_MULTIPLIER = 0x7a1f7550e46b520dL;

    private FlowHash() {}

    /** High 64 bits of an IPv4-mapped IPv6 address. */
    public static long v4Hi() {
        return 0L;
    }

    /** Low 64 bits of the IPv4-mapped IPv6 address {@code ::ffff:ip} ({@code ip} in network order). */
    public static long v4Lo(int ip) {
        return 0x0000_ffff_0000_0000L | (ip & 0xffff_ffffL);
    }

    /**
     * The flow hash a VIP with hash mode {@code mode} places a flow with: {@link #sourceIp} or {@link #fiveTuple}.
     * Every forwarder and {@code maglevd explain} hash through here, so they cannot disagree.
     */
    public static long of(HashMode mode, int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort) {
        return mode == HashMode.SOURCE_IP ? sourceIp(srcHi, srcLo)
                : fiveTuple(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort);
    }

    /** High 64 bits of an address's raw bytes (4 or 16, network order) in the form the hashes take. */
    public static long addressHi(byte[] raw) {
        if (raw.length == 4) {
            return v4Hi();
        }
        checkLength(raw);
        return readLong(raw, 0);
    }

    /** Low 64 bits of an address's raw bytes (4 or 16, network order): IPv4 as {@code ::ffff:a.b.c.d}. */
    public static long addressLo(byte[] raw) {
        if (raw.length == 4) {
            return v4Lo(((raw[0] & 0xff) << 24) | ((raw[1] & 0xff) << 16) | ((raw[2] & 0xff) << 8) | (raw[3] & 0xff));
        }
        checkLength(raw);
        return readLong(raw, 8);
    }

    private static void checkLength(byte[] raw) {
        if (raw.length != 16) {
            throw new IllegalArgumentException("an IP address has 4 or 16 bytes, got " + raw.length);
        }
    }

    private static long readLong(byte[] b, int from) {
        long v = 0;
        for (int i = from; i < from + 8; i++) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    /** Hash of (protocol, source address:port, destination address:port). */
    public static long fiveTuple(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort) {
        long ports = ((long) (protocol & 0xff) << 32) | ((long) (srcPort & 0xffff) << 16) | (dstPort & 0xffff);
        long src = fold(srcHi ^ SRC_HI_KEY, srcLo ^ SRC_LO_KEY);
        long dst = fold(dstHi ^ DST_HI_KEY, dstLo ^ DST_LO_KEY);
        long rest = fold(ports ^ PORTS_KEY, PORTS_MULTIPLIER);
        return fold(src ^ rest, dst ^ FINAL_KEY);
    }

    /** Hash of the source address only: every flow of one client lands on one backend. */
    public static long sourceIp(long srcHi, long srcLo) {
        long src = fold(srcHi ^ SRC_HI_KEY, srcLo ^ SRC_LO_KEY);
        return fold(src ^ FINAL_KEY, SOURCE_ONLY_MULTIPLIER);
    }

    /**
     * The full 128-bit product of {@code a} and {@code b}, folded to 64 bits as {@code low ^ high}. The signed
     * high half ({@link Math#multiplyHigh}, one instruction on x86-64 and aarch64) is part of the definition:
     * the unsigned one would give other values.
     */
    private static long fold(long a, long b) {
        return a * b ^ Math.multiplyHigh(a, b);
    }

    /** MurmurHash3's 64-bit finalizer: full avalanche of the input bits. */
    public static long fmix64(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        k *= 0xc4ceb9fe1a85ec53L;
        k ^= k >>> 33;
        return k;
    }
}
