package io.maglevlb.core.maglev;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * MurmurHash3 x64 128-bit (Austin Appleby's public-domain algorithm), first 64 bits only: the value of
 * Guava's {@code Hashing.murmur3_128(seed).hashBytes(bytes).asLong()}, which fixed the table's offsets and
 * skips first. Computed here directly because a table build hashes every backend name twice and Guava's
 * streaming hasher allocates a hasher, a buffer and a hash code per call (about five times slower).
 * Murmur3Test checks both agree on random inputs of every length, so the tables stay identical.
 *
 * <p>Like Guava, the int seed is sign-extended into both 64-bit halves of the state.
 */
final class Murmur3 {
    private static final long C1 = 0x87c37b91114253d5L;
    private static final long C2 = 0x4cf5ad432745937fL;
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Murmur3() {}

    /** The low 64 bits (h1) of murmur3_x64_128 of {@code bytes} with {@code seed}. */
    static long hash64(byte[] bytes, int seed) {
        long h1 = seed;
        long h2 = seed;
        int length = bytes.length;
        int blocksEnd = length & ~15;
        for (int at = 0; at < blocksEnd; at += 16) {
            long k1 = (long) LONG_LE.get(bytes, at);
            long k2 = (long) LONG_LE.get(bytes, at + 8);
            h1 ^= mixK1(k1);
            h1 = Long.rotateLeft(h1, 27);
            h1 += h2;
            h1 = h1 * 5 + 0x52dce729;
            h2 ^= mixK2(k2);
            h2 = Long.rotateLeft(h2, 31);
            h2 += h1;
            h2 = h2 * 5 + 0x38495ab5;
        }
        int tail = length - blocksEnd;
        if (tail > 0) {
            long k1 = 0;
            long k2 = 0;
            for (int j = tail - 1; j >= 8; j--) {
                k2 = k2 << 8 | (bytes[blocksEnd + j] & 0xffL);
            }
            for (int j = Math.min(tail, 8) - 1; j >= 0; j--) {
                k1 = k1 << 8 | (bytes[blocksEnd + j] & 0xffL);
            }
            if (tail > 8) {
                h2 ^= mixK2(k2);
            }
            h1 ^= mixK1(k1);
        }
        h1 ^= length;
        h2 ^= length;
        h1 += h2;
        h2 += h1;
        h1 = fmix64(h1);
        h2 = fmix64(h2);
        return h1 + h2;
    }

    private static long mixK1(long k1) {
        return Long.rotateLeft(k1 * C1, 31) * C2;
    }

    private static long mixK2(long k2) {
        return Long.rotateLeft(k2 * C2, 33) * C1;
    }

    private static long fmix64(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        k *= 0xc4ceb9fe1a85ec53L;
        k ^= k >>> 33;
        return k;
    }
}
