package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Weighted tables: shares follow weights (Envoy's turn rule), weight 0 gets nothing. */
class MaglevWeightTest {
    private static final int M = MaglevTable.DEFAULT_SIZE;

    static Stream<Arguments> weightSets() {
        SplittableRandom random = new SplittableRandom(9);
        int[] oneToTen = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        int[] randomHundred = random.ints(100, 1, 101).toArray();
        int[] withZeros = random.ints(50, 0, 5).toArray();
        withZeros[0] = 3; // at least one positive
        return Stream.of(
                Arguments.of("1:2:3", new int[] {1, 2, 3}),
                Arguments.of("1..10", oneToTen),
                Arguments.of("100:1", new int[] {100, 1}),
                Arguments.of("1:100", new int[] {1, 100}),
                Arguments.of("1:1:1000", new int[] {1, 1, 1000}),
                Arguments.of("3:3:3:0", new int[] {3, 3, 3, 0}),
                Arguments.of("1000 x 1 and 1 x 1000", concat(filled(1000, 1), new int[] {1000})),
                Arguments.of("100 random 1..100", randomHundred),
                Arguments.of("50 random 0..4", withZeros),
                Arguments.of("1:1e6 (turn queue)", new int[] {1, 1_000_000}),
                Arguments.of("max int:1", new int[] {Integer.MAX_VALUE, 1}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("weightSets")
    void sharesFollowWeightsWithinOnePercentOfTheTable(String label, int[] weights) {
        List<MaglevBackend> backends = new ArrayList<>();
        long weightSum = 0;
        for (int i = 0; i < weights.length; i++) {
            backends.add(new MaglevBackend(String.format("w-%03d", i), weights[i]));
            weightSum += weights[i];
        }
        MaglevTable table = MaglevTable.build(backends, M);
        double worst = 0;
        for (int i = 0; i < table.backends().size(); i++) { // table order: sorted by name
            MaglevBackend backend = table.backends().get(i);
            double ideal = (double) M * backend.weight() / weightSum;
            int slots = table.slotCount(i);
            if (backend.weight() == 0) {
                assertEquals(0, slots, "weight 0 gets no slots");
            }
            worst = Math.max(worst, Math.abs(slots - ideal));
            assertTrue(Math.abs(slots - ideal) <= 0.01 * M, label + ": " + backend + " has " + slots
                    + " slots, ideal " + ideal);
        }
        System.out.printf("weights %s: worst deviation from the ideal share %.1f slots (%.4f%% of M)%n", label, worst,
                100 * worst / M);
    }

    @Test
    void allZeroWeightsGiveAnEmptyTable() {
        MaglevTable table = MaglevTable.build(List.of(new MaglevBackend("a", 0), new MaglevBackend("b", 0)), M);
        int[] expected = new int[M];
        Arrays.fill(expected, MaglevTable.NO_BACKEND);
        assertArrayEquals(expected, table.slots());
        assertEquals(0, table.slotCount(0));
        assertEquals(0, table.slotCount(1));
        assertEquals(MaglevTable.NO_BACKEND, table.lookup(0x1234_5678_9abc_def0L));
    }

    @Test
    void noBackendsGiveAnEmptyTable() {
        MaglevTable table = MaglevTable.build(List.of(), 7);
        assertArrayEquals(new int[] {-1, -1, -1, -1, -1, -1, -1}, table.slots());
    }

    @Test
    void scalingAllWeightsChangesNothing() {
        List<MaglevBackend> small = List.of(new MaglevBackend("a", 1), new MaglevBackend("b", 2),
                new MaglevBackend("c", 3));
        List<MaglevBackend> scaled = List.of(new MaglevBackend("a", 10), new MaglevBackend("b", 20),
                new MaglevBackend("c", 30));
        assertArrayEquals(MaglevTable.build(small, M).slots(), MaglevTable.build(scaled, M).slots());
    }

    @Test
    void equalWeightsAboveOneEqualWeightOne() {
        assertArrayEquals(MaglevTable.build(MaglevGoldenTest.equalBackends("b%d", 20), M).slots(),
                MaglevTable.build(weighted(20, 5), M).slots());
    }

    private static List<MaglevBackend> weighted(int n, int weight) {
        List<MaglevBackend> backends = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            backends.add(new MaglevBackend("b" + i, weight));
        }
        return backends;
    }

    private static int[] filled(int n, int value) {
        int[] a = new int[n];
        Arrays.fill(a, value);
        return a;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
