package io.maglevlb.control.plane;

import io.maglevlb.control.announce.Announcer;
import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.health.HealthChecker;
import io.maglevlb.control.metrics.ControlMeters;
import io.maglevlb.control.metrics.DataplaneMeters;
import io.maglevlb.control.metrics.FlowTableReaders;
import io.maglevlb.control.metrics.MaglevMetrics;
import io.maglevlb.control.metrics.MeterGroup;
import io.maglevlb.control.metrics.MetricNames;
import io.maglevlb.control.metrics.TableInfo;
import io.maglevlb.control.metrics.TrafficReaders;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.VipStats;
import io.maglevlb.dataplane.packet.DropReason;
import io.maglevlb.dataplane.packet.DsrStats;
import io.maglevlb.dataplane.tcp.TcpVipStats;
import io.maglevlb.dataplane.udp.UdpDropReason;
import io.maglevlb.dataplane.udp.UdpVipStats;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The meters of one VIP and its backends, read at scrape time from the VIP's runtime (table, backend
 * state), its health watches, and its forwarder's counters ({@link VipForwarder#stats()}: a sum over the
 * forwarding threads' own fields that never touches the threads). Which meters a VIP has follows the type of
 * the stats record its forwarder returns ({@link TcpVipStats}, {@link UdpVipStats}, {@link DsrStats}), not the
 * forwarder's class.
 * Created and changed on the control thread; closed when the VIP goes away or gets a new forwarder (whose
 * counters start from zero).
 *
 * <p>Per-backend dataplane counters are indexed by backend id, and a freed id may go to a later backend:
 * each backend's series therefore start from the counter's value when the backend's meters were registered.
 */
final class VipMeters implements AutoCloseable {
    /** A scrape reads a dozen values of one VIP; they come from one sum over the threads, at most this old. */
    static final long STATS_MAX_AGE_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private static final String BACKEND_CONNECTIONS_HELP =
            "TCP connections established or UDP flows placed on the backend";
    private static final String BACKEND_ACTIVE_HELP = "TCP connections or UDP flows open to the backend now";

    private final MaglevMetrics metrics;
    private final VipRuntime vip;
    private final HealthChecker health;
    private final MeterGroup vipGroup;
    private final TableInfo tableInfo;
    private final Map<String, MeterGroup> backendGroups = new HashMap<>();
    private final Cached<TcpVipStats> tcp;
    private final Cached<DsrStats> dsr;
    private final Cached<UdpVipStats> udp;

    /** A value computed at most every {@link #STATS_MAX_AGE_NS}; null while there is none. Any thread. */
    static final class Cached<T> {
        private final Supplier<T> source;
        private T value;
        private long atNs;

        Cached(Supplier<T> source) {
            this.source = source;
        }

        synchronized T get() {
            long now = System.nanoTime();
            if (value == null || now - atNs > STATS_MAX_AGE_NS) {
                value = source.get();
                atNs = now;
            }
            return value;
        }

        double read(ToDoubleFunction<T> f) {
            T v = get();
            return v == null ? 0 : f.applyAsDouble(v);
        }
    }

    /** @param announcer the daemon's announcer; null when {@code announce} is not configured */
    VipMeters(MaglevMetrics metrics, VipRuntime vip, HealthChecker health, Announcer announcer) {
        this.metrics = metrics;
        this.vip = vip;
        this.health = health;
        this.vipGroup = metrics.vipGroup(vip.name());
        if (announcer != null) {
            String name = vip.name();
            vipGroup.gauge(MetricNames.VIP_ANNOUNCED, "1 while the VIP's route is in the announce table, else 0",
                    announcer, a -> a.announced(name) ? 1 : 0);
        }
        VipStats kind = vip.forwarder().map(VipForwarder::stats).orElse(null);
        this.tcp = statsOf(vip, kind, TcpVipStats.class);
        this.dsr = statsOf(vip, kind, DsrStats.class);
        this.udp = statsOf(vip, kind, UdpVipStats.class);
        if (tcp != null) {
            registerTcp(vipGroup, tcp);
        }
        if (dsr != null) {
            registerDsr(vipGroup, dsr);
        }
        if (udp != null) {
            registerUdp(vipGroup, udp);
        }
        ControlMeters.registerTable(vipGroup, vip::snapshot, vip, VipRuntime::rebuilds, VipRuntime::slotsMoved,
                VipRuntime::totalBuildNanos, VipRuntime::maxRecentBuildSeconds);
        this.tableInfo = new TableInfo(metrics, vip.name(), vip::snapshot);
        for (BackendState b : vip.backends()) {
            addBackend(b.name());
        }
    }

