package io.maglevlb.control.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MaglevMetricsTest {
    private final MaglevMetrics metrics = new MaglevMetrics();

    @AfterEach
    void close() {
        metrics.close();
    }

    /** Stands in for the dataplane's per-loop counters summed at scrape time. */
    static final class Counters {
        long connections;
        long active;
        long bytesIn;
        long bytesOut;
        long failures;
        long retries;
        long flows;
        long hits;
        long misses;
        long idleEvictions;
    }

    private static TrafficReaders<Counters> tcpReaders() {
        return new TrafficReaders<>(c -> c.connections, c -> c.active, c -> c.bytesIn, c -> c.bytesOut, null, null,
                c -> c.failures, c -> c.retries);
    }

    @Test
    void scrapeIsPrometheusTextWithJvmAndProcessMetrics() {
        PrometheusText text = PrometheusText.parse(metrics.scrape());
        for (String name : List.of("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_uptime_seconds",
                "process_cpu_usage", "system_cpu_count", "process_files_open_files", "jvm_classes_loaded_classes",
                "maglev_reloads_total")) {
            assertFalse(text.samples(name).isEmpty(), name);
        }
        assertEquals(0, text.value("maglev_reloads_total", "result", "ok"));
        assertEquals("text/plain; version=0.0.4; charset=utf-8", MaglevMetrics.CONTENT_TYPE);
    }

    @Test
    void dataplaneCountersAreReadAtScrapeTimeUnderPrometheusNames() {
        Counters c = new Counters();
        MeterGroup vip = metrics.vipGroup("web");
        DataplaneMeters.registerTraffic(vip, c, tcpReaders());
        DataplaneMeters.registerFlowTable(vip, c, new FlowTableReaders<Counters>(f -> f.flows, f -> 1024, f -> f.hits,
                f -> f.misses, Map.of("idle", f -> f.idleEvictions)));
        c.connections = 7;
        c.active = 3;
        c.bytesIn = 1000;
        c.bytesOut = 5000;
        c.failures = 1;
        c.retries = 2;
        c.flows = 3;
        c.hits = 11;
        c.misses = 7;
        c.idleEvictions = 4;
        PrometheusText text = PrometheusText.parse(metrics.scrape());
        assertEquals(7, text.value("maglev_connections_total", "vip", "web"));
        assertEquals("counter", text.types().get("maglev_connections_total") == null
                ? text.types().get("maglev_connections") : text.types().get("maglev_connections_total"));
        assertEquals(3, text.value("maglev_connections_active", "vip", "web"));
        assertEquals(1000, text.value("maglev_bytes_total", "vip", "web", "direction", "client_to_backend"));
        assertEquals(5000, text.value("maglev_bytes_total", "vip", "web", "direction", "backend_to_client"));
        assertEquals(1, text.value("maglev_connect_failures_total", "vip", "web"));
        assertEquals(2, text.value("maglev_connect_retries_total", "vip", "web"));
        assertEquals(3, text.value("maglev_flow_table_size", "vip", "web"));
        assertEquals(1024, text.value("maglev_flow_table_capacity", "vip", "web"));
        assertEquals(11, text.value("maglev_flow_table_hits_total", "vip", "web"));
        assertEquals(7, text.value("maglev_flow_table_misses_total", "vip", "web"));
        assertEquals(4, text.value("maglev_flow_table_evictions_total", "vip", "web", "reason", "idle"));
        assertTrue(text.samples("maglev_datagrams_total").isEmpty(), "no datagram meter on a TCP VIP");

        c.connections = 8;
        assertEquals(8, PrometheusText.parse(metrics.scrape()).value("maglev_connections_total", "vip", "web"));
    }

    @Test
    void closingAGroupRemovesItsMetersAndAFreshGroupReadsTheNewSource() {
        Counters old = new Counters();
        old.connections = 5;
        MeterGroup vip = metrics.vipGroup("web");
        DataplaneMeters.registerTraffic(vip, old, tcpReaders());
        MeterGroup other = metrics.vipGroup("api");
        DataplaneMeters.registerTraffic(other, new Counters(), tcpReaders());
        vip.close();
        PrometheusText text = PrometheusText.parse(metrics.scrape());
        assertTrue(text.find("maglev_connections_total", "vip", "web").isEmpty());
        assertTrue(text.find("maglev_connections_total", "vip", "api").isPresent());
        assertThrows(IllegalStateException.class, () -> vip.counter("x", "y"));

        Counters fresh = new Counters();
        fresh.connections = 1;
        DataplaneMeters.registerTraffic(metrics.vipGroup("web"), fresh, tcpReaders());
        assertEquals(1, PrometheusText.parse(metrics.scrape()).value("maglev_connections_total", "vip", "web"));
    }

    @Test
    void tableAndBackendMetersFollowTheCurrentSnapshot() {
        InetSocketAddress addr = new InetSocketAddress("127.0.0.1", 1);
        BackendState a = new BackendState(1, "a", addr, 1, false, true);
        BackendState b = new BackendState(2, "b", addr, 2, false, true);
        AtomicReference<ForwardingSnapshot> current =
                new AtomicReference<>(ForwardingSnapshot.build("web", 1, 101, List.of(a, b)));
        // tables built, total build time in ns, longest recent in ns, slots moved
        long[] builds = {1, 2_000_000, 2_000_000, 101};
        ControlMeters.registerTable(metrics.vipGroup("web"), current::get, builds, x -> x[0], x -> x[3], x -> x[1],
                x -> x[2] / 1e9);
        AtomicReference<BackendState> stateA = new AtomicReference<>(a);
        ControlMeters.registerBackend(metrics.backendGroup("web", "a"), stateA::get, current::get, () -> null);

        PrometheusText text = PrometheusText.parse(metrics.scrape());
        ForwardingSnapshot snap = current.get();
        int slotsA = snap.slotCount(1);
        int slotsB = snap.slotCount(2);
        assertEquals(101, slotsA + slotsB);
        assertEquals(Math.min(slotsA, slotsB), text.value("maglev_table_slots_min", "vip", "web"));
        assertEquals(Math.max(slotsA, slotsB), text.value("maglev_table_slots_max", "vip", "web"));
        assertEquals(1, text.value("maglev_table_rebuilds_total", "vip", "web"));
        assertEquals(101, text.value("maglev_table_slots_moved_total", "vip", "web"));
        assertEquals(1, text.value("maglev_table_build_duration_seconds_count", "vip", "web"));
        assertEquals(0.002, text.value("maglev_table_build_duration_seconds_sum", "vip", "web"), 1e-9);
        assertEquals(0.002, text.value("maglev_table_build_duration_seconds_max", "vip", "web"), 1e-9);
        assertEquals(1, text.value("maglev_backend_up", "vip", "web", "backend", "a"));
        assertEquals(0, text.value("maglev_backend_drained", "vip", "web", "backend", "a"));
        assertEquals(slotsA, text.value("maglev_backend_slots", "vip", "web", "backend", "a"));
        assertEquals(0, text.value("maglev_health_checks_total", "vip", "web", "backend", "a", "result", "success"));

        // a goes down: the meters read the new snapshot, no re-registration.
        BackendState aDown = a.withHealthy(false);
        stateA.set(aDown);
        current.set(ForwardingSnapshot.build("web", 2, 101, List.of(aDown, b)));
        builds[0] = 2;
        builds[1] = 3_000_000;
        text = PrometheusText.parse(metrics.scrape());
        assertEquals(0, text.value("maglev_backend_up", "vip", "web", "backend", "a"));
        assertEquals(0, text.value("maglev_backend_slots", "vip", "web", "backend", "a"));
        assertEquals(101, text.value("maglev_table_slots_max", "vip", "web"));
        assertEquals(101, text.value("maglev_table_slots_min", "vip", "web"));
        assertEquals(2, text.value("maglev_table_rebuilds_total", "vip", "web"));
        assertEquals(0.003, text.value("maglev_table_build_duration_seconds_sum", "vip", "web"), 1e-9);
    }

    @Test
    void reloadsAreCountedByResult() {
        metrics.countReload(true);
        metrics.countReload(false);
        metrics.countReload(false);
        PrometheusText text = PrometheusText.parse(metrics.scrape());
        assertEquals(1, text.value("maglev_reloads_total", "result", "ok"));
        assertEquals(2, text.value("maglev_reloads_total", "result", "error"));
    }

    @Test
    void parserRejectsMalformedLines() {
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("foo{a=\"b} 1\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("foo 1 2 3\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# what\n"));
        assertEquals(1, PrometheusText.parse("foo{a=\"b\\\"c\"} 1.5e3\n").samples().size());
    }

    /**
     * Issue 15, defect 4: {@code process_files_open_files} read NaN exactly when the process was out of
     * descriptors (the JDK opens /proc/self/fd for every count). A JVM under {@code prlimit --nofile=128} opens
     * files until EMFILE and scrapes: the gauge must read the limit, not NaN.
     */
    @Test
    void openFilesReadsTheCountWhenTheProcessIsOutOfDescriptors() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "skipped: prlimit (util-linux) not installed");
        Process p = new ProcessBuilder("/usr/bin/prlimit", "--nofile=128:128", "--",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                OpenFilesAtLimit.class.getName()).redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM ended");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("exhausted=true open=128.0 max=128.0"),
                "at the limit every descriptor is open: " + out);
    }
}
