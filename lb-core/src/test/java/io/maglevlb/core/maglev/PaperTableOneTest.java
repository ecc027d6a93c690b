package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** The paper's Table 1 (M = 7) with the offsets and skips it gives, injected into the population loop. */
class PaperTableOneTest {
    private static final int B1 = 0;
    private static final int B2 = 1;
    private static final int B3 = 2;

    @Test
    void populatesThePapersTableWithAllThreeBackends() {
        int[] table = MaglevTable.populate(new int[] {3, 0, 3}, new int[] {4, 2, 1}, new int[] {1, 1, 1}, 7);
        assertArrayEquals(new int[] {B2, B1, B2, B1, B3, B3, B1}, table);
    }

    @Test
    void populatesThePapersTableAfterB2Leaves() {
        // B2 removed: B1 and B3 keep their permutations (now indices 0 and 1).
        int[] table = MaglevTable.populate(new int[] {3, 3}, new int[] {4, 1}, new int[] {1, 1}, 7);
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1}, table);
    }

    @Test
    void weightZeroBackendTakesNoTurns() {
        int[] table = MaglevTable.populate(new int[] {3, 0, 3}, new int[] {4, 2, 1}, new int[] {1, 0, 1}, 7);
        assertArrayEquals(new int[] {B1, B1, B1, B1, B3, B3, B3}, table);
    }
}
