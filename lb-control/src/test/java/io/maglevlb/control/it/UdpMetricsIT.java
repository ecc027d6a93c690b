package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.InProcessDaemon.await;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.demo.UdpEchoBackend;
import io.maglevlb.control.metrics.PrometheusText;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A UDP VIP in the real in-process daemon: datagrams sent through it show up in /metrics (datagrams, bytes,
 * flows, drops, flow table, per backend) and its flows in /status; a backend that answers with ICMP port
 * unreachable shows up in the unreachable counters.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class UdpMetricsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int FLOWS = 3;
    private static final int DATAGRAMS_PER_FLOW = 5;

    @TempDir
    Path dir;

    private static String udpVip(String name, int port, String backend, InetSocketAddress address) {
        return """
                  - name: %s
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: 1009
                    idle_timeout: 120s
                    health_check:
                      type: none
                    backends:
                      - name: %s
                        address: 127.0.0.1:%d
                """.formatted(name, port, backend, address.getPort());
    }

    private static PrometheusText metrics(InProcessDaemon d) {
        try {
            HttpResponse<String> r = d.get("/metrics");
            assertEquals(200, r.statusCode(), r.body());
            return PrometheusText.parse(r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Waits until the scraped sample equals {@code expected} (the loops count racily, scrapes are cached). */
    private static PrometheusText awaitValue(InProcessDaemon d, double expected, String name, String... labels)
            throws InterruptedException {
        PrometheusText[] last = new PrometheusText[1];
        await(() -> {
            last[0] = metrics(d);
            return last[0].value(name, labels) == expected;
        }, WAIT, name + " " + List.of(labels) + " == " + expected);
        return last[0];
    }

    private static JsonNode vipStatus(InProcessDaemon d, String vip) throws Exception {
        HttpResponse<String> r = d.get("/status");
        assertEquals(200, r.statusCode(), r.body());
        for (JsonNode v : JSON.readTree(r.body()).path("vips")) {
            if (v.path("name").asText().equals(vip)) {
                return v;
            }
        }
        throw new AssertionError("no vip " + vip + " in " + r.body());
    }

    @Test
    void datagramsBytesFlowsAndDropsOfAUdpVipInMetricsAndStatus() throws Exception {
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        List<DatagramSocket> clients = new ArrayList<>();
        try (UdpEchoBackend backend = UdpEchoBackend.start("d1",
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                InProcessDaemon d = InProcessDaemon.start(dir, config(freePort(),
                        udpVip("dns", vipPort, "d1", backend.address())))) {
            long bytesOut = 0;
            long bytesBack = 0;
            for (int f = 0; f < FLOWS; f++) {
                DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                clients.add(client);
                client.setSoTimeout(10_000);
                for (int i = 0; i < DATAGRAMS_PER_FLOW; i++) {
                    String payload = "flow" + f + "-" + i;
                    String reply = ask(client, vip, payload);
                    assertEquals("d1: " + payload, reply);
                    bytesOut += payload.length();
                    bytesBack += reply.length();
                }
            }
            // An empty datagram is not forwarded (see UdpDropReason.EMPTY).
            clients.get(0).send(new DatagramPacket(new byte[0], 0, vip));

            int datagrams = FLOWS * DATAGRAMS_PER_FLOW;
            awaitValue(d, datagrams, "maglev_datagrams_total", "vip", "dns", "direction", "backend_to_client");
            PrometheusText t = awaitValue(d, 1, "maglev_datagrams_dropped_total", "vip", "dns", "reason", "empty");
            assertEquals(datagrams, t.value("maglev_datagrams_total", "vip", "dns", "direction", "client_to_backend"));
            assertEquals(bytesOut, t.value("maglev_bytes_total", "vip", "dns", "direction", "client_to_backend"));
            assertEquals(bytesBack, t.value("maglev_bytes_total", "vip", "dns", "direction", "backend_to_client"));
            assertEquals(FLOWS, t.value("maglev_connections_total", "vip", "dns"));
            assertEquals(FLOWS, t.value("maglev_connections_active", "vip", "dns"));
            assertEquals(0, t.value("maglev_datagrams_dropped_total", "vip", "dns", "reason", "no_backend"));
            assertEquals(FLOWS, t.value("maglev_flow_table_size", "vip", "dns"));
            assertEquals(FLOWS, t.value("maglev_flow_table_misses_total", "vip", "dns"));
            assertTrue(t.value("maglev_flow_table_hits_total", "vip", "dns") >= FLOWS * (DATAGRAMS_PER_FLOW - 1),
                    "later datagrams of a flow are flow table hits");
            assertEquals(0, t.value("maglev_flow_table_evictions_total", "vip", "dns", "reason", "idle"));
            assertEquals(0, t.value("maglev_backends_unreachable_total", "vip", "dns"));

            String[] b = {"vip", "dns", "backend", "d1"};
            assertEquals(datagrams, t.value("maglev_backend_datagrams_total", "vip", "dns", "backend", "d1",
                    "direction", "client_to_backend"));
            assertEquals(datagrams, t.value("maglev_backend_datagrams_total", "vip", "dns", "backend", "d1",
                    "direction", "backend_to_client"));
            assertEquals(bytesOut, t.value("maglev_backend_bytes_total", "vip", "dns", "backend", "d1",
                    "direction", "client_to_backend"));
            assertEquals(bytesBack, t.value("maglev_backend_bytes_total", "vip", "dns", "backend", "d1",
                    "direction", "backend_to_client"));
            assertEquals(FLOWS, t.value("maglev_backend_connections_total", b));
            assertEquals(FLOWS, t.value("maglev_backend_connections_active", b));
            assertEquals(0, t.value("maglev_backend_unreachable_total", b));

            JsonNode status = vipStatus(d, "dns");
            assertEquals("udp", status.path("protocol").asText(), status.toString());
            assertEquals(FLOWS, status.path("activeFlows").asLong(), status.toString());
            assertEquals(FLOWS, status.path("backends").get(0).path("activeFlows").asLong(), status.toString());
        } finally {
            clients.forEach(DatagramSocket::close);
        }
    }

    @Test
    void aBackendThatAnswersPortUnreachableIsCounted() throws Exception {
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        // Nothing listens on this port: the kernel answers the backend socket with ICMP port unreachable.
        InetSocketAddress closed = new InetSocketAddress(InetAddress.getLoopbackAddress(), UdpPorts.freeBelowEphemeralRange());
        try (InProcessDaemon d = InProcessDaemon.start(dir, config(freePort(), udpVip("gone", vipPort, "g1", closed)));
                DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
            byte[] payload = "anyone?".getBytes(StandardCharsets.UTF_8);
            long deadline = System.nanoTime() + WAIT.toNanos();
            PrometheusText t = metrics(d);
            for (int sent = 0; sent < 200 && System.nanoTime() < deadline
                    && t.value("maglev_backend_unreachable_total", "vip", "gone", "backend", "g1") == 0; sent++) {
                client.send(new DatagramPacket(payload, payload.length, vip));
                Thread.sleep(150);
                t = metrics(d);
            }
            double perBackend = t.value("maglev_backend_unreachable_total", "vip", "gone", "backend", "g1");
            assertTrue(perBackend >= 1, "ICMP port unreachable counted for the backend");
            assertTrue(t.value("maglev_backends_unreachable_total", "vip", "gone") >= perBackend);
        }
    }

    private static String ask(DatagramSocket client, InetSocketAddress vip, String payload) throws IOException {
        byte[] b = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(b, b.length, vip));
        DatagramPacket in = new DatagramPacket(new byte[2048], 2048);
        client.receive(in);
        return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
    }
}
