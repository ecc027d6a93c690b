package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.tcpCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.metrics.PrometheusText;
import io.maglevlb.core.snapshot.BackendState;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reloads of the real daemon: under load, invalid files, drain and health across reloads, VIPs coming and going. */
class ReloadControlIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final Map<String, NamedEchoBackend> backends = new java.util.LinkedHashMap<>();
    private InProcessDaemon daemon;
    private int adminPort;
    private int stablePort;
    private int webPort;
    private int extraPort;

    @BeforeEach
    void start() throws Exception {
        for (String name : List.of("s1", "s2", "c1", "c2", "c3")) {
            backends.put(name, new NamedEchoBackend(name));
        }
        adminPort = freePort();
        stablePort = freePort();
        webPort = freePort();
        extraPort = freePort();
        daemon = InProcessDaemon.start(dir, configA());
        // Let web's first checks settle the provisional start, so status only changes when a test changes it.
        await(() -> List.of("c1", "c2").stream().allMatch(b -> daemon.control().healthChecker().health("web", b)
                .map(h -> h.checkCount() > 0).orElse(false)), Duration.ofSeconds(10), "web's first checks");
    }

    @AfterEach
    void stop() throws IOException {
        if (daemon != null) {
            daemon.close();
        }
        for (NamedEchoBackend b : backends.values()) {
            b.close();
        }
    }

    private String b(String name) {
        return backend(backends.get(name));
    }

    private String stableVip() {
        return vip("stable", stablePort, noCheck(), b("s1"), b("s2"));
    }

    /** stable [s1, s2]; web [c1, c2]. */
    private String configA() {
        return config(adminPort, stableVip(), vip("web", webPort, tcpCheck(200, 200, 2, 3), b("c1"), b("c2")));
    }

    /** stable unchanged; web gains c3 (weight 2); a new VIP extra. */
    private String configB() {
        return config(adminPort, stableVip(),
                vip("web", webPort, tcpCheck(200, 200, 2, 3), b("c1"), b("c2"),
                        backend("c3", backends.get("c3").port(), 2)),
                vip("extra", extraPort, noCheck(), b("c1")));
    }

    private HttpResponse<String> reload() throws Exception {
        return daemon.post("/reload");
    }

    private JsonNode status() throws Exception {
        return JSON.readTree(daemon.get("/status").body());
    }

    private VipRuntime runtime(String name) {
        return daemon.daemon().vip(name).orElseThrow();
    }

    /** Sends SIGHUP to this JVM, where the control plane handles it. */
    private static void sighup() throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(ProcessHandle.current().pid()))
                .redirectErrorStream(true).start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }

    private double reloads(String result) throws Exception {
        return PrometheusText.parse(daemon.get("/metrics").body()).value("maglev_reloads_total", "result", result);
    }

    @Test
    void repeatedReloadsUnderLoadResetNoConnection() throws Exception {
        int stableClients = 150;
        int webClients = 100;
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong stableTrips = new AtomicLong();
        AtomicLong webTrips = new AtomicLong();
        AtomicLong newConnections = new AtomicLong();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch connected = new CountDownLatch(stableClients + webClients);
        List<Thread> threads = new ArrayList<>();
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (int i = 0; i < stableClients + webClients; i++) {
            boolean stable = i < stableClients;
            int port = stable ? stablePort : webPort;
            AtomicLong trips = stable ? stableTrips : webTrips;
            threads.add(Thread.ofVirtual().start(() -> {
                try (EchoClient c = EchoClient.connect(port)) {
                    connected.countDown();
                    int v = 0;
                    while (running.get() && System.nanoTime() < deadlineNs) {
                        c.roundTrip(v++);
                        trips.incrementAndGet();
                        Thread.sleep(5);
                    }
                } catch (Exception e) {
                    failures.add((stable ? "stable" : "web") + ": " + e);
                    connected.countDown();
                }
            }));
        }
        // New connections to the unchanged VIP all through the reloads.
        threads.add(Thread.ofVirtual().start(() -> {
            while (running.get() && System.nanoTime() < deadlineNs) {
                try (EchoClient c = EchoClient.connect(stablePort)) {
                    c.roundTrip(7);
                    newConnections.incrementAndGet();
                } catch (Exception e) {
                    failures.add("new stable connection: " + e);
                }
            }
        }));
        assertTrue(connected.await(30, TimeUnit.SECONDS), "clients connected");
        long stableGeneration = runtime("stable").generation();

        for (int round = 0; round < 8; round++) {
            daemon.rewriteConfig(round % 2 == 0 ? configB() : configA());
            if (round % 4 == 3) {
                double before = reloads("ok");
                sighup();
                await(() -> {
                    try {
                        return reloads("ok") > before;
                    } catch (Exception e) {
                        return false;
                    }
                }, Duration.ofSeconds(20), "the SIGHUP reload");
            } else {
                HttpResponse<String> r = reload();
                assertEquals(200, r.statusCode(), r.body());
            }
            boolean b = round % 2 == 0;
            assertEquals(b ? 3 : 2, runtime("web").backends().size());
            assertEquals(b, daemon.daemon().vip("extra").isPresent());
            long trips = stableTrips.get() + webTrips.get();
            await(() -> stableTrips.get() + webTrips.get() > trips + 200, Duration.ofSeconds(20), "traffic flows");
        }
        running.set(false);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(30));
        }
        assertEquals(List.of(), List.copyOf(failures), "no connection failed across 8 reloads");
        assertEquals(stableGeneration, runtime("stable").generation(), "the unchanged VIP's table was never rebuilt");
        assertTrue(stableTrips.get() > 0 && webTrips.get() > 0 && newConnections.get() > 0);
        assertEquals(8, reloads("ok"));
        assertEquals(0, reloads("error"));
    }

    @Test
    void anInvalidFileChangesNothing() throws Exception {
        JsonNode before = status();
        daemon.rewriteConfig(configB().replace("table_size: 1009", "table_size: 1000"));
        HttpResponse<String> r = reload();
        assertEquals(422, r.statusCode());
        JsonNode body = JSON.readTree(r.body());
        assertFalse(body.get("ok").asBoolean());
        assertTrue(body.get("errors").get(0).asText().contains("table_size: must be prime"), r.body());

        daemon.rewriteConfig("vips: [ this is : not yaml");
        sighup();
        await(() -> {
            try {
                return reloads("error") == 2;
            } catch (Exception e) {
                return false;
            }
        }, Duration.ofSeconds(20), "the failed SIGHUP reload");

        JsonNode after = status();
        assertEquals(withoutLastCheck(before.get("vips")), withoutLastCheck(after.get("vips")),
                "VIPs, tables and backends unchanged");
        assertTrue(after.get("lastReload").asText().endsWith(" error"));
        assertTrue(daemon.daemon().vip("extra").isEmpty());
        try (EchoClient c = EchoClient.connect(webPort)) {
            c.roundTrip(1);
        }
        assertEquals(0, reloads("ok"));
    }

    @Test
    void aConfigFileOthersCanWriteIsRefusedOnReloadUntilFixed() throws Exception {
        JsonNode before = status();
        daemon.rewriteConfig(configB());
        java.nio.file.Files.setPosixFilePermissions(daemon.configFile(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        HttpResponse<String> r = reload();
        assertEquals(422, r.statusCode(), r.body());
        String error = JSON.readTree(r.body()).get("errors").get(0).asText();
        assertEquals(daemon.configFile() + ": is writable by group and others (mode 0666): maglevd refuses a"
                + " configuration file that others can change. Fix: chmod go-w " + daemon.configFile(), error);
        assertTrue(daemon.daemon().vip("extra").isEmpty(), "the running configuration is unchanged");
        assertEquals(withoutLastCheck(before.get("vips")), withoutLastCheck(status().get("vips")));

        java.nio.file.Files.setPosixFilePermissions(daemon.configFile(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        HttpResponse<String> fixed = reload();
        assertEquals(200, fixed.statusCode(), fixed.body());
        assertTrue(daemon.daemon().vip("extra").isPresent());
    }

    /** The VIPs without each backend's last check (its duration differs from one check to the next). */
    private static JsonNode withoutLastCheck(JsonNode vips) {
        JsonNode copy = vips.deepCopy();
        for (JsonNode v : copy) {
            for (JsonNode b : v.get("backends")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) b).remove("lastCheck");
            }
        }
        return copy;
    }

    @Test
    void drainAndHealthStateSurviveAReloadThatChangesTheVip() throws Exception {
        assertEquals(200, daemon.post("/vips/web/backends/c1/drain").statusCode());
        backends.get("c2").stop();
        await(() -> !runtime("web").backend("c2").orElseThrow().healthy(), Duration.ofSeconds(5), "c2 down");
        int c1Id = runtime("web").backend("c1").orElseThrow().id();
        int c2Id = runtime("web").backend("c2").orElseThrow().id();

        daemon.rewriteConfig(configB());
        assertEquals(200, reload().statusCode());
        BackendState c1 = runtime("web").backend("c1").orElseThrow();
        BackendState c2 = runtime("web").backend("c2").orElseThrow();
        assertTrue(c1.drained(), "drain kept");
        assertEquals(c1Id, c1.id());
        assertFalse(c2.healthy(), "health kept: no provisional up for a backend that stays");
        assertEquals(c2Id, c2.id());
        assertEquals(List.of("c3"), runtime("web").snapshot().tableBackends().stream().map(BackendState::name).toList());

        // A reload back to A removes c3; c1 stays drained, c2 stays down until it passes rise checks.
        daemon.rewriteConfig(configA());
        assertEquals(200, reload().statusCode());
        assertTrue(runtime("web").backend("c1").orElseThrow().drained());
        assertTrue(runtime("web").snapshot().isEmpty());
        backends.get("c2").start();
        await(() -> runtime("web").backend("c2").orElseThrow().healthy(), Duration.ofSeconds(5), "c2 up again");
        assertEquals(200, daemon.post("/vips/web/backends/c1/undrain").statusCode());
        assertEquals(2, runtime("web").snapshot().tableBackends().size());
    }

    @Test
    void newVipsBindAndRemovedVipsStopAcceptingWhileTheirConnectionsFinish() throws Exception {
        assertThrows(ConnectException.class, () -> EchoClient.connect(extraPort));
        daemon.rewriteConfig(configB());
        JsonNode result = JSON.readTree(reload().body());
        assertEquals("extra", result.get("added").get(0).asText());
        assertEquals("web", result.get("changed").get(0).asText());
        assertEquals("stable", result.get("unchanged").get(0).asText());

        try (EchoClient onExtra = EchoClient.connect(extraPort)) {
            assertEquals("c1", onExtra.backend());
            onExtra.roundTrip(1);
            daemon.rewriteConfig(configA());
            result = JSON.readTree(reload().body());
            assertEquals("extra", result.get("removed").get(0).asText());
            assertThrows(ConnectException.class, () -> EchoClient.connect(extraPort), "no longer accepting");
            onExtra.roundTrip(2); // still served
            assertEquals(1, daemon.daemon().activeConnections() - activeOnListedVips());
        }
        await(() -> daemon.daemon().reapRetired() == 0, Duration.ofSeconds(10), "the retired VIP to be dropped");
        assertTrue(PrometheusText.parse(daemon.get("/metrics").body())
                .find("maglev_connections_total", "vip", "extra").isEmpty(), "its meters are gone");
    }

    private int activeOnListedVips() {
        return daemon.daemon().vips().stream().mapToInt(v -> v.forwarder().map(f -> f.activeConnections()).orElse(0))
                .sum();
    }

    @Test
    void aNewVipThatCannotBindFailsTheReloadAndNothingChanges() throws Exception {
        try (ServerSocket squatter = new ServerSocket(extraPort, 1, InetAddress.getLoopbackAddress())) {
            daemon.rewriteConfig(configB());
            HttpResponse<String> r = reload();
            assertEquals(422, r.statusCode(), r.body());
            assertTrue(r.body().contains("vip extra: cannot listen on 127.0.0.1:" + squatter.getLocalPort()), r.body());
        }
        assertEquals(2, runtime("web").backends().size(), "web's change was not applied either");
        assertTrue(daemon.daemon().vip("extra").isEmpty());
        assertEquals(1, reloads("error"));
    }

    @Test
    void aSettingsChangeRebindsTheVipAndKeepsItsConnections() throws Exception {
        try (EchoClient old = EchoClient.connect(webPort)) {
            old.roundTrip(1);
            daemon.rewriteConfig(configA().replace("connect_timeout: 1s\n    connect_retries: 2\n    health_check:\n"
                    + "      type: tcp", "connect_timeout: 3s\n    connect_retries: 2\n    health_check:\n      type: tcp"));
            HttpResponse<String> r = reload();
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(java.time.Duration.ofSeconds(3), runtime("web").config().connectTimeout());
            old.roundTrip(2);
            await(() -> {
                try (EchoClient fresh = EchoClient.connect(webPort)) {
                    fresh.roundTrip(3);
                    return true;
                } catch (IOException e) {
                    return false;
                }
            }, Duration.ofSeconds(5), "new connections on the re-bound VIP");
            old.roundTrip(4);
        }
    }
}
