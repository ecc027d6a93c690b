package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real daemon in its own JVM ({@code maglevd run --config FILE --demo-backends}) with a UDP VIP: flows
 * from many client addresses spread over the demo UDP backends, every reply comes from the VIP address, a
 * flow stays on one backend, and SIGTERM lets tracked flows finish while refusing new ones.
 */
class UdpDaemonProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    private static final Duration EXIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** A loopback port free for UDP and for TCP (the demo UDP backends also answer TCP on their port). */
    private static int freeTcpPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Path writeConfig(int vipPort, List<String[]> backends) throws IOException {
        StringBuilder yaml = new StringBuilder("""
                workers: 2
                shutdown_timeout: 20s
                admin:
                  listen: 127.0.0.1:%d
                vips:
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: 1009
                    idle_timeout: 1s
                    health_check:
                      type: none
                    backends:
                """.formatted(freeTcpPort(), vipPort));
        for (String[] b : backends) {
            yaml.append("      - name: ").append(b[0]).append('\n')
                    .append("        address: ").append(b[1]).append('\n');
        }
        return Files.writeString(dir.resolve("maglevd.yaml"), yaml.toString());
    }

    /** Client address number {@code i}: 127.0.x.y, so flows differ in source address as well as port. */
    private static InetAddress source(int i) throws IOException {
        return InetAddress.getByAddress(new byte[] {127, 0, (byte) (1 + i / 250), (byte) (i % 250 + 1)});
    }

    /** Sends {@code payload} to the VIP and returns the reply; fails unless it came from the VIP address. */
    private static String ask(DatagramSocket client, InetSocketAddress vip, String payload) throws IOException {
        byte[] b = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(b, b.length, vip));
        DatagramPacket in = new DatagramPacket(new byte[2048], 2048);
        client.receive(in);
        assertEquals(vip, in.getSocketAddress(), "replies come from the VIP address and port");
        return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
    }

    /** The backend name in a demo backend's answer {@code <name>: <payload>}. */
    private static String backendOf(String reply, String payload) {
        assertTrue(reply.endsWith(": " + payload), reply);
        return reply.substring(0, reply.length() - payload.length() - 2);
    }

    @Test
    void forwardsFlowsToTheDemoBackendsAndDrainsTrackedFlowsOnSigterm() throws Exception {
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        List<String[]> backends = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            backends.add(new String[] {"dns-" + i, "127.0.0.1:" + UdpPorts.freeUdpAndTcpBelowEphemeralRange()});
        }
        Path config = writeConfig(vipPort, backends);
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config",
                config.toString(), "--demo-backends")) {
            maglevd.awaitLine("maglevd running", STARTUP);
            String vipLine = maglevd.awaitLine("vip dns: udp proxy on 127.0.0.1:" + vipPort, STARTUP);
            assertTrue(vipLine.contains("3 backends") && vipLine.contains("2 SO_REUSEPORT sockets"), vipLine);

            Map<String, Integer> perBackend = new HashMap<>();
            for (int i = 0; i < 300; i++) {
                try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(source(i), 0))) {
                    client.setSoTimeout(10_000);
                    String first = backendOf(ask(client, vip, "q" + i), "q" + i);
                    String second = backendOf(ask(client, vip, "again"), "again");
                    assertEquals(first, second, "a flow stays on its backend");
                    perBackend.merge(first, 1, Integer::sum);
                }
            }
            assertEquals(Set.of("dns-1", "dns-2", "dns-3"), perBackend.keySet(), perBackend.toString());
            for (int n : perBackend.values()) {
                assertTrue(n > 50, "300 flows spread over three equal backends: " + perBackend);
            }

            // SIGTERM with a tracked flow: it is still forwarded, a new flow is refused, and once the tracked
            // flow goes idle (idle_timeout 1s) maglevd exits 0, long before shutdown_timeout (20s).
            try (DatagramSocket tracked = new DatagramSocket(new InetSocketAddress(source(1000), 0));
                    DatagramSocket late = new DatagramSocket(new InetSocketAddress(source(1001), 0))) {
                tracked.setSoTimeout(10_000);
                String backend = backendOf(ask(tracked, vip, "before"), "before");
                maglevd.terminate();
                maglevd.awaitLine("waiting up to", EXIT); // logged once every VIP stopped taking new flows
                assertEquals(backend, backendOf(ask(tracked, vip, "during"), "during"),
                        "a tracked flow is forwarded while draining");
                late.setSoTimeout(300);
                byte[] b = "new".getBytes(StandardCharsets.UTF_8);
                late.send(new DatagramPacket(b, b.length, vip));
                try {
                    late.receive(new DatagramPacket(new byte[100], 100));
                    throw new AssertionError("a new flow was answered after SIGTERM");
                } catch (SocketTimeoutException expected) {
                    // refused
                }
            }
            assertEquals(0, maglevd.awaitExit(EXIT), maglevd.output());
            String output = maglevd.output();
            assertTrue(output.contains("maglevd stopped"), output);
            assertFalse(output.contains("shutdown timeout"), "the flow went idle before the deadline:\n" + output);
        }
    }
}