    /**
     * The VIP's forwarder's counters as a {@code type} record, read from whichever forwarder the VIP has at the
     * time (null without one); null when {@code sample}, the forwarder's counters now, are of another kind.
     */
    private static <T extends VipStats> Cached<T> statsOf(VipRuntime vip, VipStats sample, Class<T> type) {
        if (!type.isInstance(sample)) {
            return null;
        }
        return new Cached<>(() -> vip.forwarder().map(VipForwarder::stats).filter(type::isInstance).map(type::cast)
                .orElse(null));
    }

    static void registerTcp(MeterGroup g, Cached<TcpVipStats> s) {
        DataplaneMeters.registerTraffic(g, s, new TrafficReaders<Cached<TcpVipStats>>(
                c -> c.read(TcpVipStats::accepted),
                c -> c.read(TcpVipStats::active),
                c -> c.read(TcpVipStats::totalBytesToBackend),
                c -> c.read(TcpVipStats::totalBytesToClient),
                null, null,
                c -> c.read(TcpVipStats::totalConnectFailures),
                c -> c.read(TcpVipStats::totalRetries)));
        String refused = "Clients reset at once: no backend in the table, every backend tried failed to connect, "
                + "or no backend socket could be had here";
        g.functionCounter(MetricNames.CONNECTIONS_REFUSED, refused, s, c -> c.read(TcpVipStats::closedNoBackend),
                MetricNames.REASON, "no_backend");
        g.functionCounter(MetricNames.CONNECTIONS_REFUSED, refused, s, c -> c.read(TcpVipStats::connectGiveUps),
                MetricNames.REASON, "connect_failed");
        g.functionCounter(MetricNames.CONNECTIONS_REFUSED, refused, s, c -> c.read(TcpVipStats::closedLocalError),
                MetricNames.REASON, "local_error");
        for (LocalError reason : LocalError.values()) {
            g.functionCounter(MetricNames.LOCAL_ERRORS,
                    "System calls that failed for a reason of this host (never counted against a backend)", s,
                    c -> c.read(t -> t.localErrors(reason)), MetricNames.REASON, reason.metricName());
        }
    }

