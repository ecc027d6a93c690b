package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.MaglevdMain;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * maglevd itself with a {@code mode: dsr} VIP: the daemon runs (as a child JVM) in the LB's network namespace
 * and starts the packet engine for the VIP instead of a proxy listener; TCP clients in another namespace reach
 * the backends the daemon's Maglev table picks, and the backends answer them directly. Namespaces
 * {@code mlb-<pid>-d*} on one bridge, addresses from 198.18.0.0/15; all removed afterwards. Runs once per
 * {@code dsr.io}; the client leaves its checksums to offload (a veth does), which the engine completes on both.
 */
@ParameterizedClass(name = "dsr.io {0}")
@ValueSource(strings = {"af_packet", "af_xdp"})
@Timeout(120)
class DsrDaemonIT {
    private static final String VIP = "198.18.1.100";
    private static final String CLIENT_IP = "198.18.0.1";
    private static final String[] BACKEND_IPS = {"198.18.0.11", "198.18.0.12"};
    private static final String PREFIX = "mlb-" + ProcessHandle.current().pid() + "-d";
    private static final List<String> namespaces = new ArrayList<>();
    private static final List<AutoCloseable> servers = Collections.synchronizedList(new ArrayList<>());
    private static Path configFile;
    private static Process daemon;
    private static final List<String> daemonOutput = Collections.synchronizedList(new ArrayList<>());
    private static Thread outputReader;
    /** The invocation's dsr.io. */
    @Parameter
    String ioKind;

