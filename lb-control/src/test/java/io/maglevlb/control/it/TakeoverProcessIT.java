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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16: hitless binary upgrade with real maglevd processes and real clients. Two takeovers in a row while
 * clients open a new connection per request, 100 connections are held across each takeover (and finish through
 * the old process afterwards) and UDP flows send throughout; and takeovers that are refused (a broken
 * configuration, a configuration that cannot serve what is handed over) while the old process serves on.
 *
 * <p>Load is bounded in count and time; every wait is for an event (a log line, a count), with generous limits.
 */
class TakeoverProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(120);
    private static final Duration LOAD_LIMIT = Duration.ofSeconds(240);
    private static final int TCP_CLIENTS = 6;
    private static final int UDP_FLOWS = 6;
    private static final int HELD = 100;
    private static final long MAX_REQUESTS = 300_000;
    private static final long PROGRESS = 200;
    private static final int ADMIN_CLIENTS = 4;

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private String yaml(int adminPort, int tcpPort, int udpPort, Path socket, List<NamedEchoBackend> tcp,
            List<UdpEchoBackend> udp) {
        StringBuilder u = new StringBuilder("""
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: 1009
                    idle_timeout: 2s
                    health_check:
                      type: none
                    backends:
                """.formatted(udpPort));
        for (UdpEchoBackend b : udp) {
            u.append("      - name: ").append(b.name()).append("\n        address: 127.0.0.1:")
                    .append(b.address().getPort()).append('\n');
        }
        return config(adminPort, vip("web", tcpPort, noCheck(), backend(tcp.get(0)), backend(tcp.get(1))),
                u.toString())
                .replace("shutdown_timeout: 5s\n", "shutdown_timeout: 120s\nupgrade_socket: " + socket + "\n");
    }

    @Test
    void twoTakeoversInARowUnderLoadLoseNothing() throws Exception {
        int adminPort = freePort();
        int tcpPort = freePort();
        int udpPort;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udpPort = probe.getLocalPort();
        }
        Path socket = dir.resolve("run").resolve("upgrade.sock");
        InetSocketAddress udpVip = new InetSocketAddress(InetAddress.getLoopbackAddress(), udpPort);
        List<UdpEchoBackend> udp = List.of(
                UdpEchoBackend.start("u1", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false),
                UdpEchoBackend.start("u2", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false));
        List<DaemonProcess> processes = new ArrayList<>();
        try (NamedEchoBackend a = new NamedEchoBackend("a"); NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"),
                    yaml(adminPort, tcpPort, udpPort, socket, List.of(a, b), udp));
            DaemonProcess first = DaemonProcess.start(dir.resolve("gen1.log"), "run", "--config", config.toString());
            processes.add(first);
            first.awaitLine("takeover: listening on", STARTUP);
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(socket)));
            assertEquals("rwxr-x---", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(socket.getParent())));

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong done = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            AtomicLong udpSent = new AtomicLong();
            AtomicLong udpLost = new AtomicLong();
            Map<String, Long> errorKinds = new ConcurrentHashMap<>();
            Map<Integer, Set<String>> udpBackends = new ConcurrentHashMap<>();
            long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < TCP_CLIENTS; i++) {
                clients.add(Thread.ofPlatform().name("client-" + i).start(() -> {
                    while (!stop.get() && done.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                        try {
                            request(tcpPort);
                            done.incrementAndGet();
                        } catch (IOException | RuntimeException e) {
                            errors.incrementAndGet();
                            errorKinds.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                        }
                    }
                }));
            }
            for (int i = 0; i < UDP_FLOWS; i++) {
                int flowId = i;
                clients.add(Thread.ofPlatform().name("udp-" + i).start(() -> {
                    try (DatagramSocket flow = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                        flow.setSoTimeout(2_000);
                        byte[] q = "q".getBytes(StandardCharsets.US_ASCII);
                        while (!stop.get() && udpSent.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                            udpSent.incrementAndGet();
                            flow.send(new DatagramPacket(q, q.length, udpVip));
                            DatagramPacket in = new DatagramPacket(new byte[256], 256);
                            try {
                                flow.receive(in);
                            } catch (java.net.SocketTimeoutException e) {
                                udpLost.incrementAndGet();
                                continue;
                            }
                            String reply = new String(in.getData(), 0, in.getLength(), StandardCharsets.US_ASCII);
                            udpBackends.computeIfAbsent(flowId, k -> ConcurrentHashMap.newKeySet())
                                    .add(reply.substring(0, reply.indexOf(':')));
                        }
                    } catch (IOException e) {
                        errorKinds.merge("udp flow " + flowId + ": " + e, 1L, Long::sum);
                    }
                }));
            }
            try {
                DaemonProcess old = first;
                for (int gen = 2; gen <= 3; gen++) {
                    awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                    List<HeldConnection> held = new ArrayList<>();
                    try {
                        for (int i = 0; i < HELD; i++) {
                            held.add(new HeldConnection(tcpPort));
                        }
                        long t0 = System.nanoTime();
                        DaemonProcess next = DaemonProcess.start(dir.resolve("gen" + gen + ".log"), "run",
                                "--config", config.toString(), "--takeover");
                        processes.add(next);
                        next.awaitLine("takeover: serving in place of pid " + old.handle().pid(), STARTUP);
                        long servingMs = (System.nanoTime() - t0) / 1_000_000;
                        old.awaitLine("takeover: handed over to pid " + next.handle().pid(), STARTUP);
                        long t1 = System.nanoTime();
                        awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                        for (HeldConnection h : held) {
                            h.finish(); // through the old process, which still relays them
                        }
                        assertEquals(0, old.awaitExit(Duration.ofSeconds(150)), old.output());
                        long drainMs = (System.nanoTime() - t1) / 1_000_000;
                        System.out.printf("takeover to generation %d: serving %d ms after start, old process "
                                + "drained and exited %d ms after the hand-over%n", gen, servingMs, drainMs);
                        old = next;
                    } finally {
                        for (HeldConnection h : held) {
                            h.close();
                        }
                    }
                }
                awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                HttpResponse<String> status = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + adminPort + "/status")).build(),
                        HttpResponse.BodyHandlers.ofString());
                String compact = status.body().replaceAll("\\s", "");
                assertTrue(compact.contains("\"generation\":3,\"parentPid\":" + processes.get(1).handle().pid()),
                        status.body());
                HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + adminPort + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertTrue(metrics.body().contains("maglev_process_info{generation=\"3\",parent_pid=\""
                        + processes.get(1).handle().pid() + "\"}"), metrics.body());
            } finally {
                stop.set(true);
                for (Thread t : clients) {
                    t.join(Duration.ofSeconds(30));
                }
            }
            System.out.printf("takeovers: %d requests, %d failed %s; udp %d sent, %d lost; udp backends per flow %s%n",
                    done.get(), errors.get(), errorKinds, udpSent.get(), udpLost.get(), udpBackends);
            assertEquals(0, errors.get(), "failed requests over " + done.get() + ": " + errorKinds);
            assertTrue(udpLost.get() * 100 <= udpSent.get(), "udp loss over 1 %: " + udpLost + " of " + udpSent);
            udpBackends.forEach((flow, names) -> assertEquals(1, names.size(), "flow " + flow + " moved: " + names));
            assertEquals(UDP_FLOWS, udpBackends.size());
            DaemonProcess last = processes.get(processes.size() - 1);
            last.terminate();
            assertEquals(0, last.awaitExit(Duration.ofSeconds(150)), last.output());
        } finally {
            for (DaemonProcess p : processes) {
                p.close();
            }
            for (UdpEchoBackend u : udp) {
                u.close();
            }
        }
    }

    @Test
    void refusedTakeoversLeaveTheOldProcessServing() throws Exception {
        int adminPort = freePort();
        int tcpPort = freePort();
        int udpPort;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udpPort = probe.getLocalPort();
        }
        Path socket = dir.resolve("run").resolve("upgrade.sock");
        List<UdpEchoBackend> udp = List.of(
                UdpEchoBackend.start("u1", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false));
        try (NamedEchoBackend a = new NamedEchoBackend("a"); NamedEchoBackend b = new NamedEchoBackend("b")) {
            String good = yaml(adminPort, tcpPort, udpPort, socket, List.of(a, b), udp);
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), good);
            try (DaemonProcess old = DaemonProcess.start(dir.resolve("old.log"), "run", "--config",
                    config.toString());
                    java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                old.awaitLine("takeover: listening on", STARTUP);
                HeldConnection held = new HeldConnection(tcpPort);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong done = new AtomicLong();
                AtomicLong errors = new AtomicLong();
                Map<String, Long> errorKinds = new ConcurrentHashMap<>();
                long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
                Thread load = Thread.ofPlatform().name("client").start(() -> {
                    while (!stop.get() && done.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                        try {
                            request(tcpPort);
                            done.incrementAndGet();
                        } catch (IOException | RuntimeException e) {
                            errors.incrementAndGet();
                            errorKinds.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                        }
                    }
                });
                try {
                    // 1. A broken configuration: the new process stops before it connects.
                    Path broken = Files.writeString(dir.resolve("broken.yaml"), good.replace("table_size: 1009",
                            "table_size: -3"));
                    try (DaemonProcess next = DaemonProcess.start(dir.resolve("broken.log"), "run", "--config",
                            broken.toString(), "--takeover")) {
                        assertEquals(78, next.awaitExit(STARTUP), next.output()); // a configuration error
                    }
                    awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                    // 2. The sockets arrive, but the new process cannot serve beside them: its admin API would listen
                    //    on an address another program holds. It aborts, tells the old process, and lets go of the
                    //    sockets it received without having accepted on them.
                    String clash = good.replace("listen: 127.0.0.1:" + adminPort,
                            "listen: 127.0.0.1:" + taken.getLocalPort());
                    Path clashing = Files.writeString(dir.resolve("clash.yaml"), clash);
                    try (DaemonProcess next = DaemonProcess.start(dir.resolve("clash.log"), "run", "--config",
                            clashing.toString(), "--takeover")) {
                        assertEquals(1, next.awaitExit(STARTUP), next.output());
                        assertTrue(next.output().contains("takeover aborted"), next.output());
                    }
                    old.awaitLine("aborted", STARTUP);
                    awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                    held.finish();
                    held.close();
                    assertTrue(old.isAlive(), old.output());
                    // 3. A good takeover is still possible afterwards.
                    try (DaemonProcess next = DaemonProcess.start(dir.resolve("good.log"), "run", "--config",
                            config.toString(), "--takeover")) {
                        next.awaitLine("takeover: serving in place of pid " + old.handle().pid(), STARTUP);
                        assertEquals(0, old.awaitExit(Duration.ofSeconds(150)), old.output());
                        awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                        stop.set(true);
                        load.join(Duration.ofSeconds(30));
                        next.terminate();
                        assertEquals(0, next.awaitExit(Duration.ofSeconds(150)), next.output());
                    }
                } finally {
                    stop.set(true);
                    load.join(Duration.ofSeconds(30));
                }
                System.out.printf("refused takeovers: %d requests, %d failed %s%n", done.get(), errors.get(),
                        errorKinds);
                assertEquals(0, errors.get(), "failed requests over " + done.get() + ": " + errorKinds);
            }
        } finally {
            for (UdpEchoBackend u : udp) {
                u.close();
            }
        }
    }

    /**
     * {@code POST /upgrade} (what {@code maglevd ctl upgrade} sends): the running process starts its successor with
     * its own command line; the successor takes over and, under systemd, says {@code MAINPID=} on
     * {@code NOTIFY_SOCKET} (here a datagram socket socat reads, standing in for systemd).
     */
    @Test
    void upgradeThroughTheAdminApiStartsTheSuccessorWhichTellsSystemd() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/socat")),
                "socat is not installed (apt-get install socat)");
        int adminPort = freePort();
        int tcpPort = freePort();
        int udpPort;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udpPort = probe.getLocalPort();
        }
        Path socket = dir.resolve("run").resolve("upgrade.sock");
        Path notify = dir.resolve("notify.sock");
        Path notified = dir.resolve("notified.txt");
        List<UdpEchoBackend> udp = List.of(
                UdpEchoBackend.start("u1", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false));
        Process socat = new ProcessBuilder("socat", "-u", "UNIX-RECV:" + notify, "OPEN:" + notified + ",creat,append")
                .redirectErrorStream(true).redirectOutput(dir.resolve("socat.log").toFile()).start();
        ProcessHandle successor = null;
        try (NamedEchoBackend a = new NamedEchoBackend("a"); NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"),
                    yaml(adminPort, tcpPort, udpPort, socket, List.of(a, b), udp));
            while (!Files.exists(notify) && socat.isAlive()) {
                Thread.sleep(10); // socat binds the socket it reads
            }
            try (DaemonProcess old = DaemonProcess.startUnder(List.of(), dir.resolve("old.log"), List.of(),
                    Map.of("NOTIFY_SOCKET", notify.toString()), "run", "--config", config.toString())) {
                old.awaitLine("takeover: listening on", STARTUP);
                HeldConnection held = new HeldConnection(tcpPort);
                HttpResponse<String> answer = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + adminPort + "/upgrade"))
                        .POST(HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(202, answer.statusCode(), answer.body());
                String pid = answer.body().replaceAll("(?s).*\"successorPid\"\\s*:\\s*(\\d+).*", "$1");
                successor = ProcessHandle.of(Long.parseLong(pid)).orElseThrow();
                old.awaitLine("takeover: handed over to pid " + pid, STARTUP);
                held.finish();
                held.close();
                assertEquals(0, old.awaitExit(Duration.ofSeconds(150)), old.output());
                request(tcpPort);
                long deadline = System.nanoTime() + STARTUP.toNanos();
                while (!(Files.exists(notified) && Files.readString(notified).contains("MAINPID=" + pid))
                        && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertTrue(Files.readString(notified).contains("MAINPID=" + pid), old.output());
                // the successor's log lines go where the old process's went
                assertTrue(old.output().contains("takeover: serving in place of pid " + old.handle().pid()),
                        old.output());
                successor.destroy();
                successor.onExit().get(150, java.util.concurrent.TimeUnit.SECONDS);
            }
        } finally {
            if (successor != null && successor.isAlive()) {
                successor.destroyForcibly();
            }
            socat.destroyForcibly();
            for (UdpEchoBackend u : udp) {
                u.close();
            }
        }
    }

    /**
     * The admin API's listening socket moves too: clients that open a new connection per request (as
     * {@code maglevd ctl}, a liveness probe or a scraper do) get every request answered across a takeover, by the old
     * process or the new one, and none is reset.
     */
    @Test
    void adminRequestsAcrossATakeoverAreAllAnswered() throws Exception {
        int adminPort = freePort();
        int tcpPort = freePort();
        int udpPort;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udpPort = probe.getLocalPort();
        }
        Path socket = dir.resolve("run").resolve("upgrade.sock");
        List<UdpEchoBackend> udp = List.of(
                UdpEchoBackend.start("u1", new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), false));
        try (NamedEchoBackend a = new NamedEchoBackend("a"); NamedEchoBackend b = new NamedEchoBackend("b")) {
            Path config = Files.writeString(dir.resolve("maglevd.yaml"),
                    yaml(adminPort, tcpPort, udpPort, socket, List.of(a, b), udp));
            try (DaemonProcess old = DaemonProcess.start(dir.resolve("old.log"), "run", "--config", config.toString())) {
                old.awaitLine("takeover: listening on", STARTUP);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong done = new AtomicLong();
                AtomicLong errors = new AtomicLong();
                Map<String, Long> errorKinds = new ConcurrentHashMap<>();
                long deadline = System.nanoTime() + LOAD_LIMIT.toNanos();
                List<Thread> clients = new ArrayList<>();
                for (int i = 0; i < ADMIN_CLIENTS; i++) {
                    clients.add(Thread.ofPlatform().name("admin-client-" + i).start(() -> {
                        while (!stop.get() && done.get() < MAX_REQUESTS && System.nanoTime() < deadline) {
                            try {
                                healthz(adminPort);
                                done.incrementAndGet();
                            } catch (IOException | RuntimeException e) {
                                errors.incrementAndGet();
                                errorKinds.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1L, Long::sum);
                            }
                        }
                    }));
                }
                try (DaemonProcess next = DaemonProcess.start(dir.resolve("next.log"), "run", "--config",
                        config.toString(), "--takeover")) {
                    try {
                        awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                        next.awaitLine("takeover: serving in place of pid " + old.handle().pid(), STARTUP);
                        assertEquals(0, old.awaitExit(Duration.ofSeconds(150)), old.output());
                        awaitProgress(done, errors, done.get() + PROGRESS, deadline);
                    } finally {
                        stop.set(true);
                        for (Thread t : clients) {
                            t.join(Duration.ofSeconds(30));
                        }
                    }
                    System.out.printf("admin requests across a takeover: %d answered, %d failed %s%n", done.get(),
                            errors.get(), errorKinds);
                    assertEquals(0, errors.get(), "failed admin requests over " + done.get() + ": " + errorKinds
                            + "\nold:\n" + old.output() + "\nnew:\n" + next.output());
                    next.terminate();
                    assertEquals(0, next.awaitExit(Duration.ofSeconds(150)), next.output());
                }
            }
        } finally {
            for (UdpEchoBackend u : udp) {
                u.close();
            }
        }
    }

    /** {@code GET /healthz} on a new connection, closed by the client after the whole answer. */
    private static void healthz(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(30_000);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            s.getOutputStream().write(("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            if (!answer.startsWith("HTTP/1.1 200")) {
                throw new IOException("answer: " + (answer.isEmpty() ? "none (closed)" : answer.lines().findFirst()
                        .orElse("")));
            }
        }
    }

    /** A connection opened before a takeover that finishes after it: greeting now, echo later. */
    private static final class HeldConnection implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;

        HeldConnection(int port) throws IOException {
            socket = new Socket();
            socket.setSoTimeout(30_000);
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            in = socket.getInputStream();
            int c;
            int greeting = 0;
            while ((c = in.read()) >= 0 && c != '\n') {
                greeting++;
            }
            if (c < 0 || greeting == 0) {
                throw new IOException("held connection ended before the backend's greeting");
            }
        }

        void finish() throws IOException {
            socket.getOutputStream().write('#');
            if (in.read() != '#') {
                throw new IOException("held connection: echo missing");
            }
            socket.shutdownOutput();
            if (in.read() != -1) {
                throw new IOException("held connection: bytes after the echo");
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static void awaitProgress(AtomicLong done, AtomicLong errors, long target, long deadline)
            throws InterruptedException {
        while (done.get() + errors.get() < target && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /** One request on a new connection: the backend's greeting, one echoed byte, then both sides close. */
    private static void request(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
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
