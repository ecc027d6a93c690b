package io.maglevlb.control.plane;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.control.metrics.MaglevMetrics;
import io.maglevlb.control.metrics.MeterGroup;
import io.maglevlb.control.metrics.PrometheusText;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.conntrack.FlowTableStats;
import io.maglevlb.dataplane.packet.DropReason;
import io.maglevlb.dataplane.packet.DsrStats;
import io.maglevlb.dataplane.tcp.TcpVipStats;
import io.maglevlb.dataplane.udp.UdpBackendStats;
import io.maglevlb.dataplane.udp.UdpDropReason;
import io.maglevlb.dataplane.udp.UdpVipStats;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The dataplane meters of a VIP, fed with counter snapshots as the forwarders produce them. */
class VipMetersTest {
    private final MaglevMetrics metrics = new MaglevMetrics();

    @AfterEach
    void close() {
        metrics.close();
    }

    private PrometheusText scrape() throws InterruptedException {
        Thread.sleep(VipMeters.STATS_MAX_AGE_NS / 1_000_000 + 20); // past the per-scrape cache
        return PrometheusText.parse(metrics.scrape());
    }

    private static TcpVipStats tcp(long accepted, long connectionsOfId2) {
        return new TcpVipStats(accepted, 1, 2, 3, 6, new long[] {7, 0, 0},
                new long[] {0, 0, connectionsOfId2}, new long[] {0, 0, 1},
                new long[] {0, 0, 100}, new long[] {0, 0, 200}, new long[] {0, 0, 4}, new long[] {0, 0, 5});
    }

    @Test
    void tcpVipAndBackendMeters() throws Exception {
        AtomicReference<TcpVipStats> current = new AtomicReference<>(tcp(10, 7));
        VipMeters.Cached<TcpVipStats> cached = new VipMeters.Cached<>(current::get);
        VipMeters.registerTcp(metrics.vipGroup("web"), cached);
        MeterGroup backend = metrics.backendGroup("web", "b");
        VipMeters.registerTcpBackend(backend, cached, 2);

        current.set(tcp(15, 9));
        PrometheusText t = scrape();
        assertEquals(15, t.value("maglev_connections_total", "vip", "web"));
        assertEquals(1, t.value("maglev_connections_active", "vip", "web"));
        assertEquals(2, t.value("maglev_connections_refused_total", "vip", "web", "reason", "no_backend"));
        assertEquals(3, t.value("maglev_connections_refused_total", "vip", "web", "reason", "connect_failed"));
        assertEquals(6, t.value("maglev_connections_refused_total", "vip", "web", "reason", "local_error"));
        assertEquals(7, t.value("maglev_local_errors_total", "vip", "web", "reason", "fd_limit"));
        assertEquals(0, t.value("maglev_local_errors_total", "vip", "web", "reason", "ephemeral_ports"));
        assertEquals(0, t.value("maglev_local_errors_total", "vip", "web", "reason", "buffers"));
        assertEquals(100, t.value("maglev_bytes_total", "vip", "web", "direction", "client_to_backend"));
        assertEquals(4, t.value("maglev_connect_failures_total", "vip", "web"));
        assertEquals(5, t.value("maglev_connect_retries_total", "vip", "web"));
        // Per backend: counted from registration (7), so a reused id does not inherit its predecessor's count.
        assertEquals(2, t.value("maglev_backend_connections_total", "vip", "web", "backend", "b"));
        assertEquals(1, t.value("maglev_backend_connections_active", "vip", "web", "backend", "b"));
    }

    private static DsrStats dsr(long forwarded, long backendPackets) {
        Map<DropReason, Long> drops = new EnumMap<>(DropReason.class);
        for (DropReason r : DropReason.values()) {
            drops.put(r, 0L);
        }
        drops.put(DropReason.NO_BACKEND, 6L);
        DsrStats.FlowStats flows = new DsrStats.FlowStats(11, 12, 13, 14, 15, Map.of("idle", 9L, "capacity", 6L), 0, 0, 2048);
        return new DsrStats("video", forwarded + 1, forwarded, forwarded * 100, 0, 0, 0, drops,
                Map.of(1, new DsrStats.BackendTraffic(backendPackets, backendPackets * 100)), flows, 2, 1, "af_xdp");
    }

    @Test
    void dsrVipAndBackendMeters() throws Exception {
        AtomicReference<DsrStats> current = new AtomicReference<>(dsr(50, 20));
        VipMeters.Cached<DsrStats> cached = new VipMeters.Cached<>(current::get);
        VipMeters.registerDsr(metrics.vipGroup("video"), cached);
        VipMeters.registerDsrBackend(metrics.backendGroup("video", "v1"), cached, 1);
        current.set(dsr(80, 30));
        PrometheusText t = scrape();
        assertEquals(80, t.value("maglev_packets_total", "vip", "video"));
        assertEquals(81, t.value("maglev_packets_received_total", "vip", "video"));
        assertEquals(8000, t.value("maglev_bytes_total", "vip", "video", "direction", "client_to_backend"));
        assertEquals(6, t.value("maglev_packet_drops_total", "vip", "video", "reason", "no_backend"));
        assertEquals(0, t.value("maglev_packet_drops_total", "vip", "video", "reason", "ring_full"));
        assertEquals(1, t.value("maglev_backends_unresolved", "vip", "video"));
        assertEquals(1, t.value("maglev_dsr_io", "vip", "video", "io", "af_xdp"));
        assertEquals(0, t.value("maglev_dsr_io", "vip", "video", "io", "af_packet"));
        assertEquals(11, t.value("maglev_flow_table_size", "vip", "video"));
        assertEquals(2048, t.value("maglev_flow_table_capacity", "vip", "video"));
        assertEquals(12, t.value("maglev_flow_table_hits_total", "vip", "video"));
        assertEquals(13, t.value("maglev_flow_table_misses_total", "vip", "video"));
        assertEquals(9, t.value("maglev_flow_table_evictions_total", "vip", "video", "reason", "idle"));
        assertEquals(0, t.value("maglev_flow_table_evictions_total", "vip", "video", "reason", "backend_gone"));
        assertEquals(10, t.value("maglev_backend_packets_total", "vip", "video", "backend", "v1"));
        assertEquals(1000, t.value("maglev_backend_bytes_total", "vip", "video", "backend", "v1", "direction",
                "client_to_backend"));
    }