    @BeforeParameterizedClassInvocation
    static void setUp(String ioKind) throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "DSR network tests need root (network namespaces, AF_PACKET); skipped");
        try {
            String sw = namespace("sw");
            run("ip", "-n", sw, "link", "add", "br0", "type", "bridge");
            run("ip", "-n", sw, "link", "set", "br0", "up");
            String client = host("c", CLIENT_IP);
            String lb = host("lb", "198.18.0.2");
            run("ip", "-n", client, "route", "add", VIP + "/32", "via", "198.18.0.2");
            for (int i = 0; i < BACKEND_IPS.length; i++) {
                String name = "b" + (i + 1);
                String ns = host(name, BACKEND_IPS[i]);
                run("ip", "-n", ns, "addr", "add", VIP + "/32", "dev", "lo");
                for (String dev : new String[] {"all", "eth0"}) {
                    run("ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/" + dev + "/arp_ignore");
                    run("ip", "netns", "exec", ns, "sh", "-c", "echo 2 > /proc/sys/net/ipv4/conf/" + dev + "/arp_announce");
                }
                startBackend(ns, name);
            }
            configFile = Files.createTempFile("maglevd-dsr", ".yaml");
            Files.writeString(configFile, """
                    workers: 1
                    shutdown_timeout: 1s
                    admin:
                      listen: 127.0.0.1:9190
                    vips:
                      - name: dsr-web
                        listen: %s:80
                        protocol: tcp
                        mode: dsr
                        dsr:
                          method: l2
                          interface: eth0
                          io: %s
                        health_check:
                          type: none
                        backends:
                          - name: b1
                            address: %s:80
                          - name: b2
                            address: %s:80
                    """.formatted(VIP, ioKind, BACKEND_IPS[0], BACKEND_IPS[1]));
            daemon = new ProcessBuilder("ip", "netns", "exec", lb,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                    "-XX:+UseSerialGC", "-Xmx256m",
                    "-cp", System.getProperty("java.class.path"), "io.maglevlb.control.cli.MaglevdMain",
                    "run", "--config", configFile.toString()).redirectErrorStream(true).start();
            CompletableFuture<Boolean> started = new CompletableFuture<>();
            outputReader = Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(daemon.getInputStream(), StandardCharsets.UTF_8))) {
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
            // generous: on a host with a load average of 40 the JVM alone has taken more than 60 s
            assertTrue(started.get(180, TimeUnit.SECONDS), "maglevd did not start:\n" + String.join("\n", daemonOutput));
        } catch (Exception | Error e) {
            tearDown();
            throw e;
        }
    }

    @AfterParameterizedClassInvocation
    static void tearDown() throws Exception {
        if (daemon != null && daemon.isAlive()) {
            daemon.destroyForcibly();
            daemon.waitFor(10, TimeUnit.SECONDS);
        }
        for (AutoCloseable s : servers) {
            s.close();
        }
        servers.clear();
        daemonOutput.clear();
        daemon = null;
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
    void theDaemonForwardsDsrTrafficByItsTableAndShutsDownCleanly() throws Exception {
        // ids in configuration order (b1 = 1, b2 = 2), as the daemon's VipRuntime assigns them
        ForwardingSnapshot table = ForwardingSnapshot.build("dsr-web", 1, 65537, List.of(
                new BackendState(1, "b1", new InetSocketAddress(InetAddress.ofLiteral(BACKEND_IPS[0]), 80), 1, false, true),
                new BackendState(2, "b2", new InetSocketAddress(InetAddress.ofLiteral(BACKEND_IPS[1]), 80), 1, false, true)));
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int port = 50000; port < 50010; port++) {
            int clientPort = port;
            String reply = Setns.call(PREFIX + "c", () -> {
                try (Socket s = new Socket()) {
                    s.setSoTimeout(10_000);
                    s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), clientPort));
                    s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), 80), 10_000);
                    s.getOutputStream().write("hi\n".getBytes(StandardCharsets.UTF_8));
                    return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                }
            });
            long hash = FlowHash.fiveTuple(6, 0, FlowHash.v4Lo(ip(CLIENT_IP)), clientPort, 0, FlowHash.v4Lo(ip(VIP)), 80);
            assertEquals(table.backend(table.backendFor(hash)).name() + " hi", reply, "client port " + clientPort);
            assertEquals(explainOffline(CLIENT_IP + ":" + clientPort).get("backend").asText() + " hi", reply,
                    "maglevd explain for client port " + clientPort);
            seen.add(reply);
        }
        assertEquals(2, seen.size(), "both backends got connections");

        // The live explain on a DSR flow: tracked by a packet thread, and kept on its backend across a drain.
        String client = CLIENT_IP + ":50200";
        Socket held = Setns.call(PREFIX + "c", () -> {
            Socket s = new Socket();
            s.setSoTimeout(10_000);
            s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), 50200));
            s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), 80), 10_000);
            return s;
        });
        try (held; BufferedReader heldIn = new BufferedReader(new InputStreamReader(held.getInputStream(),
                StandardCharsets.UTF_8))) {
            held.getOutputStream().write("one\n".getBytes(StandardCharsets.UTF_8));
            String kept = heldIn.readLine().split(" ")[0];
            JsonNode before = admin("GET", "/vips/dsr-web/explain?client=" + client);
            assertEquals(kept, before.get("tableBackend").asText(), before.toString());
            assertTrue(before.get("tracking").get("tracked").asBoolean(), before.toString());
            assertEquals(kept, before.get("tracking").get("backend").asText());
            assertEquals(explainOffline(client).get("digest").asText(), before.get("digest").asText());

            admin("POST", "/vips/dsr-web/backends/" + kept + "/drain");
            try {
                JsonNode after = admin("GET", "/vips/dsr-web/explain?client=" + client);
                JsonNode offline = explainOffline(client, "--without", kept);
                assertEquals(offline.get("digest").asText(), after.get("digest").asText());
                assertEquals(offline.get("tableBackend").asText(), after.get("tableBackend").asText());
                assertTrue(!kept.equals(after.get("tableBackend").asText()), after.toString());
                assertEquals(kept, after.get("tracking").get("backend").asText(), after.toString());
                assertTrue(after.get("tracking").get("differsFromTable").asBoolean());
                assertTrue(after.get("tracking").get("stays").asBoolean());
                assertEquals(kept, after.get("backend").asText());
                held.getOutputStream().write("two\n".getBytes(StandardCharsets.UTF_8));
                assertEquals(kept + " two", heldIn.readLine(), "the tracked flow stays on its drained backend");
            } finally {
                admin("POST", "/vips/dsr-web/backends/" + kept + "/undrain");
            }
        }

        // A reload that changes the VIP's settings gives it a new engine. The old one must stop first: two
        // engines on one VIP would both forward every packet, the new one placing the old one's flows anew.
        Files.writeString(configFile, Files.readString(configFile).replace("    protocol: tcp\n",
                "    protocol: tcp\n    idle_timeout: 90s\n"));
        run("kill", "-HUP", Long.toString(daemon.pid()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (logLines("re-bound") == 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(1, logLines("re-bound"), String.join("\n", daemonOutput));
        assertEquals(1, logLines("DSR engine stopped"), "the old engine stopped before the new one took over");
        assertEquals(2, logLines("DSR engine started"), String.join("\n", daemonOutput));
        if (ioKind.equals("af_packet")) {
            String filters = run("ip", "netns", "exec", PREFIX + "lb", "tc", "filter", "show", "dev", "eth0", "ingress");
            assertEquals(1, filters.lines().filter(l -> l.contains("pref 65520 bpf chain 0 handle")).count(),
                    "one ingress drop filter for the VIP after the reload:\n" + filters);
        } else {
            String link = run("ip", "-n", PREFIX + "lb", "-d", "link", "show", "eth0");
            assertTrue(link.contains("prog/xdp") && link.contains("name maglev_"), "the new engine's XDP program:\n" + link);
            assertEquals(2, logLines("attached to eth0 in native"), "attached once per engine:\n"
                    + String.join("\n", daemonOutput));
        }
        String reply = Setns.call(PREFIX + "c", () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), 50100));
                s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), 80), 10_000);
                s.getOutputStream().write("again\n".getBytes(StandardCharsets.UTF_8));
                return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
            }
        });
        assertTrue(reply != null && reply.endsWith(" again"), "forwarding goes on after the reload: " + reply);
        String metrics = Setns.call(PREFIX + "lb", () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9190), 10_000);
                s.getOutputStream().write("GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            }
        });
        String other = ioKind.equals("af_xdp") ? "af_packet" : "af_xdp";
        assertTrue(metrics.contains("maglev_dsr_io{io=\"" + ioKind + "\",vip=\"dsr-web\"} 1.0")
                && metrics.contains("maglev_dsr_io{io=\"" + other + "\",vip=\"dsr-web\"} 0.0"),
                metrics.lines().filter(l -> l.contains("dsr_io")).toList() + "\n" + metrics.lines().limit(15)
                        .toList());
        // SIGTERM (through the handle: Process.destroy() would also close the pipe we read the log from):
        // stop new flows, wait up to shutdown_timeout for tracked ones, stop the engine
        daemon.toHandle().destroy();
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "maglevd exits on SIGTERM");
        outputReader.join(10_000); // every line the daemon printed, up to its exit
        assertEquals(0, daemon.exitValue(), String.join("\n", daemonOutput));
        assertEquals(2, logLines("DSR engine stopped"), String.join("\n", daemonOutput));
        assertTrue(String.join("\n", daemonOutput).contains(ioKind.equals("af_xdp") ? "AF_XDP (XDP" : "AF_PACKET (fanout"),
                String.join("\n", daemonOutput));
        String link = run("ip", "-n", PREFIX + "lb", "link", "show", "eth0");
        assertTrue(!link.contains("xdp"), "no XDP program left after the daemon stopped: " + link);
    }

    /** {@code maglevd explain --format json} on the test's configuration, in this JVM. */
    private static JsonNode explainOffline(String client, String... extra) throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> args = new ArrayList<>(List.of("explain", "--config", configFile.toString(), "--vip", "dsr-web",
                "--client", client, "--format", "json"));
        args.addAll(List.of(extra));
        assertEquals(0, MaglevdMain.execute(new PrintWriter(out), new PrintWriter(err), args.toArray(String[]::new)),
                err.toString());
        return new ObjectMapper().readTree(out.toString());
    }

    /** One admin API request to the daemon (127.0.0.1:9190 in the LB's namespace); fails unless it answers 200. */
    private static JsonNode admin(String method, String path) throws Exception {
        String response = Setns.call(PREFIX + "lb", () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(20_000);
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9190), 10_000);
                s.getOutputStream().write((method + " " + path + " HTTP/1.0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            }
        });
        assertTrue(response.startsWith("HTTP/1.1 200"), method + " " + path + ": " + response);
        return new ObjectMapper().readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
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
        String port = "pd" + role;
        run("ip", "-n", PREFIX + "sw", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", PREFIX + "sw", "link", "set", port, "master", "br0", "up");
        run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    private static void startBackend(String ns, String name) throws Exception {
        ServerSocket server = Setns.call(ns, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(80), 50); // any address: the VIP (DSR traffic) and its own (health checks)
            return s;
        });
        servers.add(server);
        Thread.ofPlatform().daemon().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    servers.add(c);
                    Thread.ofPlatform().daemon().start(() -> {
                        try (c; BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
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

    private static long logLines(String text) {
        synchronized (daemonOutput) {
            return daemonOutput.stream().filter(l -> l.contains(text)).count();
        }
    }

    private static int ip(String literal) {
        byte[] a = InetAddress.ofLiteral(literal).getAddress();
        return ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    }
}