    static void registerDsr(MeterGroup g, Cached<DsrStats> s) {
        g.functionCounter(MetricNames.PACKETS, "Packets forwarded toward backends", s,
                c -> c.read(DsrStats::forwardedPackets));
        g.functionCounter(MetricNames.PACKETS_RECEIVED, "Frames the VIP's socket filter let through", s,
                c -> c.read(DsrStats::receivedFrames));
        g.functionCounter(MetricNames.BYTES, "Payload bytes relayed", s, c -> c.read(DsrStats::forwardedBytes),
                MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        for (DropReason reason : DropReason.values()) {
            g.functionCounter(MetricNames.PACKET_DROPS, "Packets not forwarded, by reason", s,
                    c -> c.read(d -> d.drops(reason)), MetricNames.REASON, reason.metricName());
        }
        g.gauge(MetricNames.BACKENDS_UNRESOLVED, "Backends whose next-hop Ethernet address is not known yet", s,
                c -> c.read(DsrStats::unresolvedBackends));
        for (String io : new String[] {"af_xdp", "af_packet"}) {
            g.gauge(MetricNames.DSR_IO, "1 for the kernel interface the VIP's DSR engine moves frames through "
                    + "(dsr.io), else 0", s, c -> c.read(d -> io.equals(d.io()) ? 1 : 0), MetricNames.IO, io);
        }
        Map<String, ToDoubleFunction<Cached<DsrStats>>> evictions = new LinkedHashMap<>();
        for (EvictionReason reason : EvictionReason.values()) {
            String label = reason.name().toLowerCase(Locale.ROOT);
            evictions.put(label, c -> c.read(d -> d.flows().evictionsByReason().getOrDefault(label, 0L)));
        }
        DataplaneMeters.registerFlowTable(g, s, new FlowTableReaders<Cached<DsrStats>>(
                c -> c.read(d -> d.flows().size()),
                c -> c.read(d -> d.flows().capacity()),
                c -> c.read(d -> d.flows().hits()),
                c -> c.read(d -> d.flows().misses()),
                evictions));
    }

    static void registerUdp(MeterGroup g, Cached<UdpVipStats> s) {
        DataplaneMeters.registerTraffic(g, s, new TrafficReaders<Cached<UdpVipStats>>(
                c -> c.read(UdpVipStats::flowsCreated),
                c -> c.read(UdpVipStats::flowsActive),
                c -> c.read(UdpVipStats::bytesToBackends),
                c -> c.read(UdpVipStats::bytesToClients),
                c -> c.read(UdpVipStats::datagramsToBackends),
                c -> c.read(UdpVipStats::datagramsToClients),
                null, null));
        for (UdpDropReason reason : UdpDropReason.values()) {
            g.functionCounter(MetricNames.DATAGRAMS_DROPPED, "Datagrams not forwarded, by reason", s,
                    c -> c.read(u -> u.dropped(reason)), MetricNames.REASON, reason.metricName());
        }
        g.functionCounter(MetricNames.DATAGRAMS_STATELESS,
                "Client datagrams forwarded without a tracked flow (flow table full or flood mode)", s,
                c -> c.read(UdpVipStats::statelessDatagrams));
        g.functionCounter(MetricNames.FLOWS_MOVED, "Tracked flows moved to another backend because theirs went away",
                s, c -> c.read(UdpVipStats::flowsMoved));
        g.functionCounter(MetricNames.BACKENDS_UNREACHABLE, "ICMP unreachable errors reported on backend sockets", s,
                c -> c.read(UdpVipStats::backendUnreachable));
        g.functionCounter(MetricNames.SESSION_OPEN_FAILURES, "Backend sockets that could not be opened", s,
                c -> c.read(UdpVipStats::sessionOpenFailures));
        g.functionCounter(MetricNames.VIP_SOCKET_ERRORS, "Errors reported on a VIP socket itself (it stays open)", s,
                c -> c.read(UdpVipStats::vipSocketErrors));
        // -1 when the transport cannot read the kernel's count: a counter cannot be negative, so 0.
        g.functionCounter(MetricNames.DATAGRAMS_KERNEL_DROPPED,
                "Datagrams the kernel dropped because a VIP socket's receive buffer was full", s,
                c -> c.read(u -> Math.max(0, u.kernelReceiveDrops())));
        Map<String, ToDoubleFunction<Cached<UdpVipStats>>> evictions = new LinkedHashMap<>();
        for (EvictionReason reason : EvictionReason.values()) {
            evictions.put(reason.name().toLowerCase(Locale.ROOT), c -> c.read(u -> u.flowTable().evictions(reason)));
        }
        DataplaneMeters.registerFlowTable(g, s, new FlowTableReaders<Cached<UdpVipStats>>(
                c -> c.read(u -> u.flowTable().size()),
                c -> c.read(u -> u.flowTable().capacity()),
                c -> c.read(u -> u.flowTable().hits()),
                c -> c.read(u -> u.flowTable().misses()),
                evictions));
    }

    /** Registers the meters of a backend (new, or every backend at creation). */
    void addBackend(String backend) {
        removeBackend(backend);
        MeterGroup g = metrics.backendGroup(vip.name(), backend);
        ControlMeters.registerBackend(g, () -> vip.backend(backend).orElse(null), vip::snapshot,
                () -> health.health(vip.name(), backend).orElse(null));
        int id = vip.backend(backend).map(BackendState::id).orElse(0);
        if (tcp != null) {
            registerTcpBackend(g, tcp, id);
        }
        if (dsr != null) {
            registerDsrBackend(g, dsr, id);
        }
        if (udp != null) {
            registerUdpBackend(g, udp, id);
        }
        backendGroups.put(backend, g);
    }

    static void registerTcpBackend(MeterGroup g, Cached<TcpVipStats> s, int id) {
        perBackend(g, s, MetricNames.BACKEND_CONNECTIONS, BACKEND_CONNECTIONS_HELP,
                t -> t.connections(id), false);
        perBackend(g, s, MetricNames.BACKEND_CONNECTIONS_ACTIVE, BACKEND_ACTIVE_HELP,
                t -> t.activeConnections(id), true);
        perBackend(g, s, MetricNames.BACKEND_CONNECT_FAILURES, "Connects to the backend that failed",
                t -> t.connectFailures(id), false);
        perBackend(g, s, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                t -> t.bytesToBackend(id), false, MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        perBackend(g, s, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                t -> t.bytesToClient(id), false, MetricNames.DIRECTION, MetricNames.BACKEND_TO_CLIENT);
    }

    static void registerDsrBackend(MeterGroup g, Cached<DsrStats> s, int id) {
        perBackend(g, s, MetricNames.BACKEND_PACKETS, "Packets forwarded to the backend",
                d -> d.backendPackets(id), false);
        perBackend(g, s, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend", d -> {
            DsrStats.BackendTraffic t = d.backends().get(id);
            return t == null ? 0 : t.bytes();
        }, false, MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
    }

    static void registerUdpBackend(MeterGroup g, Cached<UdpVipStats> s, int id) {
        perBackend(g, s, MetricNames.BACKEND_CONNECTIONS, BACKEND_CONNECTIONS_HELP,
                u -> u.backend(id).flowsCreated(), false);
        perBackend(g, s, MetricNames.BACKEND_CONNECTIONS_ACTIVE, BACKEND_ACTIVE_HELP,
                u -> u.backend(id).flowsActive(), true);
        perBackend(g, s, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                u -> u.backend(id).bytesToBackend(), false, MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        perBackend(g, s, MetricNames.BACKEND_BYTES, "Payload bytes relayed to and from the backend",
                u -> u.backend(id).bytesFromBackend(), false, MetricNames.DIRECTION, MetricNames.BACKEND_TO_CLIENT);
        perBackend(g, s, MetricNames.BACKEND_DATAGRAMS, "UDP datagrams relayed to and from the backend",
                u -> u.backend(id).datagramsToBackend(), false, MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        perBackend(g, s, MetricNames.BACKEND_DATAGRAMS, "UDP datagrams relayed to and from the backend",
                u -> u.backend(id).datagramsFromBackend(), false, MetricNames.DIRECTION,
                MetricNames.BACKEND_TO_CLIENT);
        perBackend(g, s, MetricNames.BACKEND_UNREACHABLE, "ICMP unreachable errors reported for the backend",
                u -> u.backend(id).unreachable(), false);
    }

    /** A per-backend dataplane meter, counting from its value now (see the class comment). */
    private static <T> void perBackend(MeterGroup g, Cached<T> s, String name, String description,
            ToLongFunction<T> value, boolean gauge, String... tags) {
        T now = s.get();
        long baseline = gauge || now == null ? 0 : value.applyAsLong(now);
        ToDoubleFunction<Cached<T>> read = c -> {
            T current = c.get();
            return current == null ? 0 : Math.max(0, value.applyAsLong(current) - baseline);
        };
        if (gauge) {
            g.gauge(name, description, s, read, tags);
        } else {
            g.functionCounter(name, description, s, read, tags);
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
        tableInfo.close();
        vipGroup.close();
    }
}
