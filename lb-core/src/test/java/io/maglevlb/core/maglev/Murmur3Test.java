package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The table's own murmur3 must equal Guava's, which defined the offsets and skips of the first tables. */
class Murmur3Test {

    @Test
    void equalsGuavaOnRandomBytesOfEveryLengthUpTo100() {
        SplittableRandom random = new SplittableRandom(7);
        int[] seeds = {MaglevTable.OFFSET_SEED, MaglevTable.SKIP_SEED, 0, -1, Integer.MIN_VALUE, 42};
        for (int length = 0; length <= 100; length++) {
            for (int trial = 0; trial < 50; trial++) {
                byte[] bytes = new byte[length];
                random.nextBytes(bytes);
                for (int seed : seeds) {
                    assertEquals(Hashing.murmur3_128(seed).hashBytes(bytes).asLong(), Murmur3.hash64(bytes, seed),
                            () -> "length " + bytes.length + ", seed " + seed);
                }
            }
        }
    }

    @Test
    void offsetAndSkipEqualGuavaOverUtf8NamesIncludingNonAscii() {
        SplittableRandom random = new SplittableRandom(8);
        String[] fixed = {"", "a", "backend-0000", "größe-ß", "東京-1", "🙂-emoji", "\uD800unpaired", "x".repeat(300)};
        for (String name : fixed) {
            assertOffsetAndSkipMatchGuava(name);
        }
        for (int trial = 0; trial < 2000; trial++) {
            StringBuilder name = new StringBuilder();
            int length = random.nextInt(0, 40);
            for (int c = 0; c < length; c++) {
                name.append((char) (random.nextBoolean() ? random.nextInt(0x20, 0x7f) : random.nextInt(0x80, 0xffff)));
            }
            assertOffsetAndSkipMatchGuava(name.toString());
        }
    }

    private static void assertOffsetAndSkipMatchGuava(String name) {
        for (int size : new int[] {7, 65537, 655373, MaglevTable.MAX_SIZE}) {
            long h1 = Hashing.murmur3_128(MaglevTable.OFFSET_SEED).hashString(name, StandardCharsets.UTF_8).asLong();
            long h2 = Hashing.murmur3_128(MaglevTable.SKIP_SEED).hashString(name, StandardCharsets.UTF_8).asLong();
            assertEquals((int) Long.remainderUnsigned(h1, size), MaglevTable.offset(name, size), name);
            assertEquals((int) Long.remainderUnsigned(h2, size - 1) + 1, MaglevTable.skip(name, size), name);
        }
    }
}
