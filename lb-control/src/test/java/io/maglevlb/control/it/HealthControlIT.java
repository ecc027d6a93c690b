package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.tcpCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.metrics.PrometheusText;
import io.maglevlb.core.snapshot.BackendState;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Health checks driving the real daemon's tables: a backend that dies leaves the table within
 * interval x fall (+ timeout + slack), gets no new connections afterwards, and connections to the other
 * backends carry on; it comes back after rise checks; with every backend down new clients are refused at
 * once and the VIP recovers when one is back.
 */
class HealthControlIT {
    private static final int INTERVAL_MS = 200;
    private static final int TIMEOUT_MS = 200;
    private static final int RISE = 2;
    private static final int FALL = 3;
    /** interval x fall, with jitter (x1.1), plus one timeout and 2 s of slack for a loaded machine. */
    private static final Duration DOWN_BOUND = Duration.ofMillis(INTERVAL_MS * FALL * 11 / 10 + TIMEOUT_MS + 2000);
    private static final Duration UP_BOUND = Duration.ofMillis(INTERVAL_MS * RISE * 11 / 10 + TIMEOUT_MS + 2000);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final List<NamedEchoBackend> backends = new ArrayList<>();
    private final List<EchoClient> clients = new ArrayList<>();
    private InProcessDaemon daemon;
    private int vipPort;

    @BeforeEach
    void start() throws Exception {
        for (String name : List.of("a", "b", "c")) {
            backends.add(new NamedEchoBackend(name));
        }
        vipPort = freePort();
        daemon = InProcessDaemon.start(dir, config(freePort(), vip("web", vipPort,
                tcpCheck(INTERVAL_MS, TIMEOUT_MS, RISE, FALL),
                backend(backends.get(0)), backend(backends.get(1)), backend(backends.get(2)))));
        VipRuntime web = daemon.daemon().vip("web").orElseThrow();
        // Every backend passed a check (the provisional start is settled).
        await(() -> backends.stream().allMatch(b -> daemon.control().healthChecker().health("web", b.name())
                .map(h -> h.checkCount() > 0).orElse(false)), Duration.ofSeconds(10), "first checks");
        assertEquals(3, web.snapshot().tableBackends().size());
    }

    @AfterEach
    void stop() throws Exception {
        for (EchoClient c : clients) {
            c.close();
        }
        if (daemon != null) {
            daemon.close();
        }
        for (NamedEchoBackend b : backends) {
            b.close();
        }
    }

    private boolean healthy(String backend) {
        return daemon.daemon().vip("web").orElseThrow().backend(backend).map(BackendState::healthy).orElseThrow();
    }

    /** Opens {@code n} connections through the VIP; returns how many reached each backend. */
    private Map<String, Integer> openClients(int n, List<EchoClient> into) throws IOException {
        Map<String, Integer> byBackend = new HashMap<>();
        for (int i = 0; i < n; i++) {
            EchoClient c = EchoClient.connect(vipPort);
            into.add(c);
            byBackend.merge(c.backend(), 1, Integer::sum);
        }
        return byBackend;
    }