    private static UdpVipStats udp(long datagrams, long backendDatagrams) {
        UdpBackendStats b = new UdpBackendStats(1, "u1", backendDatagrams, backendDatagrams * 10,
                backendDatagrams - 1, (backendDatagrams - 1) * 20, 4, 2, 3);
        return new UdpVipStats("dns", datagrams + 2, datagrams * 10 + 5, datagrams, datagrams * 10,
                datagrams - 1, (datagrams - 1) * 20, datagrams - 2, (datagrams - 2) * 20, 7, 40, 1,
                Map.of(EvictionReason.IDLE, 30L), 6, Map.of(UdpDropReason.EMPTY, 2L), 3, 0, 0, -1, List.of(b),
                new FlowTableStats(7, 4096, 100, 40, Map.of(EvictionReason.IDLE, 31L)));
    }

    @Test
    void udpVipAndBackendMeters() throws Exception {
        AtomicReference<UdpVipStats> current = new AtomicReference<>(udp(50, 20));
        VipMeters.Cached<UdpVipStats> cached = new VipMeters.Cached<>(current::get);
        VipMeters.registerUdp(metrics.vipGroup("dns"), cached);
        VipMeters.registerUdpBackend(metrics.backendGroup("dns", "u1"), cached, 1);
        current.set(udp(80, 30));
        PrometheusText t = scrape();
        assertEquals(80, t.value("maglev_datagrams_total", "vip", "dns", "direction", "client_to_backend"));
        assertEquals(78, t.value("maglev_datagrams_total", "vip", "dns", "direction", "backend_to_client"));
        assertEquals(800, t.value("maglev_bytes_total", "vip", "dns", "direction", "client_to_backend"));
        assertEquals(78 * 20, t.value("maglev_bytes_total", "vip", "dns", "direction", "backend_to_client"));
        assertEquals(40, t.value("maglev_connections_total", "vip", "dns"));
        assertEquals(7, t.value("maglev_connections_active", "vip", "dns"));
        assertEquals(2, t.value("maglev_datagrams_dropped_total", "vip", "dns", "reason", "empty"));
        assertEquals(0, t.value("maglev_datagrams_dropped_total", "vip", "dns", "reason", "no_backend"));
        assertEquals(6, t.value("maglev_datagrams_stateless_total", "vip", "dns"));
        assertEquals(1, t.value("maglev_flows_moved_total", "vip", "dns"));
        assertEquals(3, t.value("maglev_backends_unreachable_total", "vip", "dns"));
        assertEquals(0, t.value("maglev_datagrams_kernel_dropped_total", "vip", "dns"), "-1 (unknown) reads 0");
        assertEquals(0, t.value("maglev_session_open_failures_total", "vip", "dns"));
        assertEquals(7, t.value("maglev_flow_table_size", "vip", "dns"));
        assertEquals(4096, t.value("maglev_flow_table_capacity", "vip", "dns"));
        assertEquals(100, t.value("maglev_flow_table_hits_total", "vip", "dns"));
        assertEquals(40, t.value("maglev_flow_table_misses_total", "vip", "dns"));
        assertEquals(31, t.value("maglev_flow_table_evictions_total", "vip", "dns", "reason", "idle"));
        assertEquals(0, t.value("maglev_flow_table_evictions_total", "vip", "dns", "reason", "backend_gone"));
        // Per backend counters count from registration (20 datagrams then), gauges are read as they are.
        String[] b = {"vip", "dns", "backend", "u1"};
        assertEquals(10, t.value("maglev_backend_datagrams_total", "vip", "dns", "backend", "u1", "direction",
                "client_to_backend"));
        assertEquals(10, t.value("maglev_backend_datagrams_total", "vip", "dns", "backend", "u1", "direction",
                "backend_to_client"));
        assertEquals(100, t.value("maglev_backend_bytes_total", "vip", "dns", "backend", "u1", "direction",
                "client_to_backend"));
        assertEquals(200, t.value("maglev_backend_bytes_total", "vip", "dns", "backend", "u1", "direction",
                "backend_to_client"));
        assertEquals(0, t.value("maglev_backend_connections_total", b));
        assertEquals(2, t.value("maglev_backend_connections_active", b));
        assertEquals(0, t.value("maglev_backend_unreachable_total", b));
    }

    @Test
    void beforeTheForwarderHasStatsEverythingReadsZero() throws Exception {
        VipMeters.Cached<DsrStats> cached = new VipMeters.Cached<>(() -> null);
        VipMeters.registerDsr(metrics.vipGroup("video"), cached);
        VipMeters.registerDsrBackend(metrics.backendGroup("video", "v1"), cached, 1);
        PrometheusText t = scrape();
        assertEquals(0, t.value("maglev_packets_total", "vip", "video"));
        assertEquals(0, t.value("maglev_backend_packets_total", "vip", "video", "backend", "v1"));
    }
}
