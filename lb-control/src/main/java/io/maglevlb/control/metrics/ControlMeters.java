package io.maglevlb.control.metrics;

import io.maglevlb.control.health.BackendHealth;
import io.maglevlb.control.health.CheckResult;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Registers the control plane's own meters: backend state and health checks per backend, table builds
 * per VIP. The readers take the current object through a {@link Supplier} because the object behind a
 * backend or VIP changes (a reload replaces a health watch, every rebuild publishes a new snapshot) while
 * the meter stays.
 */
public final class ControlMeters {
    private ControlMeters() {}

    /**
     * Registers {@code maglev_backend_up}, {@code maglev_backend_drained}, {@code maglev_backend_slots} and the
     * health check meters of one backend. {@code state} returns the backend's state in the VIP's current
     * snapshot (null if it is not in it); {@code health} the backend's current watch (null if none).
     */
    public static void registerBackend(MeterGroup backendGroup, Supplier<BackendState> state,
            Supplier<ForwardingSnapshot> snapshot, Supplier<BackendHealth> health) {
        backendGroup.gauge(MetricNames.BACKEND_UP, "1 when the backend passes its health checks", state,
                s -> {
                    BackendState b = s.get();
                    return b != null && b.healthy() ? 1 : 0;
                });
        backendGroup.gauge(MetricNames.BACKEND_DRAINED, "1 when the backend is drained (admin API or weight 0)",
                state, s -> {
                    BackendState b = s.get();
                    return b != null && (b.drained() || b.weight() == 0) ? 1 : 0;
                });
        backendGroup.gauge(MetricNames.BACKEND_SLOTS, "Maglev table slots the backend owns", state, s -> {
            BackendState b = s.get();
            ForwardingSnapshot snap = snapshot.get();
            return b == null || snap == null ? 0 : snap.slotCount(b.id());
        });
        for (CheckResult result : CheckResult.values()) {
            backendGroup.functionCounter(MetricNames.HEALTH_CHECKS, "Health checks by result", health, h -> {
                BackendHealth current = h.get();
                return current == null ? 0 : current.checks(result);
            }, MetricNames.RESULT, result.label());
        }
        backendGroup.functionCounter(MetricNames.HEALTH_PASSIVE_CHECKS,
                "Health checks brought forward by the passive signal (UDP: ICMP unreachable errors)", health, h -> {
                    BackendHealth current = h.get();
                    return current == null ? 0 : current.passiveChecks();
                });
        backendGroup.functionTimer(MetricNames.HEALTH_CHECK_DURATION, "Time health checks took", health, h -> {
            BackendHealth current = h.get();
            return current == null ? 0 : current.checkCount();
        }, h -> {
            BackendHealth current = h.get();
            return current == null ? 0 : current.checkDurationTotalNs();
        }, TimeUnit.NANOSECONDS);
    }

    /**
     * Registers the table meters of one VIP: {@code maglev_table_slots_min/max} from the current snapshot,
     * {@code maglev_table_rebuilds_total}, {@code maglev_table_slots_moved_total} and
     * {@code maglev_table_build_duration_seconds_{count,sum,max}} from what the VIP keeps ({@code builds}: tables
     * built; {@code slotsMoved}: slots whose owner changed, summed over the rebuilds; {@code buildNanosTotal}: their total build time;
     * {@code buildSecondsMax}: the longest recent build, in seconds).
     */
    public static <T> void registerTable(MeterGroup vipGroup, Supplier<ForwardingSnapshot> snapshot, T source,
            ToLongFunction<T> builds, ToLongFunction<T> slotsMoved, ToDoubleFunction<T> buildNanosTotal,
            ToDoubleFunction<T> buildSecondsMax) {
        vipGroup.gauge(MetricNames.TABLE_SLOTS_MIN, "Fewest table slots owned by a backend in the table", snapshot,
                s -> slotsExtreme(s.get(), true));
        vipGroup.gauge(MetricNames.TABLE_SLOTS_MAX, "Most table slots owned by a backend in the table", snapshot,
                s -> slotsExtreme(s.get(), false));
        vipGroup.functionCounter(MetricNames.TABLE_REBUILDS, "Maglev tables built and published", source,
                x -> builds.applyAsLong(x));
        vipGroup.functionCounter(MetricNames.TABLE_SLOTS_MOVED, "Table slots whose backend changed from one "
                + "published table to the next", source, x -> slotsMoved.applyAsLong(x));
        vipGroup.functionTimer(MetricNames.TABLE_BUILD_DURATION, "Time to build a Maglev table", source, builds,
                buildNanosTotal, TimeUnit.NANOSECONDS);
        vipGroup.gauge(MetricNames.TABLE_BUILD_DURATION_MAX, "Longest Maglev table build of the last two minutes,"
                + " in seconds", source, buildSecondsMax);
    }

    /** Min (or max) slots over the backends in the table; 0 when the table is empty. */
    static int slotsExtreme(ForwardingSnapshot snap, boolean min) {
        if (snap == null || snap.isEmpty()) {
            return 0;
        }
        int result = min ? Integer.MAX_VALUE : 0;
        for (BackendState b : snap.tableBackends()) {
            int n = snap.slotCount(b.id());
            result = min ? Math.min(result, n) : Math.max(result, n);
        }
        return result;
    }
}
