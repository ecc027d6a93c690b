package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The optimised population loop (bitmap walk, free-list tail, credit and turn-queue scheduling) against the
 * textbook loop of the paper with Envoy's weight rule, kept here as the oracle. Seeded random inputs cover
 * equal, mixed, zero and extreme weights and every switch point of the free-list tail, including none and
 * "from the first claim".
 */
class PopulateEquivalenceTest {
    private static final int[] PRIMES = {2, 3, 5, 7, 11, 13, 31, 101, 251, 1009, 4099, 65537};

    /** The paper's loop, slot by slot, as the reference. */
    static int[] textbook(int[] offsets, int[] skips, int[] weights, int size) {
        int n = offsets.length;
        int[] table = new int[size];
        Arrays.fill(table, MaglevTable.NO_BACKEND);
        int maxWeight = Arrays.stream(weights).max().orElse(0);
        if (maxWeight == 0) {
            return table;
        }
        long[] next = new long[n]; // index j into backend i's permutation
        long[] target = new long[n];
        int filled = 0;
        for (long round = 0; ; round++) {
            for (int i = 0; i < n; i++) {
                if (weights[i] == 0 || round * weights[i] < target[i]) {
                    continue;
                }
                target[i] += maxWeight;
                int slot;
                do {
                    slot = (int) ((offsets[i] + next[i] * skips[i]) % size);
                    next[i]++;
                } while (table[slot] != MaglevTable.NO_BACKEND);
                table[slot] = i;
                if (++filled == size) {
                    return table;
                }
            }
        }
    }

    @Test
    void equalsTheTextbookLoopOnRandomInputs() {
        SplittableRandom random = new SplittableRandom(11);
        for (int trial = 0; trial < 250; trial++) {
            int size = PRIMES[random.nextInt(PRIMES.length)];
            int n = 1 + random.nextInt(Math.min(size, 200));
            int[] offsets = new int[n];
            int[] skips = new int[n];
            for (int i = 0; i < n; i++) {
                offsets[i] = random.nextInt(size);
                skips[i] = size == 2 ? 1 : 1 + random.nextInt(size - 1);
            }
            int[] weights = weights(random, n, trial % 5);
            int[] expected = textbook(offsets, skips, weights, size);
            String what = "trial " + trial + ", M=" + size + ", N=" + n + ", weights " + Arrays.toString(weights);
            assertArrayEquals(expected, MaglevTable.populate(offsets, skips, weights, size), what);
            assertArrayEquals(expected, MaglevTable.populate(offsets, skips, weights, size, 0), what + ", no tail");
            if (size <= 1009) {
                assertArrayEquals(expected, MaglevTable.populate(offsets, skips, weights, size, size),
                        what + ", free list from the start");
                int threshold = random.nextInt(size);
                assertArrayEquals(expected, MaglevTable.populate(offsets, skips, weights, size, threshold),
                        what + ", tail at " + threshold);
            }
        }
    }

    @Test
    void equalsTheTextbookLoopForRealNamesAtFullSize() {
        for (int n : new int[] {1, 10, 100, 1000}) {
            for (boolean weighted : new boolean[] {false, true}) {
                int size = 65537;
                int[] offsets = new int[n];
                int[] skips = new int[n];
                int[] weights = new int[n];
                for (int i = 0; i < n; i++) {
                    String name = String.format("backend-%04d", i);
                    offsets[i] = MaglevTable.offset(name, size);
                    skips[i] = MaglevTable.skip(name, size);
                    weights[i] = weighted ? 1 + i % 3 : 1;
                }
                assertArrayEquals(textbook(offsets, skips, weights, size),
                        MaglevTable.populate(offsets, skips, weights, size),
                        "N=" + n + (weighted ? ", weights 1..3" : ", equal weights"));
            }
        }
    }

    private static int[] weights(SplittableRandom random, int n, int kind) {
        int[] weights = new int[n];
        for (int i = 0; i < n; i++) {
            weights[i] = switch (kind) {
                case 0 -> 1; // equal: round-robin
                case 1 -> random.nextInt(0, 11); // small, with zeros: round loop
                case 2 -> i == 0 ? 1_000_000 : 1 + random.nextInt(3); // extreme ratio: turn queue
                case 3 -> random.nextBoolean() ? Integer.MAX_VALUE : random.nextInt(1, 1000); // near overflow
                default -> random.nextInt(4) == 0 ? 0 : 7; // equal among the non-zero ones
            };
        }
        return weights;
    }
}
