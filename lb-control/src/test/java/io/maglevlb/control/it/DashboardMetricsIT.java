package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.control.metrics.PrometheusText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every metric the shipped Grafana dashboard (config/grafana/maglevd.json) and alert rules
 * (config/prometheus/maglevd-alerts.yml) query is exported by a running daemon: names are taken from each PromQL
 * expression and looked up among the sample names of real scrapes (so counters are matched with their
 * {@code _total}, timers with their {@code _sum}/{@code _count}/{@code _max}).
 *
 * <p>The scrapes: the real daemon in this JVM with a TCP and a UDP VIP; and, when run as root, a maglevd
 * process in a fresh network namespace ({@code mlb-<pid>-dash}) with a DSR VIP and {@code announce}, for the
 * series only those have. Without root those few names are reported as not checked.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class DashboardMetricsIT {
    /** Series only a DSR VIP or announce exports. */
    private static final Set<String> NEED_DSR_OR_ANNOUNCE = Set.of("maglev_packets_total",
            "maglev_packets_received_total", "maglev_packet_drops_total", "maglev_backends_unresolved",
            "maglev_backend_packets_total", "maglev_vip_announced");

    @TempDir
    Path dir;

    @Test
    void everyMetricTheDashboardAndTheAlertsUseIsExported() throws Exception {
        Map<String, String> exprs = new LinkedHashMap<>(ShippedMonitoring.dashboardExpressions());
        exprs.putAll(ShippedMonitoring.ruleExpressions());
        Map<String, Set<String>> usedBy = new TreeMap<>();
        exprs.forEach((where, expr) -> {
            Set<String> names = PromQl.metricNames(expr);
            assertTrue(!names.isEmpty(), where + " reads no metric: " + expr);
            names.forEach(n -> usedBy.computeIfAbsent(n, k -> new TreeSet<>()).add(where));
        });
        assertTrue(usedBy.keySet().containsAll(List.of("maglev_table_info", "maglev_backend_up",
                "maglev_flow_table_capacity", "maglev_table_slots_moved_total", "process_files_open_files",
                "jvm_gc_pause_seconds_sum")), "the parser found the names: " + usedBy.keySet());

        Set<String> exported = new TreeSet<>(scrapeTcpAndUdp());
        boolean root = "root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/net/tun"));
        if (root) {
            exported.addAll(scrapeDsrWithAnnounce());
        }
        Map<String, Set<String>> missing = new TreeMap<>(usedBy);
        missing.keySet().removeAll(exported);
        if (!root) {
            Set<String> notChecked = new TreeSet<>(missing.keySet());
            notChecked.retainAll(NEED_DSR_OR_ANNOUNCE);
            missing.keySet().removeAll(NEED_DSR_OR_ANNOUNCE);
            System.out.println("DashboardMetricsIT: not root (or no /dev/net/tun): " + notChecked
                    + " NOT checked (only a DSR VIP or announce exports them)");
        }
        StringBuilder report = new StringBuilder();
        missing.forEach((name, where) -> report.append("\n  ").append(name).append(" used by ").append(where));
        assertTrue(missing.isEmpty(), "not exported by maglevd:" + report);
        System.out.printf("DashboardMetricsIT: %d expressions, %d metric names, all exported%s%n", exprs.size(),
                usedBy.size(), root ? " (DSR and announce included)" : "");
    }

    /** Sample names of the in-process daemon with a TCP and a UDP VIP, after a garbage collection. */
    private Set<String> scrapeTcpAndUdp() throws Exception {
        int admin = freePort();
        String yaml = config(admin, """
                  - name: web
                    listen: 127.0.0.1:%d
                    health_check:
                      type: tcp
                      interval: 200ms
                      timeout: 200ms
                    backends:
                      - name: web-1
                        address: 127.0.0.1:%d
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    health_check:
                      type: none
                    backends:
                      - name: dns-1
                        address: 127.0.0.1:%d
                """.formatted(freePort(), freePort(), UdpPorts.freeBelowEphemeralRange(),
                UdpPorts.freeBelowEphemeralRange()));
        try (InProcessDaemon d = InProcessDaemon.start(dir, yaml)) {
            // the GC pause timer appears with the first collection; health check timers with the first check
            Set<String>[] names = new Set[1];
            await(() -> {
                System.gc();
                names[0] = sampleNames(get(d));
                return names[0].contains("jvm_gc_pause_seconds_sum")
                        && names[0].contains("maglev_health_check_duration_seconds_sum");
            }, Duration.ofSeconds(30), "GC pause and health check series");
            return names[0];
        }
    }

    private static String get(InProcessDaemon d) {
        try {
            var r = d.get("/metrics");
            assertEquals(200, r.statusCode(), r.body());
            return r.body();
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static Set<String> sampleNames(String body) {
        Set<String> names = new TreeSet<>();
        PrometheusText.parse(body).samples().forEach(s -> names.add(s.name()));
        return names;
    }

    /**
     * Sample names of a maglevd process in its own namespace with a DSR VIP (on one end of a veth pair) and
     * announce.
     */
    private Set<String> scrapeDsrWithAnnounce() throws Exception {
        String ns = "mlb-" + ProcessHandle.current().pid() + "-dash";
        run("ip", "netns", "add", ns);
        DaemonProcess daemon = null;
        try {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
            run("ip", "-n", ns, "link", "set", "eth1", "up");
            run("ip", "-n", ns, "addr", "add", "198.18.5.2/24", "dev", "eth0");
            run("ip", "-n", ns, "link", "set", "eth0", "up");
            Path file = dir.resolve("dsr.yaml");
            Files.writeString(file, """
                    workers: 1
                    shutdown_timeout: 1s
                    admin:
                      listen: 127.0.0.1:9190
                    announce:
                      table: 100
                      withdraw_grace: 100ms
                    vips:
                      - name: video
                        listen: 198.18.5.100:80
                        mode: dsr
                        dsr:
                          method: l2
                          interface: eth0
                        health_check:
                          type: none
                        backends:
                          - name: v1
                            address: 198.18.5.11:80
                    """);
            daemon = DaemonProcess.startIn(ns, dir.resolve("dsr.log"), "run", "--config", file.toString());
            daemon.awaitLine("maglevd running", Duration.ofSeconds(90));
            Set<String> names = sampleNames(Setns.httpGet(ns, 9190, "/metrics"));
            assertTrue(names.contains("maglev_packet_drops_total"), "a DSR VIP's series: " + names);
            return names;
        } finally {
            if (daemon != null) {
                daemon.close();
            }
            run("ip", "netns", "del", ns);
        }
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }
}
