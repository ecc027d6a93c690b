package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.control.metrics.PrometheusText;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, defect 4: maglevd under a small RLIMIT_NOFILE ({@code prlimit --nofile=256:256}) with more clients
 * than descriptors. Before: every EMFILE counted as a connect failure on a healthy backend (912 in all) and
 * clients were accepted and then reset; {@code process_files_open_files} read NaN at the limit. Now the clients
 * that do not fit wait in the listen queue and are served later, no backend is blamed or marked down, the
 * local errors are counted apart, and the open-files gauge always reads a number.
 */
class FdLimitDaemonIT {
    private static final int NOFILE = 256;
    private static final int CLIENTS = 300;
    private static final Duration STARTUP = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static PrometheusText scrape(HttpClient http, int adminPort) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort
                + "/metrics")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return PrometheusText.parse(r.body());
    }

    private static PrometheusText awaitScrape(HttpClient http, int adminPort, String what,
            Predicate<PrometheusText> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            PrometheusText t = scrape(http, adminPort);
            assertOpenFilesIsANumber(t);
            if (condition.test(t)) {
                return t;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(100);
        }
    }

    private static void assertOpenFilesIsANumber(PrometheusText t) {
        double open = t.value("process_files_open_files");
        double max = t.value("process_files_max_files");
        assertFalse(Double.isNaN(open), "process_files_open_files must never be NaN");
        assertEquals(NOFILE, max, "process_files_max_files");
        assertTrue(open > 0 && open <= max, "open files " + open + " within (0, " + max + "]");
    }

    @Test
    void clientsWaitInTheListenQueueAndNoBackendIsBlamedWhenDescriptorsRunOut() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "skipped: prlimit (util-linux) not installed");
        int adminPort = freePort();
        int vipPort = freePort();
        List<NamedEchoBackend> backends = new ArrayList<>();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        CountDownLatch release = new CountDownLatch(1); // released in finally too: no client outlives a failure
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 1; i <= 3; i++) {
                backends.add(new NamedEchoBackend("b" + i));
            }
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), ConfigYaml.config(adminPort,
                    ConfigYaml.vip("web", vipPort, ConfigYaml.tcpCheck(200, 200, 2, 2),
                            ConfigYaml.backend(backends.get(0)), ConfigYaml.backend(backends.get(1)),
                            ConfigYaml.backend(backends.get(2)))));
            try (DaemonProcess daemon = DaemonProcess.startUnder(List.of("/usr/bin/prlimit", "--nofile=" + NOFILE
                    + ":" + NOFILE, "--"), dir.resolve("maglevd.log"), List.of(), "run", "--config",
                    config.toString())) {
                daemon.awaitLine("maglevd running", STARTUP);
                awaitScrape(http, adminPort, "every backend up", t -> upBackends(t) == 3);

                // More clients than descriptors: each proxied one holds two in maglevd.
                AtomicInteger served = new AtomicInteger();
                List<Future<String>> clients = new ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    clients.add(pool.submit(() -> {
                        try (Socket s = new Socket()) {
                            s.setSoTimeout(60_000);
                            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort), 30_000);
                            String name = readLine(s.getInputStream());
                            served.incrementAndGet();
                            release.await(120, TimeUnit.SECONDS);
                            return name;
                        }
                    }));
                }
                // Full: a listener paused for lack of descriptors, and every client maglevd accepted was served.
                PrometheusText full = awaitScrape(http, adminPort, "a listener ran out of descriptors",
                        t -> t.value("maglev_local_errors_total", "vip", "web", "reason", "fd_limit") > 0
                                && served.get() > 0
                                && served.get() == t.value("maglev_connections_active", "vip", "web"));
                int servedAtLimit = served.get();
                assertTrue(servedAtLimit < CLIENTS, "the other clients wait in the listen queue, not all fit under "
                        + NOFILE + " descriptors: " + servedAtLimit + " served");
                for (int i = 0; i < 10; i++) { // the alert's input while descriptors are short
                    assertOpenFilesIsANumber(scrape(http, adminPort));
                }
                assertEquals(3, upBackends(full), "backends stay up");

                release.countDown();
                Set<String> names = Set.of("b1", "b2", "b3");
                for (int i = 0; i < CLIENTS; i++) {
                    String name = clients.get(i).get(90, TimeUnit.SECONDS);
                    assertTrue(names.contains(name), "client " + i + " was served by a backend, got '" + name
                            + "' (a reset or an empty answer otherwise)");
                }

                // /metrics is rendered at most once a second: wait for a rendering that has seen every client.
                PrometheusText end = awaitScrape(http, adminPort, "every client counted",
                        t -> t.value("maglev_connections_total", "vip", "web") >= CLIENTS);
                for (String b : names) {
                    assertEquals(0, end.value("maglev_backend_connect_failures_total", "vip", "web", "backend", b),
                            "connect failures blamed on " + b + "; log:\n" + daemon.output());
                    assertEquals(1, end.value("maglev_backend_up", "vip", "web", "backend", b), b + " up");
                }
                assertEquals(0, end.value("maglev_connect_failures_total", "vip", "web"));
                assertEquals(0, end.value("maglev_connections_refused_total", "vip", "web", "reason", "local_error"));
                assertEquals(0, end.value("maglev_connections_refused_total", "vip", "web", "reason",
                        "connect_failed"));
                assertEquals(CLIENTS, end.value("maglev_connections_total", "vip", "web"));
                System.out.printf("FdLimitDaemonIT: nofile %d, %d clients, %d served at once at the limit, "
                        + "local errors fd_limit %.0f%n", NOFILE, CLIENTS, servedAtLimit,
                        end.value("maglev_local_errors_total", "vip", "web", "reason", "fd_limit"));
                daemon.terminate();
                daemon.awaitExit(Duration.ofSeconds(60));
                assertFalse(daemon.output().contains("Exception"),
                        "running out of descriptors is handled, not thrown; log:\n" + daemon.output());
            } finally {
                release.countDown(); // before the pool waits for its clients
            }
        } finally {
            for (NamedEchoBackend b : backends) {
                b.close();
            }
        }
    }

    private static int upBackends(PrometheusText t) {
        int up = 0;
        for (String b : List.of("b1", "b2", "b3")) {
            up += (int) t.value("maglev_backend_up", "vip", "web", "backend", b);
        }
        return up;
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        return sb.toString();
    }
}