    @Test
    void aDeadBackendLeavesTheTableInTimeAndGetsNoNewConnectionsWhileOthersCarryOn() throws Exception {
        openClients(60, clients);
        List<EchoClient> onOthers = clients.stream().filter(c -> !c.backend().equals("b")).toList();
        assertTrue(onOthers.size() < clients.size(), "some clients reached b: " + clients.size());

        long killedAtNs = System.nanoTime();
        backends.get(1).stop();
        await(() -> !healthy("b"), DOWN_BOUND, "b marked down");
        long tookMs = (System.nanoTime() - killedAtNs) / 1_000_000;
        assertTrue(tookMs <= DOWN_BOUND.toMillis(), "marked down after " + tookMs + " ms");
        VipRuntime web = daemon.daemon().vip("web").orElseThrow();
        assertEquals(2, web.snapshot().tableBackends().size());
        int bId = web.backend("b").orElseThrow().id();
        assertEquals(0, web.snapshot().slotCount(bId));

        // Connections to a and c were not disturbed by b's death or by the table change.
        int value = 1;
        for (EchoClient c : onOthers) {
            c.roundTrip(value++);
        }

        // New connections never reach b.
        List<EchoClient> fresh = new ArrayList<>();
        try {
            Map<String, Integer> spread = openClients(100, fresh);
            assertFalse(spread.containsKey("b"), "new connections reached b: " + spread);
            assertEquals(100, spread.values().stream().mapToInt(Integer::intValue).sum());
        } finally {
            for (EchoClient c : fresh) {
                c.close();
            }
        }

        // Metrics and status tell the same.
        PrometheusText metrics = PrometheusText.parse(daemon.get("/metrics").body());
        assertEquals(0, metrics.value("maglev_backend_up", "vip", "web", "backend", "b"));
        assertEquals(1, metrics.value("maglev_backend_up", "vip", "web", "backend", "a"));
        assertEquals(0, metrics.value("maglev_backend_slots", "vip", "web", "backend", "b"));
        assertTrue(metrics.value("maglev_health_checks_total", "vip", "web", "backend", "b", "result", "failure")
                >= FALL);
        JsonNode b = backendStatus("b");
        assertFalse(b.get("healthy").asBoolean());
        assertTrue(b.get("health").asText().contains(FALL + " consecutive failed checks"), b.toString());

        // b comes back: in the table again after rise checks, and new connections reach it again.
        backends.get(1).start();
        await(() -> healthy("b"), UP_BOUND, "b back up");
        assertEquals(3, web.snapshot().tableBackends().size());
        List<EchoClient> again = new ArrayList<>();
        try {
            assertTrue(openClients(60, again).containsKey("b"), "b gets new connections after coming back");
        } finally {
            for (EchoClient c : again) {
                c.close();
            }
        }
        for (EchoClient c : onOthers) {
            c.roundTrip(value++);
        }
    }

    private JsonNode backendStatus(String name) throws Exception {
        JsonNode status = JSON.readTree(daemon.get("/status").body());
        for (JsonNode b : status.get("vips").get(0).get("backends")) {
            if (b.get("name").asText().equals(name)) {
                return b;
            }
        }
        throw new AssertionError("no backend " + name + " in status");
    }

    @Test
    void withEveryBackendDownNewClientsAreRefusedAtOnceAndTheVipRecovers() throws Exception {
        for (NamedEchoBackend b : backends) {
            b.stop();
        }
        VipRuntime web = daemon.daemon().vip("web").orElseThrow();
        await(() -> web.snapshot().isEmpty(), DOWN_BOUND, "every backend marked down");

        // A new client is closed at once (no backend to try), not left hanging.
        for (int i = 0; i < 5; i++) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), vipPort)) {
                s.setSoTimeout(5000);
                InputStream in = s.getInputStream();
                long start = System.nanoTime();
                try {
                    assertEquals(-1, in.read());
                } catch (SocketException reset) {
                    // reset instead of FIN: refused just the same
                }
                assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos());
            }
        }
        PrometheusText metrics = PrometheusText.parse(daemon.get("/metrics").body());
        assertTrue(metrics.value("maglev_connections_refused_total", "vip", "web", "reason", "no_backend") >= 5);
        assertEquals(0, metrics.value("maglev_table_slots_max", "vip", "web"));

        // No spinning: checks go on at their interval (a few per second per backend, not thousands).
        long checksBefore = daemon.control().healthChecker().health("web", "a").orElseThrow().checkCount();
        Thread.sleep(1000);
        long perSecond = daemon.control().healthChecker().health("web", "a").orElseThrow().checkCount() - checksBefore;
        assertTrue(perSecond <= 1000 / INTERVAL_MS + 1, "checks in one second: " + perSecond);

        // One backend back: the VIP serves again within rise x interval (+ slack), all on that backend.
        backends.get(2).start();
        await(() -> !web.snapshot().isEmpty(), UP_BOUND, "c back up");
        Set<String> reached = new HashSet<>();
        List<EchoClient> fresh = new ArrayList<>();
        try {
            openClients(10, fresh).keySet().forEach(reached::add);
        } finally {
            for (EchoClient c : fresh) {
                c.close();
            }
        }
        assertEquals(Set.of("c"), reached);
    }
}
