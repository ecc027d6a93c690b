package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Paper property 1, even spread: with equal weights every backend owns floor(M/N) or ceil(M/N) slots. */
class MaglevSpreadTest {
    private static final int M = MaglevTable.DEFAULT_SIZE;

    @Test
    void everyNFrom1To1000GetsFloorOrCeilWithNumberedNames() {
        for (int n = 1; n <= 1000; n++) {
            assertFloorOrCeil(MaglevGoldenTest.equalBackends("backend-%04d", n), M);
        }
    }

    @Test
    void randomNamesGetFloorOrCeil() {
        SplittableRandom random = new SplittableRandom(5);
        int[] sample = {1, 2, 3, 7, 13, 64, 100, 257, 500, 999, 1000};
        for (int n : sample) {
            assertFloorOrCeil(randomNames(random, n), M);
        }
        for (int trial = 0; trial < 40; trial++) {
            assertFloorOrCeil(randomNames(random, 1 + random.nextInt(1000)), M);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {7, 101, 1009, 655373})
    void otherTableSizesToo(int size) {
        for (int n : new int[] {1, 2, 3, 7}) {
            if (n <= size) {
                assertFloorOrCeil(MaglevGoldenTest.equalBackends("b%d", n), size);
            }
        }
        if (size >= 1000) {
            assertFloorOrCeil(MaglevGoldenTest.equalBackends("b%d", 1000), size);
        }
    }

    @Test
    void asManyBackendsAsSlotsGivesOneSlotEach() {
        MaglevTable table = MaglevTable.build(MaglevGoldenTest.equalBackends("b%d", 1009), 1009);
        for (int i = 0; i < 1009; i++) {
            assertEquals(1, table.slotCount(i));
        }
    }

    static void assertFloorOrCeil(List<MaglevBackend> backends, int size) {
        MaglevTable table = MaglevTable.build(backends, size);
        int n = backends.size();
        int floor = size / n;
        int ceil = (size + n - 1) / n;
        int[] counted = new int[n];
        for (int s = 0; s < size; s++) {
            counted[table.slot(s)]++; // also fails on NO_BACKEND (-1): every slot must be owned
        }
        for (int i = 0; i < n; i++) {
            int slots = table.slotCount(i);
            assertEquals(counted[i], slots, "slotCount agrees with the slots");
            int index = i;
            assertTrue(slots == floor || slots == ceil,
                    () -> "N=" + n + ", M=" + size + ": backend " + table.backends().get(index).name() + " has "
                            + slots + " slots, expected " + floor + " or " + ceil);
        }
    }

    static List<MaglevBackend> randomNames(SplittableRandom random, int n) {
        Set<String> names = new HashSet<>();
        while (names.size() < n) {
            StringBuilder name = new StringBuilder();
            int length = 1 + random.nextInt(24);
            for (int c = 0; c < length; c++) {
                name.append((char) random.nextInt(0x21, 0x7f));
            }
            names.add(name.toString());
        }
        List<MaglevBackend> backends = new ArrayList<>();
        for (String name : names) {
            backends.add(new MaglevBackend(name, 1));
        }
        return backends;
    }
}
