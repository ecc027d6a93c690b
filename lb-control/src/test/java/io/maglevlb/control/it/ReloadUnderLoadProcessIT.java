package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.control.demo.UdpEchoBackend;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 15, defect 5: reloads that change a VIP's settings while clients open a new connection per request.
 * The real daemon in its own JVM; 20 reloads alternate {@code connect_timeout} (1s / 2s) and
 * {@code max_connections} (0 / 10000), each of which gives the VIP a new forwarder on the same address. Every
 * request must succeed: no refused connection, no reset of a connection waiting in the old listener's accept
 * queue, no read that ends early.
 *
 * <p>The load is bounded in count ({@value #MAX_REQUESTS} requests) and time ({@link #LOAD_LIMIT}); the reloads
 * are paced by progress (each waits until {@value #REQUESTS_PER_RELOAD} more requests completed), not by sleeps.
 */
class ReloadUnderLoadProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    private static final Duration LOAD_LIMIT = Duration.ofSeconds(120);
    private static final int CLIENTS = 16;
    private static final long MAX_REQUESTS = 400_000;
    private static final int RELOADS = 20;
    private static final long REQUESTS_PER_RELOAD = 300;

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static String yaml(int adminPort, int vipPort, NamedEchoBackend a, NamedEchoBackend b, int variant) {
        String settings = variant % 2 == 0
                ? "    connect_timeout: 1s\n"
                : "    connect_timeout: 2s\n    max_connections: 10000\n";
        return config(adminPort, vip("web", vipPort, noCheck(), backend(a), backend(b))
                .replace("    connect_timeout: 1s\n", settings));
    }

    /** Each relay engine: the raw relay (epoll) and the portable one (Netty's NIO channels). */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void twentySettingsReloadsUnderNewConnectionLoadLoseNoClient(String transport) throws Exception {
        int adminPort = freePort();
        int vipPort = freePort();
        try (NamedEchoBackend a = new NamedEchoBackend("a");
             NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), yaml(adminPort, vipPort, a, b, 0));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"),
                    List.of("-Dmaglevd.transport=" + transport), "run", "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);

                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong done = new AtomicLong();
                AtomicLong errors = new AtomicLong();
                Map<String, Long> errorKinds = new ConcurrentHashMap<>();
                long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
                List<Thread> clients = new ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    clients.add(Thread.ofPlatform().name("client-" + i).start(() -> {
                        while (!stop.get() && done.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                            try {
                                request(vipPort);
                                done.incrementAndGet();
                            } catch (IOException | RuntimeException e) {
                                errors.incrementAndGet();
                                errorKinds.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                            }
                        }
                    }));
                }
                List<String> failedReloads = new ArrayList<>();
                try {
                    for (int r = 1; r <= RELOADS; r++) {
                        awaitProgress(done, errors, done.get() + REQUESTS_PER_RELOAD, deadline);
                        Files.writeString(config, yaml(adminPort, vipPort, a, b, r));
                        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                                .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (answer.statusCode() != 200 || !answer.body().contains("\"web\"")) {
                            failedReloads.add(r + ": " + answer.statusCode() + " " + answer.body());
                        }
                    }
                    awaitProgress(done, errors, done.get() + REQUESTS_PER_RELOAD, deadline);
                } finally {
                    stop.set(true);
                    for (Thread t : clients) {
                        t.join(Duration.ofSeconds(30));
                    }
                }
                assertEquals(List.of(), failedReloads, "every reload applied and changed vip web");
                assertEquals(RELOADS, maglevd.output().lines().filter(l -> l.contains("vip web: re-bound")).count(), maglevd.output());
                assertEquals(0, errors.get(), "client errors over " + done.get() + " requests: " + errorKinds);
                assertTrue(done.get() >= (RELOADS + 1) * REQUESTS_PER_RELOAD, "requests done: " + done.get());
            }
        }
    }

    private static String udpYaml(int adminPort, int vipPort, List<UdpEchoBackend> backends, int variant) {
        StringBuilder sb = new StringBuilder("""
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: 1009
                    idle_timeout: %s
                    health_check:
                      type: none
                    backends:
                """.formatted(vipPort, variant % 2 == 0 ? "2s" : "3s"));
        for (UdpEchoBackend b : backends) {
            sb.append("      - name: ").append(b.name()).append("\n        address: 127.0.0.1:")
                    .append(b.address().getPort()).append('\n');
        }
        return config(adminPort, sb.toString());
    }

    /** UDP: new flows and one long flow per client while 20 reloads change idle_timeout. */
    @Test
    void twentySettingsReloadsOfAUdpVipUnderLoadLoseNoDatagram() throws Exception {
        int adminPort = freePort();
        int vipPort;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            vipPort = probe.getLocalPort();
        }
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        List<UdpEchoBackend> backends = List.of(
                UdpEchoBackend.start("u1", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false),
                UdpEchoBackend.start("u2", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false));
        try {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), udpYaml(adminPort, vipPort, backends, 0));
            // The test JVMs' 256 MB heap, as shipped: a reload of idle_timeout moves the flows to the new forwarder,
            // so 20 quick reloads keep no old flow tables (they did, 5.5 MB per loop, and outgrew 256 MB).
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), List.of(), "run",
                    "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong done = new AtomicLong();
                AtomicLong errors = new AtomicLong();
                Map<String, Long> errorKinds = new ConcurrentHashMap<>();
                long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
                List<Thread> clients = new ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    boolean longFlow = i % 2 == 0;
                    clients.add(Thread.ofPlatform().name("udp-client-" + i).start(() -> {
                        DatagramSocket flow = null;
                        try {
                            while (!stop.get() && done.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                                try {
                                    if (flow == null || !longFlow) {
                                        if (flow != null) {
                                            flow.close();
                                        }
                                        flow = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                                        flow.setSoTimeout(2_000);
                                    }
                                    byte[] q = "q".getBytes(StandardCharsets.US_ASCII);
                                    flow.send(new DatagramPacket(q, q.length, vip));
                                    DatagramPacket in = new DatagramPacket(new byte[256], 256);
                                    flow.receive(in);
                                    done.incrementAndGet();
                                } catch (IOException | RuntimeException e) {
                                    errors.incrementAndGet();
                                    errorKinds.merge((longFlow ? "long flow " : "new flow ") + e.getClass()
                                            .getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                                    if (flow != null) {
                                        flow.close();
                                        flow = null;
                                    }
                                }
                            }
                        } finally {
                            if (flow != null) {
                                flow.close();
                            }
                        }
                    }));
                }
                List<String> failedReloads = new ArrayList<>();
                try {
                    for (int r = 1; r <= RELOADS; r++) {
                        awaitProgress(done, errors, done.get() + errors.get() + REQUESTS_PER_RELOAD, deadline);
                        Files.writeString(config, udpYaml(adminPort, vipPort, backends, r));
                        HttpResponse<String> answer = http.send(HttpRequest.newBuilder(
                                        URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                                .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (answer.statusCode() != 200 || !answer.body().contains("\"dns\"")) {
                            failedReloads.add(r + ": " + answer.statusCode() + " " + answer.body());
                        }
                    }
                    awaitProgress(done, errors, done.get() + errors.get() + REQUESTS_PER_RELOAD, deadline);
                } finally {
                    stop.set(true);
                    for (Thread t : clients) {
                        t.join(Duration.ofSeconds(30));
                    }
                }
                System.out.printf("udp reloads: %d exchanges, %d lost, %s; failed reloads: %s%n", done.get(),
                        errors.get(), errorKinds, failedReloads);
                assertEquals(List.of(), failedReloads, "every reload applied and changed vip dns");
                assertEquals(0, errors.get(), "lost exchanges over " + done.get() + ": " + errorKinds);
            }
        } finally {
            for (UdpEchoBackend b : backends) {
                b.close();
            }
        }
    }

    /** Waits until {@code target} requests are done (or the load's deadline passed). */
    private static void awaitProgress(AtomicLong done, AtomicLong errors, long target, long deadline)
            throws InterruptedException {
        while (done.get() + errors.get() < target && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /** One request on a new connection: the backend's greeting, one echoed byte, then both sides close. */
    private static void request(int vipPort) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort), 10_000);
            InputStream in = s.getInputStream();
            int c;
            int greeting = 0;
            while ((c = in.read()) >= 0 && c != '\n') {
                greeting++;
            }
            if (c < 0 || greeting == 0) {
                throw new IOException("connection ended before the backend's greeting");
            }
            s.getOutputStream().write('!');
            if (in.read() != '!') {
                throw new IOException("echo missing");
            }
            s.shutdownOutput();
            if (in.read() != -1) {
                throw new IOException("bytes after the echo");
            }
        }
    }
}
