package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.Route;
import io.maglevlb.dataplane.linux.Routes;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * maglevd with {@code announce} as a real process in a fresh network namespace ({@code mlb-<pid>-an<n>}): its
 * VIP route appears in table 100 through its TUN device, follows the backends and the operator's switch
 * (across a reload), leaves before the process on SIGTERM, goes with the process on SIGKILL (the time is
 * measured and printed), and a route maglevd did not add is never touched. Backends are socat processes in the
 * namespace; {@code ctl}, {@code curl} and {@code ip} run there too. Root only.
 */
@Timeout(180)
class AnnounceDaemonIT {
    private static final String VIP = "198.18.2.10";
    private static final String TABLE = "100";
    private static final String OUR_ROUTE = VIP + " dev maglev0 proto 77";
    private static final String FOREIGN = "198.18.2.99";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static int namespaces;

    private String ns;
    private final List<Process> backends = new ArrayList<>();
    private DaemonProcess daemon;

    @TempDir
    Path dir;

    @BeforeEach
    void namespace() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/net/tun")),
                "announce tests need root (network namespaces, a TUN device); skipped");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/socat")) && Files.isExecutable(Path.of("/usr/bin/curl")),
                "announce tests need socat and curl; skipped");
        ns = "mlb-" + ProcessHandle.current().pid() + "-an" + (++namespaces);
        run("ip", "netns", "add", ns);
        ip("link", "set", "lo", "up");
        ip("addr", "add", VIP + "/32", "dev", "lo");
        ip("route", "add", FOREIGN + "/32", "dev", "lo", "table", TABLE); // someone else's route in our table
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (Process b : backends) {
            b.destroyForcibly();
            b.waitFor(5, TimeUnit.SECONDS);
        }
        if (ns != null) {
            run("ip", "netns", "del", ns);
        }
    }

    private Path config(int adminPort, String extraBackend) throws IOException {
        Path file = dir.resolve("maglevd.yaml");
        Files.writeString(file, """
                workers: 1
                shutdown_timeout: 1s
                admin:
                  listen: 127.0.0.1:%d
                announce:
                  table: %s
                  withdraw_grace: 3s
                vips:
                  - name: web
                    listen: %s:80
                    health_check:
                      type: tcp
                      interval: 200ms
                      timeout: 200ms
                      rise: 1
                      fall: 1
                    backends:
                      - name: b1
                        address: 127.0.0.1:9001
                      - name: b2
                        address: 127.0.0.1:9002
                %s""".formatted(adminPort, TABLE, VIP, extraBackend));
        return file;
    }

    private DaemonProcess startDaemon(Path config) throws Exception {
        DaemonProcess d = DaemonProcess.startIn(ns, dir.resolve("maglevd.log"), "run", "--config", config.toString());
        d.awaitLine("maglevd running", Duration.ofSeconds(60));
        return d;
    }

    private Process backend(int port) throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "exec", ns, "socat", "TCP-LISTEN:" + port
                + ",bind=127.0.0.1,reuseaddr,fork", "SYSTEM:echo b").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        backends.add(p);
        return p;
    }

    @Test
    void theRouteFollowsTheBackendsAndTheSwitchAcrossAReloadAndLeavesFirstOnSigterm() throws Exception {
        Process b1 = backend(9001);
        Process b2 = backend(9002);
        Path config = config(9190, "");
        daemon = startDaemon(config);
        awaitRoute(true, "announced at start");
        awaitMetric(1);
        JsonNode web = status().path("vips").get(0).path("announce");
        assertTrue(web.path("announced").asBoolean(), web.toString());
        assertEquals(VIP + "/32", web.path("address").asText());

        // every backend down: withdrawn; one back: announced again
        b1.destroyForcibly();
        b2.destroyForcibly();
        awaitRoute(false, "withdrawn when no backend is up");
        assertEquals("no backend up", status().path("vips").get(0).path("announce").path("reason").asText());
        awaitMetric(0);
        backend(9002);
        awaitRoute(true, "announced again when a backend returns");

        // the maintenance switch, across a reload
        String out = ctl("withdraw", "web");
        assertTrue(out.contains("web NOT announced " + VIP + "/32: withdrawn by the operator"), out);
        assertFalse(routeShown(), "the route is gone when ctl withdraw returns");
        config(9190, "      - name: b3\n        address: 127.0.0.1:9003\n"); // rewrites the file: one more backend
        out = ctl("reload");
        assertTrue(out.contains("changed:") && out.contains("web"), out);
        JsonNode after = status().path("vips").get(0);
        assertEquals(3, after.path("backends").size(), after.toString());
        assertTrue(after.path("announce").path("operatorWithdrawn").asBoolean(), "the switch survives the reload");
        assertFalse(routeShown(), "and the route stays away");
        out = ctl("announce");
        assertTrue(out.contains("web announced " + VIP + "/32"), out);
        assertTrue(routeShown(), "the route is back when ctl announce returns");

        // SIGTERM: the route goes first, the process keeps running through the grace, then exits 0
        daemon.terminate();
        awaitRoute(false, "withdrawn on SIGTERM");
        assertTrue(daemon.isAlive(), "the route left before the process (withdraw_grace 3s)\n" + daemon.output());
        assertEquals(0, daemon.awaitExit(Duration.ofSeconds(30)), daemon.output());
        assertFalse(ip("link", "show").contains("maglev0"), "the device is gone");
        assertTrue(ip("route", "show", "table", TABLE).contains(FOREIGN), "the foreign route is left alone");
        String log = daemon.output();
        assertTrue(log.indexOf("announced route withdrawn") < log.indexOf("shutting down: no new connections"), log);
    }

    @Test
    void sigkillTakesDeviceAndRouteAlongAndTheTimeIsMeasured() throws Exception {
        backend(9001);
        backend(9002);
        daemon = startDaemon(config(9190, ""));
        awaitRoute(true, "announced at start");
        Route ours = Route.host(InetAddress.getByName(VIP), Integer.parseInt(TABLE), 0, Routes.PROTOCOL_MAGLEVD);
        long[] goneAfterNs = {-1};
        Setns.call(ns, () -> {
            try (Routes routes = Routes.open()) {
                long start = System.nanoTime();
                daemon.kill();
                long deadline = start + TimeUnit.SECONDS.toNanos(10);
                while (System.nanoTime() < deadline) {
                    if (routes.dump(LinuxNative.AF_INET, Integer.parseInt(TABLE)).stream()
                            .noneMatch(r -> r.sameDestination(ours))) {
                        goneAfterNs[0] = System.nanoTime() - start;
                        break;
                    }
                }
            }
            return null;
        });
        assertTrue(goneAfterNs[0] >= 0, "the route outlived the SIGKILLed process by 10 s");
        System.out.printf("announce: SIGKILL -> route gone from table %s after %.1f ms%n", TABLE,
                goneAfterNs[0] / 1e6);
        assertFalse(ip("link", "show").contains("maglev0"), "the device is gone");
        assertTrue(ip("route", "show", "table", TABLE).contains(FOREIGN), "the foreign route is left alone");
    }

    @Test
    void aRouteForTheVipThatIsNotOursStopsTheStartAndIsLeftAlone() throws Exception {
        ip("route", "add", VIP + "/32", "dev", "lo", "table", TABLE);
        DaemonProcess d = DaemonProcess.startIn(ns, dir.resolve("refused.log"), "run", "--config",
                config(9190, "").toString());
        try {
            assertEquals(1, d.awaitExit(Duration.ofSeconds(60)), d.output());
            assertTrue(d.output().contains("table 100 already holds a route for " + VIP + "/32 that this maglevd did "
                    + "not add"), d.output());
        } finally {
            d.close();
        }
        String table = ip("route", "show", "table", TABLE);
        assertTrue(table.contains(VIP + " dev lo"), table);
        assertFalse(ip("link", "show").contains("maglev0"), "no device left behind");
    }

    @Test
    void withoutCapNetAdminTheStartFailsAndSaysWhy() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux); skipped");
        DaemonProcess d = DaemonProcess.startUnder(List.of("ip", "netns", "exec", ns, "setpriv",
                "--inh-caps=-net_admin", "--bounding-set=-net_admin"), dir.resolve("nocap.log"), List.of(), "run",
                "--config", config(9190, "").toString());
        try {
            assertEquals(1, d.awaitExit(Duration.ofSeconds(60)), d.output());
            assertTrue(d.output().contains("cannot create TUN device maglev0: Operation not permitted (errno 1) "
                    + "(needs CAP_NET_ADMIN); run maglevd with CAP_NET_ADMIN or remove the announce section"),
                    d.output());
        } finally {
            d.close();
        }
        assertFalse(ip("link", "show").contains("maglev0"), "no device left behind");
    }

    // ---- helpers ----

    private void awaitRoute(boolean present, String what) throws Exception {
        await(() -> {
            try {
                return routeShown() == present;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(20), what + "; table " + TABLE + ":\n" + ip("route", "show", "table", TABLE)
                + "\nmaglevd:\n" + (daemon == null ? "" : daemon.output()));
    }

    private boolean routeShown() throws IOException {
        return ip("route", "show", "table", TABLE).contains(OUR_ROUTE);
    }

    private static void await(BooleanSupplier condition, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out: " + what);
            }
            Thread.sleep(20);
        }
    }

    private JsonNode status() throws IOException {
        return JSON.readTree(run("ip", "netns", "exec", ns, "curl", "-sf", "http://127.0.0.1:9190/status"));
    }

    /** /metrics renderings are cached for a moment (ScrapeCache): wait for the value rather than read it once. */
    private void awaitMetric(int value) throws Exception {
        await(() -> {
            try {
                return announcedMetric() == value;
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, Duration.ofSeconds(10), "maglev_vip_announced{vip=\"web\"} " + value);
    }

    private int announcedMetric() throws IOException {
        String metrics = run("ip", "netns", "exec", ns, "curl", "-sf", "http://127.0.0.1:9190/metrics");
        for (String line : metrics.lines().toList()) {
            if (line.startsWith("maglev_vip_announced{") && line.contains("vip=\"web\"")) {
                return (int) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no maglev_vip_announced for web in:\n" + metrics);
    }

    private String ctl(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), "io.maglevlb.control.cli.MaglevdMain", "ctl",
                "--admin", "127.0.0.1:9190"));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    private String ip(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("ip", "-n", ns));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    /** Runs a command (20 s at most) and returns its stdout; fails with its output on a non-zero exit. */
    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + text.strip());
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        }
    }
}
