package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.tcpCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.metrics.PrometheusText;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code maglevd run} as a real process: the admin API comes up with the daemon, SIGHUP reloads the file
 * ({@code systemctl reload}), a dead backend is marked down, SIGTERM ends with exit code 0.
 */
class ProcessControlIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void sighupReloadsHealthChecksRunAndSigtermExitsZero() throws Exception {
        try (NamedEchoBackend a = new NamedEchoBackend("a");
                NamedEchoBackend b = new NamedEchoBackend("b");
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            int adminPort = freePort();
            int vipPort = freePort();
            Path file = dir.resolve("maglevd.yaml");
            Files.writeString(file, config(adminPort, vip("web", vipPort, tcpCheck(200, 200, 2, 3), backend(a))));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config",
                    file.toString())) {
                maglevd.awaitLine("maglevd running", Duration.ofSeconds(60));
                URI base = URI.create("http://127.0.0.1:" + adminPort);
                assertEquals("ok\n", get(http, base, "/healthz"));
                try (EchoClient c = EchoClient.connect(vipPort)) {
                    assertEquals("a", c.backend());
                }

                // systemctl reload: the file gains backend b.
                Files.writeString(file, config(adminPort, vip("web", vipPort, tcpCheck(200, 200, 2, 3), backend(a),
                        backend(b))));
                long pid = pid(http, base);
                Process hup = new ProcessBuilder("kill", "-HUP", Long.toString(pid)).start();
                assertTrue(hup.waitFor(10, TimeUnit.SECONDS));
                maglevd.awaitLine("reload of " + file + " applied", Duration.ofSeconds(20));
                JsonNode web = JSON.readTree(get(http, base, "/status")).get("vips").get(0);
                assertEquals(2, web.get("backends").size());

                // b dies: marked down by its health checks.
                b.stop();
                maglevd.awaitLine("backend b DOWN", Duration.ofSeconds(10));
                await(() -> {
                    try {
                        return PrometheusText.parse(get(http, base, "/metrics"))
                                .value("maglev_backend_up", "vip", "web", "backend", "b") == 0;
                    } catch (Exception e) {
                        return false;
                    }
                }, Duration.ofSeconds(10), "maglev_backend_up 0 for b");

                maglevd.terminate();
                assertEquals(0, maglevd.awaitExit(Duration.ofSeconds(30)), maglevd.output());
                String log = maglevd.output();
                assertTrue(log.contains("SIGHUP: reloading configuration"), log);
                assertTrue(!log.contains("Exception"), log);
            }
        }
    }

    /**
     * Started with SIGHUP ignored, as {@code nohup} (or a shell or supervisor that ignores it) leaves it: the JVM
     * alone would keep it ignored and never run the reload, silently. maglevd takes the signal over, as nginx and
     * HAProxy do, and says so.
     */
    @Test
    void sighupReloadsAlsoWhenTheDaemonWasStartedWithItIgnored() throws Exception {
        try (NamedEchoBackend a = new NamedEchoBackend("a");
                NamedEchoBackend b = new NamedEchoBackend("b");
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            int adminPort = freePort();
            int vipPort = freePort();
            Path file = dir.resolve("maglevd.yaml");
            Files.writeString(file, config(adminPort, vip("web", vipPort, tcpCheck(200, 200, 2, 3), backend(a))));
            try (DaemonProcess maglevd = DaemonProcess.startUnder(List.of("nohup"), dir.resolve("maglevd.log"),
                    List.of(), "run", "--config", file.toString())) {
                maglevd.awaitLine("maglevd running", Duration.ofSeconds(60));
                URI base = URI.create("http://127.0.0.1:" + adminPort);
                assertTrue(maglevd.output().contains("SIGHUP was ignored when maglevd started"), maglevd.output());

                Files.writeString(file, config(adminPort, vip("web", vipPort, tcpCheck(200, 200, 2, 3), backend(a),
                        backend(b))));
                Process hup = new ProcessBuilder("kill", "-HUP", Long.toString(pid(http, base))).start();
                assertTrue(hup.waitFor(10, TimeUnit.SECONDS));
                maglevd.awaitLine("reload of " + file + " applied", Duration.ofSeconds(20));
                assertEquals(2, JSON.readTree(get(http, base, "/status")).get("vips").get(0).get("backends").size());

                maglevd.terminate();
                assertEquals(0, maglevd.awaitExit(Duration.ofSeconds(30)), maglevd.output());
            }
        }
    }

    private static String get(HttpClient http, URI base, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static long pid(HttpClient http, URI base) throws Exception {
        return JSON.readTree(get(http, base, "/status")).get("pid").asLong();
    }
}
