package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.configWithToken;
import static io.maglevlb.control.it.ConfigYaml.tcpCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.MaglevdMain;
import io.maglevlb.control.metrics.PrometheusText;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API and {@code maglevd ctl} against the real daemon (with a bearer token): every endpoint, wrong
 * methods, unknown names, and /metrics parsed as Prometheus text with the key maglev metrics present.
 */
class AdminControlIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "it-token-0123456789";

    @TempDir
    static Path dir;

    private static final List<NamedEchoBackend> backends = new ArrayList<>();
    private static InProcessDaemon daemon;
    private static int vipPort;
    private static Path tokenFile;
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        backends.add(new NamedEchoBackend("a"));
        backends.add(new NamedEchoBackend("b"));
        tokenFile = Files.writeString(dir.resolve("token"), TOKEN + "\n");
        vipPort = freePort();
        daemon = InProcessDaemon.start(dir, configWithToken(freePort(), tokenFile.toString(),
                vip("web", vipPort, tcpCheck(200, 200, 2, 3), backend(backends.get(0)), backend(backends.get(1)))));
        // Some traffic, so the counters have something to say.
        for (int i = 0; i < 20; i++) {
            try (EchoClient c = EchoClient.connect(vipPort)) {
                c.roundTrip(i);
            }
        }
    }

    @AfterAll
    static void stop() throws Exception {
        daemon.close();
        for (NamedEchoBackend b : backends) {
            b.close();
        }
        http.close();
    }

    private static HttpResponse<String> send(String method, String path, boolean withToken) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(daemon.admin(path)).timeout(Duration.ofSeconds(30))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (withToken) {
            b.header("Authorization", "Bearer " + TOKEN);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> send(String method, String path) throws Exception {
        return send(method, path, true);
    }

    @Test
    void healthzNeedsNoTokenAndEverythingElseDoes() throws Exception {
        assertEquals(200, send("GET", "/healthz", false).statusCode());
        for (String[] c : new String[][] {{"GET", "/metrics"}, {"GET", "/status"}, {"GET", "/vips/web/table"},
                {"POST", "/reload"}, {"POST", "/vips/web/backends/a/drain"}, {"POST", "/vips/web/backends/a/undrain"},
                {"GET", "/nope"}}) {
            assertEquals(401, send(c[0], c[1], false).statusCode(), c[0] + " " + c[1]);
        }
        assertFalse(daemon.daemon().vip("web").orElseThrow().backend("a").orElseThrow().drained());
    }

    @Test
    void metricsAreValidPrometheusTextWithTheKeyMetrics() throws Exception {
        // /metrics is rendered at most once a second: wait for a rendering that has seen the 20 connections.
        await(() -> {
            try {
                return PrometheusText.parse(send("GET", "/metrics").body())
                        .value("maglev_connections_total", "vip", "web") >= 20;
            } catch (Exception e) {
                return false;
            }
        }, Duration.ofSeconds(10), "the connections counted");
        HttpResponse<String> r = send("GET", "/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("content-type").orElseThrow());
        PrometheusText text = PrometheusText.parse(r.body());
        assertTrue(text.value("maglev_connections_total", "vip", "web") >= 20);
        double active = text.value("maglev_connections_active", "vip", "web");
        assertTrue(active >= 0 && active <= 20, "active " + active);
        assertTrue(text.value("maglev_bytes_total", "vip", "web", "direction", "client_to_backend") >= 20 * 4);
        assertTrue(text.value("maglev_bytes_total", "vip", "web", "direction", "backend_to_client") >= 20 * 4);
        for (String name : List.of("maglev_connect_failures_total", "maglev_connect_retries_total",
                "maglev_connections_refused_total", "maglev_table_rebuilds_total",
                "maglev_table_build_duration_seconds_count", "maglev_table_build_duration_seconds_sum",
                "maglev_table_slots_min", "maglev_table_slots_max", "maglev_backend_up", "maglev_backend_drained",
                "maglev_backend_slots", "maglev_backend_connections_total", "maglev_backend_connections_active",
                "maglev_backend_bytes_total", "maglev_health_checks_total",
                "maglev_health_check_duration_seconds_count", "maglev_reloads_total", "jvm_memory_used_bytes",
                "process_files_open_files", "process_uptime_seconds")) {
            assertFalse(text.samples(name).isEmpty(), "missing " + name);
        }
        // Documented with the timer; a gauge (the longest build of the last two minutes, 0 once that passed).
        assertTrue(text.value("maglev_table_build_duration_seconds_max", "vip", "web") >= 0);
        assertEquals(1009, text.value("maglev_backend_slots", "vip", "web", "backend", "a")
                + text.value("maglev_backend_slots", "vip", "web", "backend", "b"));
        double perBackend = text.value("maglev_backend_connections_total", "vip", "web", "backend", "a")
                + text.value("maglev_backend_connections_total", "vip", "web", "backend", "b");
        assertTrue(perBackend >= 20, "per-backend connections " + perBackend);
        await(() -> {
            try {
                return PrometheusText.parse(send("GET", "/metrics").body())
                        .value("maglev_health_checks_total", "vip", "web", "backend", "a", "result", "success") > 0;
            } catch (Exception e) {
                return false;
            }
        }, Duration.ofSeconds(10), "a health check counted");
    }

    @Test
    void statusAndTable() throws Exception {
        JsonNode status = JSON.readTree(send("GET", "/status").body());
        assertEquals(ProcessHandle.current().pid(), status.get("pid").asLong());
        JsonNode web = status.get("vips").get(0);
        assertEquals("web", web.get("name").asText());
        assertEquals("127.0.0.1:" + vipPort, web.get("listen").asText());
        assertEquals(2, web.get("backends").size());
        // The echo clients closed their connections; the counts are there (TCP connections open now).
        assertTrue(web.get("activeFlows").isNumber(), web.toString());
        for (JsonNode b : web.get("backends")) {
            assertTrue(b.get("activeFlows").isNumber(), b.toString());
        }

        JsonNode table = JSON.readTree(send("GET", "/vips/web/table").body());
        assertEquals(1009, table.get("slots").size());
        assertEquals(web.get("digest").asText(), table.get("digest").asText());
        assertEquals(404, send("GET", "/vips/nope/table").statusCode());
    }

    @Test
    void wrongMethodsAndUnknownNames() throws Exception {
        assertEquals("POST", send("GET", "/reload").headers().firstValue("allow").orElseThrow());
        assertEquals(405, send("GET", "/vips/web/backends/a/drain").statusCode());
        assertEquals(405, send("PUT", "/vips/web/backends/a/undrain").statusCode());
        assertEquals(405, send("POST", "/status").statusCode());
        assertEquals(405, send("DELETE", "/metrics").statusCode());
        assertEquals(405, send("POST", "/vips/web/table").statusCode());
        assertEquals(404, send("GET", "/ui/nope.js").statusCode());
        assertEquals(404, send("GET", "/vips/web").statusCode());
        HttpResponse<String> unknownVip = send("POST", "/vips/nope/backends/a/drain");
        assertEquals(404, unknownVip.statusCode());
        assertEquals("unknown vip 'nope'", JSON.readTree(unknownVip.body()).get("error").asText());
        HttpResponse<String> unknownBackend = send("POST", "/vips/web/backends/zz/drain");
        assertEquals(404, unknownBackend.statusCode());
        assertEquals("unknown backend 'zz' in vip 'web'", JSON.readTree(unknownBackend.body()).get("error").asText());
        assertFalse(daemon.daemon().vip("web").orElseThrow().backend("a").orElseThrow().drained());
    }

    @Test
    void drainThroughTheApiStopsNewConnectionsAndKeepsOpenOnes() throws Exception {
        try (EchoClient onA = openTo("a")) {
            assertEquals(200, send("POST", "/vips/web/backends/a/drain").statusCode());
            for (int i = 0; i < 30; i++) {
                try (EchoClient c = EchoClient.connect(vipPort)) {
                    assertEquals("b", c.backend());
                }
            }
            onA.roundTrip(42); // existing flow finishes normally
            PrometheusText text = PrometheusText.parse(send("GET", "/metrics").body());
            assertEquals(1, text.value("maglev_backend_drained", "vip", "web", "backend", "a"));
            assertEquals(1009, text.value("maglev_table_slots_max", "vip", "web"));
        } finally {
            assertEquals(200, send("POST", "/vips/web/backends/a/undrain").statusCode());
        }
    }

    private static EchoClient openTo(String backend) throws Exception {
        for (int i = 0; i < 200; i++) {
            EchoClient c = EchoClient.connect(vipPort);
            if (c.backend().equals(backend)) {
                return c;
            }
            c.close();
        }
        throw new AssertionError("no connection reached " + backend);
    }

    private static String[] ctl(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("ctl", "--admin",
                "127.0.0.1:" + URI.create(daemon.admin("/").toString()).getPort(), "--token-file", tokenFile.toString()));
        all.addAll(List.of(args));
        int code = MaglevdMain.execute(new PrintWriter(out), new PrintWriter(err), all.toArray(String[]::new));
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void ctlTalksToTheDaemon() throws Exception {
        String[] status = ctl("status");
        assertEquals("0", status[0], status[2]);
        assertTrue(status[1].contains("vip web  tcp 127.0.0.1:" + vipPort), status[1]);

        String[] drain = ctl("drain", "web", "b");
        assertEquals("0", drain[0], drain[2]);
        assertEquals("web/b drained\n", drain[1]);
        assertTrue(daemon.daemon().vip("web").orElseThrow().backend("b").orElseThrow().drained());
        String[] undrain = ctl("undrain", "web", "b");
        assertEquals("0", undrain[0], undrain[2]);
        assertFalse(daemon.daemon().vip("web").orElseThrow().backend("b").orElseThrow().drained());

        String[] unknown = ctl("drain", "web", "zz");
        assertEquals("1", unknown[0]);
        assertTrue(unknown[2].contains("unknown backend 'zz'"), unknown[2]);

        String[] reload = ctl("reload");
        assertEquals("0", reload[0], reload[2]);
        assertTrue(reload[1].startsWith("reloaded"), reload[1]);
        assertTrue(reload[1].contains("unchanged: web"), reload[1]);
    }
}
