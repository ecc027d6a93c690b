package io.maglevlb.bench.e2e;

import java.util.Locale;
import java.util.Optional;

/**
 * The figures scripts/bench records, with their unit, which direction is better and the project's goal for
 * maglevd (issue "Benchmarks: side by side with HAProxy, nginx and the no-LB limit"). The ids are the
 * {@code metric} column of the raw results file.
 */
enum Metric {
    CONN_RATE("conn_rate", "New TCP connections/s", "one request per connection", "conn/s", true,
            new Goal(Peer.HAPROXY, 1.05)),
    KA_RPS("ka_rps", "Keep-alive requests/s", "small requests, fixed connections", "req/s", true,
            new Goal(Peer.HAPROXY, 1.05)),
    KA_P50("ka_p50_us", "Keep-alive p50 latency", "same run as requests/s", "µs", false, null),
    KA_P99("ka_p99_us", "Keep-alive p99 latency", "same run as requests/s", "µs", false,
            new Goal(Peer.HAPROXY, 1.0)),
    BULK1("bulk1_gbps", "Bulk TCP, 1 stream", "iperf3", "Gbit/s", true, new Goal(Peer.HAPROXY, 1.1)),
    BULK4("bulk4_gbps", "Bulk TCP, 4 streams", "iperf3 -P 4", "Gbit/s", true, null),
    IDLE_BYTES("idle_bytes", "Memory per idle connection", "RSS growth / idle proxied connections", "B", false,
            new Goal(Peer.HAPROXY, 1.0)),
    UDP_DPS("udp_dps", "UDP datagrams/s", "echo round trips", "dgram/s", true, new Goal(Peer.NGINX, 1.8));

    /**
     * maglevd's goal for this metric: its median relative to {@code reference}'s median must be at least
     * {@code factor} (higher-is-better metrics) or at most {@code factor} (lower-is-better metrics).
     */
    record Goal(Peer reference, double factor) {
    }

    final String id;
    final String label;
    final String detail;
    final String unit;
    final boolean higherIsBetter;
    private final Goal goal;

    Metric(String id, String label, String detail, String unit, boolean higherIsBetter, Goal goal) {
        this.id = id;
        this.label = label;
        this.detail = detail;
        this.unit = unit;
        this.higherIsBetter = higherIsBetter;
        this.goal = goal;
    }

    Optional<Goal> goal() {
        return Optional.ofNullable(goal);
    }

    static Optional<Metric> byId(String id) {
        for (Metric metric : values()) {
            if (metric.id.equals(id)) {
                return Optional.of(metric);
            }
        }
        return Optional.empty();
    }

    /** The goal as a reader would say it, e.g. "≥ 1.05 × HAProxy". */
    String goalText() {
        if (goal == null) {
            return "";
        }
        String factor = goal.factor == 1.0 ? "" : String.format(Locale.ROOT, "%.2f × ", goal.factor);
        return (higherIsBetter ? "≥ " : "≤ ") + factor + goal.reference.display;
    }

    /** A value in this metric's unit, rounded for reading (3 significant digits for rates, none for bytes). */
    String format(double value) {
        if (Double.isNaN(value)) {
            return "–";
        }
        if (this == BULK1 || this == BULK4) {
            return String.format(Locale.ROOT, "%.2f", value);
        }
        return String.format(Locale.ROOT, "%,.0f", value);
    }
}
