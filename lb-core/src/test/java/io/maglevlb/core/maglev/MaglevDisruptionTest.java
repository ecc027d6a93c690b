package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Paper property 2, minimal disruption. When one of N backends leaves, all of its slots must move (they
 * have no owner any more) and, ideally, no other slot would. Maglev trades a little of that for even
 * spread: a few other slots change owner too. The reference is the paper's Figure 12 (N=1000, k concurrent
 * failures, M=65537 and 655373): a few per cent of the table, less at the larger M. Here: the share of the
 * table that moved although its backend stayed, printed, and bounded well above the measured values so a
 * regression (say, a population order that depends on the backend set) fails.
 */
class MaglevDisruptionTest {

    @ParameterizedTest(name = "M={0}, N={1}")
    @CsvSource({"65537, 10", "65537, 100", "65537, 1000", "655373, 1000"})
    void removingOneBackendMovesItsSlotsAndFewOthers(int size, int n) {
        List<MaglevBackend> all = MaglevGoldenTest.equalBackends("backend-%04d", n);
        MaglevTable before = MaglevTable.build(all, size);
        double worst = 0;
        double sum = 0;
        int trials = Math.min(n, 5);
        for (int t = 0; t < trials; t++) {
            MaglevBackend removed = all.get(t * n / trials);
            List<MaglevBackend> rest = new ArrayList<>(all);
            rest.remove(removed);
            MaglevTable after = MaglevTable.build(rest, size);
            int removedSlots = 0;
            int otherMoved = 0;
            for (int s = 0; s < size; s++) {
                String owner = before.backends().get(before.slot(s)).name();
                String newOwner = after.backends().get(after.slot(s)).name();
                if (owner.equals(removed.name())) {
                    removedSlots++;
                    assertTrue(!newOwner.equals(removed.name()), "a removed backend keeps no slot");
                } else if (!owner.equals(newOwner)) {
                    otherMoved++;
                }
            }
            assertTrue(removedSlots == size / n || removedSlots == (size + n - 1) / n);
            double share = (double) otherMoved / size;
            worst = Math.max(worst, share);
            sum += share;
        }
        double ideal = 0;
        System.out.printf("remove 1 of N=%d at M=%d: other slots moved %.3f%% of the table on average, worst %.3f%%"
                + " (ideal %.0f%%; the removed backend's own share is %.3f%%)%n", n, size, 100 * sum / trials,
                100 * worst, ideal, 100.0 / n);
        assertTrue(worst <= bound(size, n), "moved " + worst + " of the table, bound " + bound(size, n));
    }

    @ParameterizedTest(name = "M={0}, N={1}")
    @CsvSource({"65537, 10", "65537, 100", "65537, 1000", "655373, 1000"})
    void addingOneBackendTakesAFairShareAndMovesFewOthers(int size, int n) {
        List<MaglevBackend> all = MaglevGoldenTest.equalBackends("backend-%04d", n);
        MaglevTable before = MaglevTable.build(all, size);
        List<MaglevBackend> grown = new ArrayList<>(all);
        MaglevBackend added = new MaglevBackend("backend-new", 1);
        grown.add(added);
        MaglevTable after = MaglevTable.build(grown, size);
        int taken = 0;
        int otherMoved = 0;
        for (int s = 0; s < size; s++) {
            String owner = before.backends().get(before.slot(s)).name();
            String newOwner = after.backends().get(after.slot(s)).name();
            if (newOwner.equals(added.name())) {
                taken++;
            } else if (!owner.equals(newOwner)) {
                otherMoved++;
            }
        }
        assertTrue(taken == size / (n + 1) || taken == (size + n) / (n + 1), "the new backend's share: " + taken);
        double share = (double) otherMoved / size;
        System.out.printf("add 1 to N=%d at M=%d: the new backend took %.3f%% of the table; other slots moved"
                + " between old backends %.3f%% (ideal 0%%)%n", n, size, 100.0 * taken / size, 100 * share);
        assertTrue(share <= bound(size, n), "moved " + share + " of the table, bound " + bound(size, n));
    }

    @ParameterizedTest(name = "M={0}")
    @CsvSource({"65537", "655373"})
    void concurrentFailuresAsInFigure12(int size) {
        int n = 1000;
        List<MaglevBackend> all = MaglevGoldenTest.equalBackends("backend-%04d", n);
        MaglevTable before = MaglevTable.build(all, size);
        StringBuilder curve = new StringBuilder();
        for (int k : new int[] {1, 10, 50, 100}) {
            // fail every (n/k)-th backend: k of them, spread over the name order
            List<MaglevBackend> rest = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (i % (n / k) != 0) {
                    rest.add(all.get(i));
                }
            }
            MaglevTable after = MaglevTable.build(rest, size);
            int changed = 0;
            int otherMoved = 0;
            for (int s = 0; s < size; s++) {
                String owner = before.backends().get(before.slot(s)).name();
                if (!owner.equals(after.backends().get(after.slot(s)).name())) {
                    changed++;
                    if (rest.contains(before.backends().get(before.slot(s)))) {
                        otherMoved++;
                    }
                }
            }
            double failedShare = (double) k / n;
            double changedShare = (double) changed / size;
            curve.append(String.format("%n  k=%3d: %.2f%% of entries changed (failed backends' share %.2f%%,"
                    + " surviving backends' entries moved %.2f%%)", k, 100 * changedShare, 100 * failedShare,
                    100.0 * otherMoved / size));
            assertTrue(changedShare <= failedShare + 0.05, "k=" + k + ": " + changedShare);
        }
        System.out.printf("concurrent failures of k of N=%d backends at M=%d:%s%n", n, size, curve);
    }

    /**
     * A sane ceiling for the share of other slots that move: 2% of the table. Measured (M=65537, N=10..1000,
     * names backend-%04d): 0.3-0.6%; at M=655373, N=1000: 0.33%.
     */
    private static double bound(int size, int n) {
        return 0.02;
    }
}
