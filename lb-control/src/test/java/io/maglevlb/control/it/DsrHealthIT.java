package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * DSR health checks at the VIP (issue 19), with maglevd itself in the LB's namespace: three backends serve TCP
 * and UDP on the VIP only (VIP on lo, arp_ignore/arp_announce), a fourth serves on its own address and lacks the
 * VIP. Probes must find the first three up and the fourth down, say why in words an operator can act on, never
 * reach the engine, and clean up every rule and route at stop. A third VIP with {@code target: backend} checks
 * the backends' own addresses as before. Namespaces {@code mlb-<pid>-h*}, addresses from 198.18.0.0/15.
 *
 * <p>The LB has a default route via the client namespace (the "router", which routes the VIP back to the LB) and
 * strict rp_filter: an unmarked probe would travel router → LB → engine and be forwarded like a client's, which
 * the engine's frame counter would show; and a reply from the VIP passes strict rp_filter because the LB's route
 * to the VIP leaves through the interface the replies arrive on.
 */
@Timeout(180)
class DsrHealthIT {
    private static final String VIP = "198.18.1.1";
    private static final int PORT = 8080;
    private static final int OWN_PORT = 8081;
    private static final String CLIENT_IP = "198.18.0.1";
    private static final String LB_IP = "198.18.0.2";
    private static final String[] BACKEND_IPS = {"198.18.0.21", "198.18.0.22", "198.18.0.23", "198.18.0.24"};
    private static final long INTERVAL_MS = 300;
    private static final long TIMEOUT_MS = 200;
    private static final int FALL = 2;
    private static final int ADMIN_PORT = 9911;
    /** A batch of 60 clients in the client namespace, each waiting up to 5 s: more than Setns.call's 30 s default. */
    private static final Duration CLIENT_BATCH = Duration.ofSeconds(60);
    private static final String PREFIX = "mlb-" + ProcessHandle.current().pid() + "-h";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> namespaces = new ArrayList<>();
    private static final List<AutoCloseable> servers = Collections.synchronizedList(new ArrayList<>());
    /** Backend name -> its TCP listener, to stop one service. */
    private static final Map<String, ServerSocket> tcpServers = new ConcurrentHashMap<>();
    /** Backend name -> TCP connections accepted from the client's address. */
    private static final Map<String, AtomicInteger> clientConnections = new ConcurrentHashMap<>();
    private static Path configFile;
    private static Process daemon;
    private static final List<String> daemonOutput = Collections.synchronizedList(new ArrayList<>());
    private static Thread outputReader;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "DSR health network tests need root (network namespaces, AF_PACKET, policy routing); skipped");
        try {
            String sw = namespace("sw");
            run("ip", "-n", sw, "link", "add", "br0", "type", "bridge");
            run("ip", "-n", sw, "link", "set", "br0", "up");
            String client = host("c", CLIENT_IP);
            String lb = host("lb", LB_IP);
            run("ip", "-n", client, "route", "add", VIP + "/32", "via", LB_IP);
            run("ip", "-n", lb, "route", "add", "default", "via", CLIENT_IP);
            sysctl(lb, "net/ipv4/ip_forward", "0");
            sysctl(lb, "net/ipv4/conf/all/rp_filter", "1");
            sysctl(lb, "net/ipv4/conf/eth0/rp_filter", "1");
            for (int i = 0; i < BACKEND_IPS.length; i++) {
                String name = "b" + (i + 1);
                String ns = host(name, BACKEND_IPS[i]);
                boolean correct = i < 3;
                if (correct) {
                    run("ip", "-n", ns, "addr", "add", VIP + "/32", "dev", "lo");
                    for (String dev : new String[] {"all", "eth0"}) {
                        sysctl(ns, "net/ipv4/conf/" + dev + "/arp_ignore", "1");
                        sysctl(ns, "net/ipv4/conf/" + dev + "/arp_announce", "2");
                    }
                }
                // the first three serve the VIP only; the fourth its own address only (and has no VIP)
                InetAddress bindTo = InetAddress.ofLiteral(correct ? VIP : BACKEND_IPS[i]);
                startTcp(ns, name, bindTo);
                startUdp(ns, name, bindTo);
            }
            configFile = Files.createTempFile("maglevd-dsr-health", ".yaml");
            StringBuilder backends = new StringBuilder();
            for (int i = 0; i < BACKEND_IPS.length; i++) {
                backends.append("      - { name: b").append(i + 1).append(", address: \"").append(BACKEND_IPS[i])
                        .append(':').append(PORT).append("\" }\n");
            }
            String check = "type: tcp, interval: " + INTERVAL_MS + "ms, timeout: " + TIMEOUT_MS + "ms, rise: 2, fall: "
                    + FALL;
            // udp at the VIP: a reply must start with "hc" (the test's UDP servers answer "hc NAME" to "hc")
            String udpCheck = check.replace("type: tcp", "type: udp, send: hc, expect: hc");
            Files.writeString(configFile, """
                    workers: 1
                    shutdown_timeout: 1s
                    admin:
                      listen: 127.0.0.1:%d
                    vips:
                      - name: web
                        listen: "%s:%d"
                        protocol: tcp
                        mode: dsr
                        dsr: { method: l2, interface: eth0 }
                        health_check: { %s }
                        backends:
                    %s  - name: dns
                        listen: "%s:%d"
                        protocol: udp
                        mode: dsr
                        dsr: { method: l2, interface: eth0 }
                        health_check: { %s }
                        backends:
                    %s  - name: own
                        listen: "%s:%d"
                        protocol: tcp
                        mode: dsr
                        dsr: { method: l2, interface: eth0 }
                        health_check: { %s, target: backend }
                        backends:
                    %s""".formatted(ADMIN_PORT, VIP, PORT, check, backends, VIP, PORT, udpCheck, backends, VIP, OWN_PORT,
                    check, backends));
            daemon = new ProcessBuilder("ip", "netns", "exec", lb,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "-XX:+UseSerialGC", "-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), "io.maglevlb.control.cli.MaglevdMain",
                    "run", "--config", configFile.toString()).redirectErrorStream(true).start();
            CompletableFuture<Boolean> started = new CompletableFuture<>();
            outputReader = Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(daemon.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        daemonOutput.add(line);
                        if (line.contains("maglevd running")) {
                            started.complete(true);
                        }
                    }
                } catch (IOException ignored) {
                    // daemon gone
                }
                started.complete(false);
            });
            assertTrue(started.get(60, TimeUnit.SECONDS), "maglevd did not start:\n" + log());
        } catch (Exception | Error e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (daemon != null && daemon.isAlive()) {
            daemon.destroyForcibly();
            daemon.waitFor(10, TimeUnit.SECONDS);
        }
        for (AutoCloseable s : servers) {
            s.close();
        }
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            try {
                run("ip", "netns", "del", namespaces.get(i));
            } catch (IOException ignored) {
                // gone already
            }
        }
        namespaces.clear();
        if (configFile != null) {
            Files.deleteIfExists(configFile);
        }
    }

    @Test
    void probesAtTheVipFindTheMisconfiguredBackendAndStayOutOfTheEngine() throws Exception {
        // Settled: every VIP has checked every backend at least rise times.
        Map<String, JsonNode> web = awaitBackends("web", Map.of("b1", true, "b2", true, "b3", true, "b4", false));
        awaitBackends("dns", Map.of("b1", true, "b2", true, "b3", true, "b4", false));
        // target: backend behaves as before: the VIP-only services do not answer at the backends' addresses
        Map<String, JsonNode> own = awaitBackends("own", Map.of("b1", false, "b2", false, "b3", false, "b4", true));

        assertEquals("VIP " + VIP + ":" + PORT + " via " + BACKEND_IPS[0] + " (l2 on eth0, mark 0x4d470000)",
                web.get("b1").get("healthTarget").asText().replaceAll("mark 0x[0-9a-f]+", "mark 0x4d470000"),
                "/status says what the probe targeted");
        assertEquals("backend " + BACKEND_IPS[0] + ":" + PORT, own.get("b1").get("healthTarget").asText());
        String why = web.get("b4").get("health").asText();
        assertTrue(why.contains(BACKEND_IPS[3]) && why.contains("the VIP " + VIP + ":" + PORT)
                && why.contains("is the VIP on its loopback, and are arp_ignore/arp_announce set?"),
                "the reason names backend, VIP and what to check: " + why);
        assertTrue(logLines("backend b4 DOWN") >= 2 && log().contains("is the VIP on its loopback"),
                "the log says why too:\n" + log());

        // One rule per (VIP address, backend) probed at the VIP: web and dns share them, own has none.
        String rules = run("ip", "-n", PREFIX + "lb", "rule", "show");
        assertEquals(4, rules.lines().filter(l -> l.contains("fwmark 0x4d47")).count(), rules);

        // Probes never reached the engine: no frame received, no flow tracked, before any client traffic.
        Map<String, Double> metrics = metrics("maglev_packets_received_total");
        assertEquals(3, metrics.size(), metrics.toString());
        metrics.forEach((series, value) -> assertEquals(0.0, value, "probes seen by the engine: " + series));
        for (JsonNode vip : status().get("vips")) {
            assertEquals(0, vip.get("activeFlows").asLong(), "flows tracked for " + vip.get("name"));
        }

        // Clients: 0 failures, none reaches b4.
        Map<String, Integer> tcp = tcpClients(40000, 60);
        assertEquals(60, tcp.values().stream().mapToInt(Integer::intValue).sum(), "every TCP client answered: " + tcp);
        assertFalse(tcp.containsKey("b4"), tcp.toString());
        assertFalse(tcp.containsKey("failed"), tcp.toString());
        Map<String, Integer> udp = udpClients(41000, 60);
        assertFalse(udp.containsKey("failed") || udp.containsKey("b4"), udp.toString());
        assertEquals(3, udp.size(), "UDP spread over the three good backends: " + udp);
        assertEquals(0, clientConnections.get("b4").get(), "b4 never saw a client");

        // Stop b2's TCP service: down within fall x interval (+ jitter, one timeout and the status poll).
        long stoppedNs = System.nanoTime();
        tcpServers.get("b2").close();
        awaitBackends("web", Map.of("b1", true, "b2", false, "b3", true, "b4", false));
        long downMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppedNs);
        System.out.println("DsrHealthIT: b2 marked down " + downMs + " ms after its service stopped (fall " + FALL
                + " x interval " + INTERVAL_MS + " ms)");
        assertTrue(downMs <= FALL * INTERVAL_MS * 11 / 10 + TIMEOUT_MS + 1500, "marked down after " + downMs + " ms");
        String b2Why = status("web").get("b2").get("health").asText();
        assertTrue(b2Why.contains(BACKEND_IPS[1] + " refused the VIP " + VIP + ":" + PORT), b2Why);
        Map<String, Integer> after = tcpClients(42000, 60);
        assertFalse(after.containsKey("failed") || after.containsKey("b2") || after.containsKey("b4"), after.toString());
        assertEquals(60, after.values().stream().mapToInt(Integer::intValue).sum(), after.toString());

        // SIGTERM: every rule and route maglevd added goes.
        daemon.toHandle().destroy();
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "maglevd exits on SIGTERM");
        outputReader.join(10_000);
        assertEquals(0, daemon.exitValue(), log());
        String rulesAfter = run("ip", "-n", PREFIX + "lb", "rule", "show");
        assertFalse(rulesAfter.contains("fwmark"), rulesAfter);
        String routesAfter = run("ip", "-n", PREFIX + "lb", "route", "show", "table", "all", "proto", "77");
        assertEquals("", routesAfter.strip(), routesAfter);
    }

    // ---- clients

    /** {@code count} TCP connections from consecutive client ports; answers by backend name, or "failed". */
    private static Map<String, Integer> tcpClients(int firstPort, int count) throws Exception {
        return Setns.call(PREFIX + "c", CLIENT_BATCH, () -> {
            Map<String, Integer> seen = new TreeMap<>();
            for (int port = firstPort; port < firstPort + count; port++) {
                String who;
                try (Socket s = new Socket()) {
                    s.setReuseAddress(true);
                    s.setSoTimeout(5_000);
                    s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), port));
                    s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), PORT), 5_000);
                    s.getOutputStream().write("hi\n".getBytes(StandardCharsets.UTF_8));
                    String line = new BufferedReader(new InputStreamReader(s.getInputStream(),
                            StandardCharsets.UTF_8)).readLine();
                    who = line != null && line.endsWith(" hi") ? line.substring(0, line.indexOf(' ')) : "failed";
                } catch (IOException e) {
                    who = "failed";
                }
                seen.merge(who, 1, Integer::sum);
            }
            return seen;
        });
    }

    /** One datagram from each of {@code count} client ports; answers by backend name, or "failed". */
    private static Map<String, Integer> udpClients(int firstPort, int count) throws Exception {
        return Setns.call(PREFIX + "c", CLIENT_BATCH, () -> {
            Map<String, Integer> seen = new TreeMap<>();
            for (int port = firstPort; port < firstPort + count; port++) {
                String who = "failed";
                try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP),
                        port))) {
                    s.setSoTimeout(3_000);
                    byte[] out = "ping".getBytes(StandardCharsets.UTF_8);
                    s.send(new DatagramPacket(out, out.length, InetAddress.ofLiteral(VIP), PORT));
                    byte[] in = new byte[256];
                    DatagramPacket p = new DatagramPacket(in, in.length);
                    s.receive(p);
                    String line = new String(in, 0, p.getLength(), StandardCharsets.UTF_8);
                    if (p.getAddress().equals(InetAddress.ofLiteral(VIP)) && line.endsWith(" ping")) {
                        who = line.substring(0, line.indexOf(' '));
                    }
                } catch (SocketTimeoutException e) {
                    who = "failed";
                }
                seen.merge(who, 1, Integer::sum);
            }
            return seen;
        });
    }

    // ---- admin API in the LB namespace

    private static String adminGet(String path) throws Exception {
        return Setns.call(PREFIX + "lb", () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(15_000);
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), ADMIN_PORT), 5_000);
                s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                var in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
                StringBuilder head = new StringBuilder();
                while (!head.toString().endsWith("\r\n\r\n")) {
                    int c = in.read();
                    if (c < 0) {
                        throw new IOException("GET " + path + ": closed after " + head);
                    }
                    head.append((char) c);
                }
                if (!head.toString().startsWith("HTTP/1.1 200")) {
                    throw new IOException("GET " + path + ": " + head);
                }
                int length = -1;
                for (String line : head.toString().split("\r\n")) {
                    if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(line.substring(15).trim());
                    }
                }
                byte[] body = length < 0 ? in.readAllBytes() : in.readNBytes(length);
                return new String(body, StandardCharsets.UTF_8);
            }
        });
    }

    private static JsonNode status() throws Exception {
        return JSON.readTree(adminGet("/status"));
    }

    /** Backends of {@code vip} by name, from /status. */
    private static Map<String, JsonNode> status(String vip) throws Exception {
        for (JsonNode v : status().get("vips")) {
            if (v.get("name").asText().equals(vip)) {
                Map<String, JsonNode> out = new HashMap<>();
                v.get("backends").forEach(b -> out.put(b.get("name").asText(), b));
                return out;
            }
        }
        throw new AssertionError("no vip " + vip + " in /status");
    }

    /** Waits (up to 20 s) until /status shows exactly {@code healthy} for {@code vip}'s backends. */
    private static Map<String, JsonNode> awaitBackends(String vip, Map<String, Boolean> healthy) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Map<String, JsonNode> backends;
        while (true) {
            backends = status(vip);
            Map<String, Boolean> now = new HashMap<>();
            backends.forEach((name, b) -> now.put(name, b.get("healthy").asBoolean()
                    && !b.get("lastCheck").isNull()));
            if (now.equals(healthy) && backends.values().stream().noneMatch(b -> b.get("lastCheck").isNull())) {
                return backends;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("vip " + vip + ": expected " + healthy + ", /status has " + backends
                        + "\n" + log());
            }
            Thread.sleep(25);
        }
    }

    /** Samples of {@code name} from /metrics by their label set. */
    private static Map<String, Double> metrics(String name) throws Exception {
        Map<String, Double> out = new TreeMap<>();
        for (String line : adminGet("/metrics").lines().toList()) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                int space = line.lastIndexOf(' ');
                out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return out;
    }

    // ---- backends

    private static void startTcp(String ns, String name, InetAddress address) throws Exception {
        ServerSocket server = Setns.call(ns, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(address, PORT), 100);
            return s;
        });
        servers.add(server);
        tcpServers.put(name, server);
        clientConnections.put(name, new AtomicInteger());
        Thread.ofPlatform().daemon().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    if (c.getInetAddress().equals(InetAddress.ofLiteral(CLIENT_IP))) {
                        clientConnections.get(name).incrementAndGet();
                    }
                    servers.add(c);
                    Thread.ofPlatform().daemon().start(() -> {
                        try (c; BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(),
                                StandardCharsets.UTF_8))) {
                            OutputStream out = c.getOutputStream();
                            String line;
                            while ((line = in.readLine()) != null) {
                                out.write((name + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
                                out.flush();
                            }
                        } catch (IOException ignored) {
                            // client gone
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    private static void startUdp(String ns, String name, InetAddress address) throws Exception {
        DatagramSocket socket = Setns.call(ns, () -> new DatagramSocket(new InetSocketAddress(address, PORT)));
        servers.add(socket);
        Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[2048];
            while (!socket.isClosed()) {
                try {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    socket.receive(p);
                    String text = new String(buf, 0, p.getLength(), StandardCharsets.UTF_8);
                    byte[] reply = (text.equals("hc") ? "hc " + name : name + " " + text)
                            .getBytes(StandardCharsets.UTF_8);
                    socket.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    // ---- namespace plumbing

    private static String namespace(String role) throws IOException {
        String ns = PREFIX + role;
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    private static String host(String role, String ip) throws IOException {
        String ns = namespace(role);
        String port = "ph" + role;
        run("ip", "-n", PREFIX + "sw", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", PREFIX + "sw", "link", "set", port, "master", "br0", "up");
        run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    private static void sysctl(String ns, String key, String value) throws IOException {
        run("ip", "netns", "exec", ns, "sh", "-c", "echo " + value + " > /proc/sys/" + key);
    }

    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed: " + out.trim());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static String log() {
        synchronized (daemonOutput) {
            return String.join("\n", daemonOutput);
        }
    }

    private static long logLines(String text) {
        synchronized (daemonOutput) {
            return daemonOutput.stream().filter(l -> l.contains(text)).count();
        }
    }
}
