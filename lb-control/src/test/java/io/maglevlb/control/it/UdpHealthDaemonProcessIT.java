package io.maglevlb.control.it;

import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.metrics.PrometheusText;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Health checking of a UDP VIP in the real daemon, in its own JVM, with backends that speak only UDP (nothing
 * listens on TCP at their ports): the default check of a UDP VIP is a udp check, so such backends stay up and
 * the VIP answers; and a backend that dies is taken down by the passive signal (the dataplane's ICMP
 * unreachable count) long before its scheduled checks would.
 */
class UdpHealthDaemonProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    /** Bounds a wait for something that happens within a few seconds; only stops a hung test. */
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** A one-VIP config; {@code healthCheck} is the VIP's health_check block (indented) or empty for none. */
    private Path writeConfig(int adminPort, int vipPort, String healthCheck, List<UdpOnlyBackend> backends)
            throws IOException {
        StringBuilder yaml = new StringBuilder("""
                workers: 1
                shutdown_timeout: 1s
                admin:
                  listen: 127.0.0.1:%d
                vips:
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: 1009
                """.formatted(adminPort, vipPort));
        yaml.append(healthCheck);
        yaml.append("    backends:\n");
        for (UdpOnlyBackend b : backends) {
            yaml.append("      - name: ").append(b.name()).append('\n')
                    .append("        address: ").append(b.configAddress()).append('\n');
        }
        return Files.writeString(dir.resolve("maglevd.yaml"), yaml.toString());
    }

    private String get(int adminPort, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort
                + path)).timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private JsonNode backendStatus(int adminPort, String backend) throws Exception {
        String body = get(adminPort, "/status");
        for (JsonNode b : JSON.readTree(body).get("vips").get(0).get("backends")) {
            if (b.get("name").asText().equals(backend)) {
                return b;
            }
        }
        throw new AssertionError("no backend " + backend + " in " + body);
    }

    /** Polls the backend's status until {@code condition} holds; fails with the last status after WAIT. */
    private JsonNode awaitStatus(int adminPort, String backend, Predicate<JsonNode> condition, String what)
            throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            JsonNode b = backendStatus(adminPort, backend);
            if (condition.test(b)) {
                return b;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; last status: " + b);
            }
            Thread.sleep(50);
        }
    }

    /** Scrapes until {@code condition} holds (a scrape may be served from a short-lived cache). */
    private PrometheusText awaitMetrics(int adminPort, Predicate<PrometheusText> condition) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            PrometheusText m = PrometheusText.parse(get(adminPort, "/metrics"));
            if (condition.test(m) || System.nanoTime() > deadline) {
                return m;
            }
            Thread.sleep(100);
        }
    }

    private static boolean checked(JsonNode backend) {
        return !backend.path("lastCheck").isNull() && !backend.path("lastCheck").isMissingNode();
    }

    /** Client address number {@code i}: 127.0.x.y, so flows differ in source address as well as port. */
    private static InetAddress source(int i) throws IOException {
        return InetAddress.getByAddress(new byte[] {127, 0, (byte) (1 + i / 250), (byte) (i % 250 + 1)});
    }

    /** Sends one datagram from each of the sources {@code from..to-1} (new flows) without waiting for answers. */
    private static void sendFlows(int from, int to, InetSocketAddress vip) throws IOException {
        for (int i = from; i < to; i++) {
            try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(source(i), 0))) {
                byte[] b = ("f" + i).getBytes(StandardCharsets.UTF_8);
                client.send(new DatagramPacket(b, b.length, vip));
            }
        }
    }

    /** Sends one datagram of a new flow from source {@code i}; returns the answer, or null after 2 s of silence. */
    private static String ask(int i, InetSocketAddress vip, String payload) throws IOException {
        try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(source(i), 0))) {
            client.setSoTimeout(2000);
            byte[] b = payload.getBytes(StandardCharsets.UTF_8);
            client.send(new DatagramPacket(b, b.length, vip));
            DatagramPacket in = new DatagramPacket(new byte[2048], 2048);
            try {
                client.receive(in);
            } catch (java.net.SocketTimeoutException e) {
                return null;
            }
            return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void udpOnlyBackendsOfAUdpVipWithoutHealthCheckStayUpAndAnswer() throws Exception {
        int adminPort = freePort();
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        try (UdpOnlyBackend one = new UdpOnlyBackend("dns-1");
                UdpOnlyBackend two = new UdpOnlyBackend("dns-2")) {
            Path config = writeConfig(adminPort, vipPort, "", List.of(one, two));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config",
                    config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                for (String name : List.of("dns-1", "dns-2")) {
                    // A udp check: "reply of 27 bytes" ("dns-1: " and the 20-byte default datagram), or "no ICMP
                    // error within 1000 ms" when the loaded machine delays the answer. A tcp check would be
                    // refused ("failure: connection refused") and take the backend down.
                    JsonNode b = awaitStatus(adminPort, name, UdpHealthDaemonProcessIT::checked, name + "'s first check");
                    assertTrue(b.get("lastCheck").asText().startsWith("success: "), b::toString);
                    assertTrue(b.get("healthy").asBoolean(), b::toString);
                }
                Set<String> answeredBy = new TreeSet<>();
                for (int i = 0; i < 40; i++) {
                    String reply = ask(i, vip, "q" + i);
                    assertTrue(reply != null && reply.endsWith(": q" + i), "flow " + i + " answered: " + reply
                            + "\n" + maglevd.output());
                    answeredBy.add(reply.substring(0, reply.indexOf(':')));
                }
                assertEquals(Set.of("dns-1", "dns-2"), answeredBy);
                assertTrue(maglevd.output().lines().noneMatch(l -> l.contains(" DOWN ")), maglevd::output);
            }
        }
    }

    @Test
    void aKilledUdpBackendIsTakenDownByThePassiveSignalBeforeItsScheduledChecks() throws Exception {
        int adminPort = freePort();
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        // Scheduled checks alone would need fall x interval = 3 x 60 s to take a dead backend down (after a
        // first check that passed); a type is not named: udp is the default.
        String healthCheck = """
                    health_check:
                      interval: 60s
                      fall: 3
                """;
        try (UdpOnlyBackend one = new UdpOnlyBackend("dns-1")) {
            UdpOnlyBackend two = new UdpOnlyBackend("dns-2");
            Path config = writeConfig(adminPort, vipPort, healthCheck, List.of(one, two));
            try (two; DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config",
                    config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                for (String name : List.of("dns-1", "dns-2")) {
                    // The first scheduled check (within a tenth of the interval) passed: the backend's verdict
                    // is settled up, so one failed scheduled check would not take it down.
                    JsonNode b = awaitStatus(adminPort, name, UdpHealthDaemonProcessIT::checked, name + "'s first check");
                    assertTrue(b.get("healthy").asBoolean() && b.get("health").asText().startsWith("up: first check "
                            + "passed"), b::toString);
                }

                two.close(); // the port is closed: datagrams to it come back as ICMP port unreachable
                // New flows, some of which the table places on dns-2: their datagrams draw ICMP errors that the
                // dataplane counts; the control plane sees the count rise and has dns-2 checked at once.
                String down = null;
                for (int round = 0; round < 100 && down == null; round++) {
                    sendFlows(round * 10, round * 10 + 10, vip);
                    down = maglevd.output().lines().filter(l -> l.contains("backend dns-2 DOWN")).findFirst()
                            .orElse(null);
                    if (down == null) {
                        Thread.sleep(100);
                    }
                }
                assertTrue(down != null, "dns-2 never went down:\n" + maglevd.output());
                assertTrue(down.contains("ICMP unreachable error") && down.contains("from the dataplane, confirmed "
                        + "by an immediate check: ICMP port unreachable"), down);

                // State, not time: dns-2 went down after exactly one failed check, fewer than fall (3); no
                // scheduled check has failed (the next is due about 60 s after the first).
                JsonNode two2 = backendStatus(adminPort, "dns-2");
                assertTrue(!two2.get("healthy").asBoolean() && two2.get("slots").asInt() == 0, two2::toString);
                PrometheusText metrics = awaitMetrics(adminPort, m -> m.find("maglev_health_checks_total", "vip",
                        "dns", "backend", "dns-2", "result", "failure").isPresent());
                assertEquals(1.0, metrics.value("maglev_health_checks_total", "vip", "dns", "backend", "dns-2",
                        "result", "failure"), metrics.samples("maglev_health_checks_total")::toString);
                assertEquals(1.0, metrics.value("maglev_health_checks_total", "vip", "dns", "backend", "dns-2",
                        "result", "success"));
                assertEquals(1.0, metrics.value("maglev_health_passive_checks_total", "vip", "dns", "backend",
                        "dns-2"));
                assertTrue(maglevd.output().lines().noneMatch(l -> l.contains("backend dns-1 DOWN")),
                        maglevd::output);

                // New flows now all go to dns-1 and are answered.
                for (int i = 2000; i < 2020; i++) {
                    String reply = ask(i, vip, "q" + i);
                    assertEquals("dns-1: q" + i, reply, maglevd::output);
                }
            }
        }
    }
}
