package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16: reloads that change a VIP's listener ({@code listen}) while its accept queue is full and clients open
 * new connections. The real daemon in its own JVM. The queue is filled deterministically: {@code max_connections: 1}
 * and one held connection pause the listeners, so every further client completes its handshake in the kernel,
 * sends its request and waits in the accept queue. Pass: every queued client is served once the held connection
 * ends (before: the reload closed the old listeners and reset them), and the load of new connections sees no
 * refused or reset connection.
 *
 * <p>Load is bounded in count and time; waits are event-based (progress counts, joins), never fixed sleeps.
 */
class ReloadListenerOverlapProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    private static final Duration LOAD_LIMIT = Duration.ofSeconds(120);
    private static final int QUEUED = 16;
    private static final int CLIENTS = 4;
    private static final long MAX_REQUESTS = 50_000;
    private static final long REQUESTS_PER_STEP = 200;

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static String yaml(int adminPort, String host, int port, int maxConnections, NamedEchoBackend a,
            NamedEchoBackend b) {
        String v = vip("web", port, noCheck(), backend(a), backend(b))
                .replace("listen: 127.0.0.1:" + port, "listen: " + host + ":" + port);
        if (maxConnections > 0) {
            v = v.replace("    connect_timeout: 1s\n", "    connect_timeout: 1s\n    max_connections: "
                    + maxConnections + "\n");
        }
        return config(adminPort, v);
    }

    /** listen 127.0.0.1:P1 -> 127.0.0.1:P2: what waits in P1's queue is served, P2 serves at once, P1 then refuses. */
    @Test
    void aPortChangeServesTheOldPortsQueuedConnections() throws Exception {
        int adminPort = freePort();
        int oldPort = freePort();
        int newPort = freePort();
        try (NamedEchoBackend a = new NamedEchoBackend("a");
             NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"),
                    yaml(adminPort, "127.0.0.1", oldPort, 1, a, b));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), List.of(), "run",
                    "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                Socket held = QueuedClients.holdTheOnlySlot(oldPort, Duration.ofSeconds(20));
                QueuedClients queued = QueuedClients.start(oldPort, QUEUED, Duration.ofSeconds(60));
                try {
                    Files.writeString(config, yaml(adminPort, "127.0.0.1", newPort, 0, a, b));
                    assertReloadChanged(reload(adminPort));

                    Load load = Load.start(newPort);
                    try {
                        load.awaitProgress(REQUESTS_PER_STEP);
                    } finally {
                        load.stop();
                    }
                    held.close(); // its slot frees: the old forwarder serves what it drained from the queue
                    queued.join(Duration.ofSeconds(90));
                    System.out.printf("port change: %d queued served, %d failed; new port: %d requests, %d errors%n",
                            queued.served.get(), queued.failures.size(), load.done.get(), load.errors.get());
                    assertEquals(0, load.errors.get(), "new connections to the new port: " + load.errorKinds);
                    assertEquals(List.of(), queued.failures, "clients that waited in the old port's accept queue");
                    assertEquals(QUEUED, queued.served.get());
                    // The old port's listeners close once drained; a client still trying it is refused (its first SYN
                    // may be dropped while they drain, its retransmission is refused).
                    assertThrows(ConnectException.class, () -> {
                        try (Socket s = new Socket()) {
                            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), oldPort), 20_000);
                        }
                    });
                } finally {
                    held.close();
                    queued.join(Duration.ofSeconds(90));
                }
            }
        }
    }

    /**
     * listen 0.0.0.0:P -> 127.0.0.1:P -> 0.0.0.0:P while clients connect to 127.0.0.1:P: the new listeners join
     * the port beside the old ones (SO_REUSEPORT) before the old ones stop, so no connection is refused or reset, and
     * what waited in the first listeners' queue is served.
     */
    @Test
    void narrowingAndWideningTheAddressUnderLoadLosesNoClient() throws Exception {
        int adminPort = freePort();
        int port = freePort();
        try (NamedEchoBackend a = new NamedEchoBackend("a");
             NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), yaml(adminPort, "0.0.0.0", port, 1, a, b));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), List.of(), "run",
                    "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                Socket held = QueuedClients.holdTheOnlySlot(port, Duration.ofSeconds(20));
                QueuedClients queued = QueuedClients.start(port, QUEUED, Duration.ofSeconds(60));
                Load load = Load.start(port); // these wait in the queue too until the narrowing reload
                List<String> failedReloads = new ArrayList<>();
                try {
                    Files.writeString(config, yaml(adminPort, "127.0.0.1", port, 0, a, b));
                    collect(reload(adminPort), "narrow", failedReloads);
                    held.close();
                    load.awaitProgress(REQUESTS_PER_STEP);

                    Files.writeString(config, yaml(adminPort, "0.0.0.0", port, 0, a, b));
                    collect(reload(adminPort), "widen", failedReloads);
                    load.awaitProgress(REQUESTS_PER_STEP);
                } finally {
                    held.close();
                    load.stop();
                    queued.join(Duration.ofSeconds(90));
                }
                System.out.printf("narrow+widen: %d queued served, %d failed; %d requests, %d errors %s; reloads %s%n",
                        queued.served.get(), queued.failures.size(), load.done.get(), load.errors.get(),
                        load.errorKinds, failedReloads);
                assertEquals(List.of(), failedReloads, "both reloads applied and changed vip web");
                assertEquals(2, maglevd.output().lines().filter(l -> l.contains("vip web: re-bound")).count(),
                        maglevd.output());
                assertEquals(0, load.errors.get(), "client errors over " + load.done.get() + " requests: "
                        + load.errorKinds);
                assertEquals(List.of(), queued.failures, "clients that waited in the first listeners' queue");
                assertEquals(QUEUED, queued.served.get());
                assertTrue(load.done.get() >= 2 * REQUESTS_PER_STEP, "requests done: " + load.done.get());
            }
        }
    }

    private HttpResponse<String> reload(int adminPort) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                        .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void assertReloadChanged(HttpResponse<String> answer) {
        assertEquals(200, answer.statusCode(), answer.body());
        assertTrue(answer.body().contains("\"web\""), answer.body());
    }

    private static void collect(HttpResponse<String> answer, String what, List<String> failed) {
        if (answer.statusCode() != 200 || !answer.body().contains("\"web\"")) {
            failed.add(what + ": " + answer.statusCode() + " " + answer.body());
        }
    }

    /** {@value #CLIENTS} clients that each open a new connection per request, bounded in count and time. */
    private static final class Load {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong done = new AtomicLong();
        final AtomicLong errors = new AtomicLong();
        final Map<String, Long> errorKinds = new ConcurrentHashMap<>();
        final long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
        private final List<Thread> threads = new ArrayList<>();

        static Load start(int port) {
            Load load = new Load();
            for (int i = 0; i < CLIENTS; i++) {
                load.threads.add(Thread.ofPlatform().name("client-" + i).start(() -> {
                    while (!load.stop.get() && load.done.get() < MAX_REQUESTS && System.nanoTime() < load.deadline) {
                        try (Socket s = new Socket()) {
                            s.setSoTimeout(60_000);
                            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 20_000);
                            s.getOutputStream().write('!');
                            QueuedClients.exchange(s);
                            load.done.incrementAndGet();
                        } catch (IOException | RuntimeException e) {
                            load.errors.incrementAndGet();
                            load.errorKinds.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                        }
                    }
                }));
            }
            return load;
        }

        /** Waits until {@code more} requests more than now are done or failed (or the deadline passed). */
        void awaitProgress(long more) throws InterruptedException {
            long target = done.get() + errors.get() + more;
            while (done.get() + errors.get() < target && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        }

        void stop() throws InterruptedException {
            stop.set(true);
            for (Thread t : threads) {
                t.join(Duration.ofSeconds(90));
            }
        }
    }
}
