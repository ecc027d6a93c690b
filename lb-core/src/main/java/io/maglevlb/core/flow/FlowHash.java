package io.maglevlb.core.flow;

/**
 * Fixed-seed, allocation-free flow hashes. Addresses are given as two longs (the 128-bit IPv6 address, or
 * the IPv4-mapped form {@code ::ffff:a.b.c.d} from {@link #v4Hi()} / {@link #v4Lo(int)}), so IPv4 and IPv6
 * flows share one code path. The result depends only on the tuple, never on the process: every host hashes
 * a flow the same way, which Maglev needs behind ECMP.
 */
public final class FlowHash {
    /** Seed of the 5-tuple and source-IP hashes. Changing it moves every flow: never do so lightly. */
    public static final long SEED = 0x6d61676c65766c62L; // "maglevlb"

    private FlowHash() {}

    /** High 64 bits of an IPv4-mapped IPv6 address. */
    public static long v4Hi() {
        return 0L;
    }

    /** Low 64 bits of the IPv4-mapped IPv6 address {@code ::ffff:ip} ({@code ip} in network order). */
    public static long v4Lo(int ip) {
        return 0x0000_ffff_0000_0000L | (ip & 0xffff_ffffL);
    }

    /** Hash of (protocol, source address:port, destination address:port). */
    public static long fiveTuple(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort) {
        long h = SEED;
        h = mix(h, srcHi);
        h = mix(h, srcLo);
        h = mix(h, dstHi);
        h = mix(h, dstLo);
        h = mix(h, ((long) (protocol & 0xff) << 32) | ((long) (srcPort & 0xffff) << 16) | (dstPort & 0xffff));
        return fmix64(h);
    }

    /** Hash of the source address only: every flow of one client lands on one backend. */
    public static long sourceIp(long srcHi, long srcLo) {
        long h = SEED ^ 0x5eed_0001L;
        h = mix(h, srcHi);
        h = mix(h, srcLo);
        return fmix64(h);
    }

    private static long mix(long h, long v) {
        h ^= fmix64(v ^ 0x9e3779b97f4a7c15L);
        return Long.rotateLeft(h, 27) * 0x3c6ef372fe94f82bL + 0x52dce729L;
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
