package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IntSummaryStatistics;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Paper property 3, same answer everywhere: the table is a function of the backend set alone. (The golden
 * vectors in MaglevGoldenTest pin it across versions.)
 */
class MaglevDeterminismTest {
    private static final int M = MaglevTable.DEFAULT_SIZE;

    @Test
    void anyInputOrderGivesTheSameTable() {
        SplittableRandom names = new SplittableRandom(21);
        List<MaglevBackend> backends = new ArrayList<>(MaglevSpreadTest.randomNames(names, 300));
        for (int i = 0; i < backends.size(); i += 3) {
            backends.set(i, new MaglevBackend(backends.get(i).name(), 1 + i % 5)); // some weights too
        }
        int[] expected = MaglevTable.build(backends, M).slots();
        Random shuffler = new Random(22);
        for (int trial = 0; trial < 10; trial++) {
            List<MaglevBackend> shuffled = new ArrayList<>(backends);
            Collections.shuffle(shuffled, shuffler);
            assertArrayEquals(expected, MaglevTable.build(shuffled, M).slots(), "shuffle " + trial);
        }
        assertArrayEquals(expected, MaglevTable.build(new HashSet<>(backends), M).slots(), "hash set order");
        assertArrayEquals(expected, MaglevTable.build(new TreeSet<>(backends), M).slots(), "sorted set");
        List<MaglevBackend> reversed = new ArrayList<>(backends);
        Collections.reverse(reversed);
        assertArrayEquals(expected, MaglevTable.build(new LinkedHashSet<>(reversed), M).slots(), "reversed");
    }

    @Test
    void backendsAreOrderedByNameAndSlotsIndexThatOrder() {
        MaglevTable table = MaglevTable.build(List.of(new MaglevBackend("zeta", 1), new MaglevBackend("Alpha", 1),
                new MaglevBackend("alpha", 1), new MaglevBackend("beta-10", 1), new MaglevBackend("beta-9", 1)), 101);
        // UTF-16 code unit order, no locale: upper case before lower case, "10" before "9"
        assertEquals(List.of("Alpha", "alpha", "beta-10", "beta-9", "zeta"),
                table.backends().stream().map(MaglevBackend::name).toList());
    }

    @Test
    void lookupReadsTheSlotOfTheHashsHighBits() {
        MaglevTable table = MaglevTable.build(MaglevGoldenTest.equalBackends("b%d", 5), 101);
        SplittableRandom random = new SplittableRandom(23);
        for (int i = 0; i < 10_000; i++) {
            long hash = random.nextLong();
            int slot = MaglevTable.slotIndex(hash, 101);
            assertEquals(table.slot(slot), table.lookup(hash));
            assertEquals((int) Long.divideUnsigned((hash >>> 32) * 101, 1L << 32), slot);
        }
        assertEquals(0, MaglevTable.slotIndex(0L, 101));
        assertEquals(100, MaglevTable.slotIndex(-1L, 101));
        assertEquals(MaglevTable.MAX_SIZE - 1, MaglevTable.slotIndex(-1L, MaglevTable.MAX_SIZE));
    }

    @Test
    void slotIndexSpreadsHashesEvenlyOverTheTable() {
        // The multiply-shift maps the 2^32 values of the high half onto M slots in runs of floor or ceil of
        // 2^32 / M; sampling every 4099th value, no slot gets more than one hit more than another.
        int size = 65537;
        int[] hits = new int[size];
        for (long high = 0; high < 1L << 32; high += 4099) {
            hits[MaglevTable.slotIndex(high << 32 | 0xdead_beefL, size)]++;
        }
        IntSummaryStatistics stats = Arrays.stream(hits).summaryStatistics();
        assertTrue(stats.getMax() - stats.getMin() <= 1, stats.toString());
    }
}
