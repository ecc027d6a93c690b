package io.maglevlb.control.plane;

import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.health.BackendHealth;
import io.maglevlb.control.health.HealthChecker;
import io.maglevlb.control.metrics.ControlMeters;
import io.maglevlb.control.metrics.DataplaneMeters;
import io.maglevlb.control.metrics.MaglevMetrics;
import io.maglevlb.control.metrics.MeterGroup;
import io.maglevlb.control.metrics.MetricNames;
import io.maglevlb.control.metrics.TrafficReaders;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.dataplane.tcp.TcpProxyVip;
import io.maglevlb.dataplane.tcp.TcpVipStats;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

/**
 * The meters of one VIP and its backends, read at scrape time from the VIP's runtime (table, backend
 * state), its health watches, and its forwarder's counters ({@link TcpProxyVip#stats()}, summed over the
 * forwarding loops without touching them). Created and changed on the control thread; closed when the VIP
 * goes away or gets a new forwarder (whose counters start from zero).
 *
 * <p>Per-backend dataplane counters are indexed by backend id, and a freed id may go to a later backend:
 * each backend's series therefore start from the counter's value when the backend's meters were registered.
 */
final class VipMeters implements AutoCloseable {
    /** A scrape reads a dozen values of one VIP; they come from one sum over the loops, at most this old. */
    private static final long STATS_MAX_AGE_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final MaglevMetrics metrics;
    private final VipRuntime vip;
    private final HealthChecker health;
    private final MeterGroup vipGroup;
    private final Map<String, MeterGroup> backendGroups = new HashMap<>();
    private final Stats stats;

    /** The forwarder's counters, summed at most every {@link #STATS_MAX_AGE_NS}. Any thread. */
    static final class Stats {
        private final VipRuntime vip;
        private TcpVipStats cached;
        private TcpProxyVip cachedFrom;
        private long cachedAtNs;

        Stats(VipRuntime vip) {
            this.vip = vip;
        }

        synchronized TcpVipStats get() {
            TcpProxyVip proxy = vip.tcpProxy().orElse(null);
            if (proxy == null) {
                return null;
            }
            long now = System.nanoTime();
            if (cached == null || cachedFrom != proxy || now - cachedAtNs > STATS_MAX_AGE_NS) {
                cached = proxy.stats();
                cachedFrom = proxy;
                cachedAtNs = now;
            }
            return cached;
        }

        double read(ToLongFunction<TcpVipStats> f) {
            TcpVipStats s = get();
            return s == null ? 0 : f.applyAsLong(s);
        }
    }

    VipMeters(MaglevMetrics metrics, VipRuntime vip, HealthChecker health) {
        this.metrics = metrics;
        this.vip = vip;
        this.health = health;
        this.stats = new Stats(vip);
        this.vipGroup = metrics.vipGroup(vip.name());
        if (vip.tcpProxy().isPresent()) {
            DataplaneMeters.registerTraffic(vipGroup, stats, new TrafficReaders<Stats>(
                    s -> s.read(TcpVipStats::accepted),
                    s -> s.read(TcpVipStats::active),
                    s -> s.read(TcpVipStats::totalBytesToBackend),
                    s -> s.read(TcpVipStats::totalBytesToClient),
                    null, null,
                    s -> s.read(TcpVipStats::totalConnectFailures),
                    s -> s.read(TcpVipStats::totalRetries)));
            vipGroup.functionCounter(MetricNames.CONNECTIONS_REFUSED, "Clients refused: no backend in the table, "
                    + "or every backend tried failed to connect", stats, s -> s.read(TcpVipStats::closedNoBackend),
                    MetricNames.REASON, "no_backend");
            vipGroup.functionCounter(MetricNames.CONNECTIONS_REFUSED, "Clients refused: no backend in the table, "
                    + "or every backend tried failed to connect", stats, s -> s.read(TcpVipStats::connectGiveUps),
                    MetricNames.REASON, "connect_failed");
        }
        ControlMeters.registerTable(vipGroup, vip::snapshot, vip, VipRuntime::rebuilds, VipRuntime::totalBuildNanos);
        for (BackendState b : vip.backends()) {
            addBackend(b.name());
        }
    }

    /** Registers the meters of a backend (new, or every backend at creation). */
    void addBackend(String backend) {
        MeterGroup old = backendGroups.remove(backend);
        if (old != null) {
            old.close();
        }
        MeterGroup g = metrics.backendGroup(vip.name(), backend);
        ControlMeters.registerBackend(g, () -> vip.backend(backend).orElse(null), vip::snapshot,
                () -> health.health(vip.name(), backend).orElse(null));
        if (vip.tcpProxy().isPresent()) {
            perBackend(g, backend, MetricNames.BACKEND_CONNECTIONS, "Connections established to the backend",
                    TcpVipStats::connections, false);
            perBackend(g, backend, MetricNames.BACKEND_CONNECTIONS_ACTIVE, "Connections open to the backend now",
                    TcpVipStats::activeConnections, true);
            perBackend(g, backend, MetricNames.BACKEND_CONNECT_FAILURES, "Connects to the backend that failed",
                    TcpVipStats::connectFailures, false);
            perBackend(g, backend, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                    TcpVipStats::bytesToBackend, false, MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
            perBackend(g, backend, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                    TcpVipStats::bytesToClient, false, MetricNames.DIRECTION, MetricNames.BACKEND_TO_CLIENT);
        }
        backendGroups.put(backend, g);
    }

    @FunctionalInterface
    private interface ById {
        long value(TcpVipStats stats, int id);
    }

    /** A per-backend dataplane meter, counting from its value now (see the class comment). */
    private void perBackend(MeterGroup g, String backend, String name, String description, ById byId,
            boolean gauge, String... tags) {
        int id = vip.backend(backend).map(BackendState::id).orElse(0);
        TcpVipStats now = stats.get();
        long baseline = gauge || now == null ? 0 : byId.value(now, id);
        java.util.function.ToDoubleFunction<Stats> read = s -> {
            TcpVipStats current = s.get();
            return current == null ? 0 : Math.max(0, byId.value(current, id) - baseline);
        };
        if (gauge) {
            g.gauge(name, description, stats, read, tags);
        } else {
            g.functionCounter(name, description, stats, read, tags);
        }
    }

    void removeBackend(String backend) {
        MeterGroup g = backendGroups.remove(backend);
        if (g != null) {
            g.close();
        }
    }

    @Override
    public void close() {
        backendGroups.values().forEach(MeterGroup::close);
        backendGroups.clear();
        vipGroup.close();
    }
}
