package io.maglevlb.control.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The fleet topology of docs/fleet.md in network namespaces {@code mlb-<pid>-f*}, addresses from 198.18.0.0/15:
 *
 * <pre>
 *  client 198.18.20.2 ── router 198.18.20.1 | 198.18.0.1 ── bridge (LB segment 198.18.0.0/24)
 *                         BIRD: ECMP,                        ├─ lb1 198.18.0.2  maglevd + BIRD (AS 65001)
 *                         merge paths, BFD                   ├─ lb2 198.18.0.3  maglevd + BIRD (AS 65001)
 *                                                            └─ b1..b3 198.18.0.11..13 (+ .21..23), VIPs on lo
 * </pre>
 *
 * The router (AS 65000) has {@code fib_multipath_hash_policy=1} and installs the LBs' paths as one ECMP route;
 * each LB's BIRD learns kernel table 100 ({@code learn on}) and exports it over BGP with BFD at 100 ms x 3. The
 * backends answer every TCP line with {@code "NAME PEER LINE"} (PEER: the address they see, the client's in DSR
 * mode, the LB's in proxy mode) and route replies to the client via the router.
 *
 * <p>{@link #close()} stops every process this lab started (by PID) and deletes its namespaces and temporary
 * directory; a shutdown hook does it if the JVM exits first, and a later lab removes namespaces of test JVMs
 * that no longer run.
 */
final class FleetLab implements AutoCloseable {
    static final String CLIENT_IP = "198.18.20.2";
    static final String ROUTER_IP = "198.18.0.1";
    static final String[] LB_IPS = {"198.18.0.2", "198.18.0.3"};
    static final String[] BACKEND_IPS = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
    /** Second addresses of the backends, which the {@code api} VIP health-checks (see {@link #cutHealthChecks}). */
    static final String[] BACKEND_ALT_IPS = {"198.18.0.21", "198.18.0.22", "198.18.0.23"};
    static final String ADMIN_TOKEN = "fleet-lab-token";
    /** A DSR (l2) VIP on both LBs. */
    static final String WEB_VIP = "198.18.1.100";
    /** A DSR (l2) VIP whose backends one LB can be cut from ({@link #cutHealthChecks}). */
    static final String API_VIP = "198.18.1.101";
    /** A proxy-mode VIP on both LBs (on their lo). */
    static final String PROXY_VIP = "198.18.1.102";

    private static final Path NETNS_DIR = Path.of("/run/netns");
    final String prefix = "mlb-" + ProcessHandle.current().pid() + "-f";
    final Path dir;
    final Path tokenFile;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());
    private final List<AutoCloseable> sockets = Collections.synchronizedList(new ArrayList<>());
    private final Thread cleanupHook = new Thread(this::cleanup, "fleetlab-cleanup");
    private boolean closed;

    FleetLab() throws IOException {
        removeStale();
        dir = Files.createTempDirectory("maglev-fleetlab");
        tokenFile = Files.writeString(dir.resolve("admin-token"), ADMIN_TOKEN + "\n");
        Runtime.getRuntime().addShutdownHook(cleanupHook);
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** Why the lab cannot run here, or null when it can. */
    static String unavailable() {
        if (!isRoot()) {
            return "the fleet lab needs root (network namespaces, AF_PACKET, BIRD); skipped";
        }
        for (String tool : new String[] {"ip", "bird", "birdc", "curl"}) {
            if (Stream.of("/usr/sbin/", "/sbin/", "/usr/bin/").noneMatch(d -> Files.isExecutable(Path.of(d + tool)))) {
                return "the fleet lab needs '" + tool + "' (Debian packages iproute2, bird2, curl); skipped";
            }
        }
        return null;
    }

    String ns(String role) {
        return prefix + role;
    }

    // ---- topology

    void build() throws Exception {
        String sw = addNamespace("sw");
        run("ip", "-n", sw, "link", "add", "br0", "type", "bridge");
        run("ip", "-n", sw, "link", "set", "br0", "up");
        for (String key : new String[] {"bridge-nf-call-iptables", "bridge-nf-call-arptables"}) {
            try {
                sysctl(sw, "net.bridge." + key, "0");
            } catch (IOException notLoaded) {
                // br_netfilter not loaded: nothing to turn off
            }
        }
        String router = segmentHost("r", ROUTER_IP);
        String client = addNamespace("c");
        run("ip", "-n", client, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1", "netns", router);
        run("ip", "-n", client, "addr", "add", CLIENT_IP + "/24", "dev", "eth0");
        run("ip", "-n", client, "link", "set", "eth0", "up");
        run("ip", "-n", client, "route", "add", "default", "via", "198.18.20.1");
        run("ip", "-n", router, "addr", "add", "198.18.20.1/24", "dev", "eth1");
        run("ip", "-n", router, "link", "set", "eth1", "up");
        sysctl(router, "net.ipv4.ip_forward", "1");
        sysctl(router, "net.ipv4.fib_multipath_hash_policy", "1"); // L4 hash: flows of one client spread
        for (int i = 0; i < LB_IPS.length; i++) {
            String lb = segmentHost("lb" + (i + 1), LB_IPS[i]);
            sysctl(lb, "net.ipv4.ip_forward", "0");
            run("ip", "-n", lb, "addr", "add", PROXY_VIP + "/32", "dev", "lo"); // proxy mode: local
            run("ip", "-n", lb, "route", "add", "default", "via", ROUTER_IP); // proxy replies to the client
        }
        for (int i = 0; i < BACKEND_IPS.length; i++) {
            String b = segmentHost("b" + (i + 1), BACKEND_IPS[i]);
            run("ip", "-n", b, "addr", "add", BACKEND_ALT_IPS[i] + "/24", "dev", "eth0");
            run("ip", "-n", b, "route", "add", "default", "via", ROUTER_IP);
            for (String vip : new String[] {WEB_VIP, API_VIP}) {
                run("ip", "-n", b, "addr", "add", vip + "/32", "dev", "lo");
            }
            for (String dev : new String[] {"all", "eth0"}) {
                sysctl(b, "net.ipv4.conf." + dev + ".arp_ignore", "1");
                sysctl(b, "net.ipv4.conf." + dev + ".arp_announce", "2");
            }
            startBackend(b, "b" + (i + 1));
        }
    }

    private String addNamespace(String role) throws IOException {
        String ns = ns(role);
        run("ip", "netns", "add", ns);
        synchronized (this) {
            namespaces.add(ns);
        }
        run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    private String segmentHost(String role, String ip) throws IOException {
        String ns = addNamespace(role);
        String port = "pf" + role;
        run("ip", "-n", ns("sw"), "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", ns("sw"), "link", "set", port, "master", "br0", "up");
        run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    void sysctl(String ns, String key, String value) throws IOException {
        run("ip", "netns", "exec", ns, "sh", "-c", "echo " + value + " > /proc/sys/" + key.replace('.', '/'));
    }

    /**
     * Cuts lb{@code n} off the network (or reconnects it): every frame to and from it is dropped, as when the host
     * or its link fails; a {@code blackhole} qdisc on both ends of its veth. Not by taking the link down: a port
     * going down flushes the bridge's address table, which then floods the LB's frames to every port, the other
     * LB's included, which a failed host does not cause on a real switch.
     */
    void isolateLb(int n, boolean cut) throws IOException {
        String[][] ends = {{ns("sw"), "pflb" + n}, {ns("lb" + n), "eth0"}};
        for (String[] end : ends) {
            if (cut) {
                run("ip", "netns", "exec", end[0], "tc", "qdisc", "add", "dev", end[1], "root", "blackhole");
            } else {
                run("ip", "netns", "exec", end[0], "tc", "qdisc", "del", "dev", end[1], "root");
            }
        }
    }

    /**
     * Makes lb{@code n}'s health checks of the {@code api} VIP's backends fail (or pass again): unreachable routes
     * to the backends' second addresses on that LB only, as a partition between one LB and a backend pool would.
     */
    void cutHealthChecks(int n, boolean cut) throws IOException {
        for (String ip : BACKEND_ALT_IPS) {
            run("ip", "-n", ns("lb" + n), "route", cut ? "add" : "del", "unreachable", ip + "/32");
        }
    }

    // ---- backends

    private void startBackend(String ns, String name) throws Exception {
        ServerSocket server = Setns.call(ns, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(80), 200); // any address: the VIPs, its own (checks, proxy)
            return s;
        });
        sockets.add(server);
        Thread.ofPlatform().daemon().name("backend-" + name).start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    sockets.add(c);
                    String peer = c.getInetAddress().getHostAddress();
                    Thread.ofVirtual().start(() -> {
                        try (c; BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(),
                                StandardCharsets.UTF_8))) {
                            OutputStream out = c.getOutputStream();
                            String line;
                            while ((line = in.readLine()) != null) {
                                out.write((name + " " + peer + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
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

    // ---- clients

    /** One client TCP connection to a VIP, and the backend (and peer) that answered its first line. */
    static final class Conn implements AutoCloseable {
        final Socket socket;
        final BufferedReader in;
        String backend;
        String peer;

        Conn(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        }

        /** Sends {@code line}; returns the answer's "NAME PEER" part; throws on reset, close or timeout. */
        synchronized String exchange(String line) throws IOException {
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            String answer = in.readLine();
            if (answer == null) {
                throw new IOException("closed by the other side");
            }
            if (!answer.endsWith(" " + line)) {
                throw new IOException("unexpected answer: " + answer);
            }
            return answer.substring(0, answer.length() - line.length() - 1);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Opens {@code count} connections from the client to {@code vip}:80 and records who answers each. */
    List<Conn> connect(String vip, int count) throws Exception {
        List<Conn> conns = Setns.call(ns("c"), () -> {
            List<Conn> list = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                Socket s = new Socket();
                // A read caught while a route moves waits for TCP to retransmit (longer on a loaded machine):
                // a stall, not a broken connection; resets and closes fail at once.
                s.setSoTimeout(15_000);
                s.connect(new InetSocketAddress(InetAddress.ofLiteral(vip), 80), 5_000);
                list.add(new Conn(s));
            }
            return list;
        });
        for (Conn c : conns) {
            sockets.add(c);
            String[] who = c.exchange("hello").split(" ");
            c.backend = who[0];
            c.peer = who[1];
        }
        return conns;
    }

    /** One connection, opened and answered once; for load loops. */
    String connectOnce(String vip) throws Exception {
        return Setns.call(ns("c"), () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(5_000);
                s.connect(new InetSocketAddress(InetAddress.ofLiteral(vip), 80), 5_000);
                Conn c = new Conn(s);
                return c.exchange("once").split(" ")[0];
            }
        });
    }

    // ---- BIRD

    /** Writes the router's and both LBs' BIRD configurations and starts the three daemons. */
    void startBird() throws IOException {
        String bgpTimers = "connect delay time 1; connect retry time 1; error wait time 1, 5; bfd on;";
        String bfd = """
                protocol bfd {
                  interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
                }
                """;
        StringBuilder router = new StringBuilder("""
                log stderr all;
                router id %s;
                protocol device { }
                protocol kernel {
                  ipv4 { import none; export all; };
                  merge paths on;
                }
                """.formatted(ROUTER_IP)).append(bfd);
        for (int i = 0; i < LB_IPS.length; i++) {
            router.append("""
                    protocol bgp lb%d {
                      local %s as 65000; neighbor %s as 65001;
                      ipv4 { import all; export none; };
                      %s
                    }
                    """.formatted(i + 1, ROUTER_IP, LB_IPS[i], bgpTimers));
        }
        startBird("r", router.toString());
        for (int i = 0; i < LB_IPS.length; i++) {
            startBird("lb" + (i + 1), """
                    log stderr all;
                    router id %s;
                    protocol device { }
                    protocol kernel vips {
                      kernel table 100;
                      learn on;
                      ipv4 { import all; export none; };
                    }
                    %s
                    protocol bgp uplink {
                      local %s as 65001; neighbor %s as 65000;
                      ipv4 { import none; export where proto = "vips"; next hop self; };
                      %s
                    }
                    """.formatted(LB_IPS[i], bfd, LB_IPS[i], ROUTER_IP, bgpTimers));
        }
    }

    private void startBird(String role, String config) throws IOException {
        Path conf = Files.writeString(dir.resolve(role + ".bird.conf"), config);
        Process p = new ProcessBuilder("ip", "netns", "exec", ns(role), "bird", "-f", "-c", conf.toString(), "-s",
                dir.resolve(role + ".bird.ctl").toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve(role + ".bird.log").toFile()).start();
        processes.add(p);
    }

    /** {@code birdc} on host {@code role}. */
    String birdc(String role, String... command) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("birdc", "-s", dir.resolve(role + ".bird.ctl").toString()));
        cmd.addAll(List.of(command));
        return run(cmd.toArray(String[]::new));
    }

    // ---- maglevd

    /** A maglevd in an LB namespace, a child JVM; its output lines are kept. */
    final class Daemon {
        final int n;
        final Process process;
        final List<String> output = Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<Boolean> running = new CompletableFuture<>();
        final Thread reader;

        Daemon(int n, Path config) throws IOException {
            this.n = n;
            process = new ProcessBuilder(javaCommand(ns("lb" + n), "run", "--config", config.toString()))
                    .redirectErrorStream(true).start();
            processes.add(process);
            reader = Thread.ofPlatform().daemon().name("maglevd-lb" + n).start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        output.add(line);
                        if (line.contains("maglevd running")) {
                            running.complete(true);
                        }
                    }
                } catch (IOException ignored) {
                    // gone
                }
                running.complete(false);
            });
        }

        void awaitRunning() throws Exception {
            if (!running.get(90, TimeUnit.SECONDS)) {
                throw new AssertionError("maglevd on lb" + n + " did not start:\n" + log());
            }
        }

        String log() {
            synchronized (output) {
                return String.join("\n", output);
            }
        }

        long pid() {
            return process.pid();
        }
    }

    Daemon startMaglevd(int n, Path config) throws IOException {
        return new Daemon(n, config);
    }

    /** {@code maglevd ARGS} in namespace {@code ns} as a child JVM (ip netns exec execs it: same PID). */
    List<String> javaCommand(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-XX:+UseSerialGC", "-Xmx192m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), "io.maglevlb.control.cli.MaglevdMain"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Result of a short-lived command. */
    record Result(int exit, String output) {}

    /**
     * {@code maglevd ctl ARGS} with the lab's token, run in this JVM on a thread inside namespace {@code role}
     * (the HTTP client's threads and sockets are made from it, so they live there too). The same command line
     * as the {@code maglevd} binary, without a JVM start per call.
     */
    Result ctl(String role, String... args) throws Exception {
        List<String> full = new ArrayList<>(List.of("ctl", "--token-file", tokenFile.toString()));
        full.addAll(List.of(args));
        return Setns.call(ns(role), () -> {
            java.io.StringWriter out = new java.io.StringWriter();
            java.io.PrintWriter pw = new java.io.PrintWriter(out, true);
            int exit = io.maglevlb.control.cli.MaglevdMain.execute(pw, pw, full.toArray(String[]::new));
            return new Result(exit, out.toString());
        });
    }

    /** GET {@code path} on lb{@code n}'s admin API (curl inside its namespace). */
    String admin(int n, String path) throws IOException {
        return run("ip", "netns", "exec", ns("lb" + n), "curl", "-sS", "--max-time", "10", "-H",
                "Authorization: Bearer " + ADMIN_TOKEN, "http://127.0.0.1:9190" + path);
    }

    /** The value of lb{@code n}'s series {@code name} whose labels include {@code label} (k="v"), or -1. */
    double metric(int n, String name, String label) throws IOException {
        for (String line : admin(n, "/metrics").split("\n")) {
            if (line.startsWith(name + "{") && line.contains(label)) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return -1;
    }

    // ---- the router's routes

    /**
     * The router's kernel routes to the VIPs, followed live through {@code ip monitor route}: each change is
     * stamped with {@link System#nanoTime()} when its line arrives.
     */
    final class RouteWatch implements AutoCloseable {
        private static final Pattern VIA = Pattern.compile("via (\\S+)");
        private final Process monitor;
        private final Map<String, Set<String>> nextHops = new HashMap<>();
        private final Map<String, Long> changedAtNs = new HashMap<>();

        RouteWatch() throws IOException {
            monitor = new ProcessBuilder("ip", "-n", ns("r"), "-o", "monitor", "route").redirectErrorStream(true).start();
            processes.add(monitor);
            Thread.ofPlatform().daemon().name("route-watch").start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(monitor.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        apply(line, System.nanoTime());
                    }
                } catch (IOException ignored) {
                    // closed
                }
            });
            for (String line : run("ip", "-n", ns("r"), "-o", "route", "show").split("\n")) {
                apply(line, System.nanoTime());
            }
        }

        private synchronized void apply(String line, long atNs) {
            String l = line.strip();
            boolean deleted = l.startsWith("Deleted ");
            if (deleted) {
                l = l.substring("Deleted ".length());
            }
            if (l.isEmpty() || !l.startsWith("198.18.1.")) {
                return;
            }
            String prefix = l.split(" ")[0].replace("/32", "");
            Set<String> hops = new TreeSet<>();
            if (!deleted) {
                Matcher m = VIA.matcher(l);
                while (m.find()) {
                    hops.add(m.group(1));
                }
            }
            nextHops.put(prefix, hops);
            changedAtNs.put(prefix, atNs);
            notifyAll();
        }

        synchronized Set<String> nextHops(String vip) {
            return new TreeSet<>(nextHops.getOrDefault(vip, Set.of()));
        }

        /** Waits until {@code vip}'s next hops are {@code expected}; returns the nanoTime of that change. */
        synchronized long await(String vip, Set<String> expected, long timeoutMs) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (!nextHops.getOrDefault(vip, Set.of()).equals(expected)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("router: " + vip + " next hops " + nextHops.get(vip) + ", expected "
                            + expected + " within " + timeoutMs + " ms");
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return changedAtNs.get(vip);
        }

        @Override
        public void close() {
            monitor.destroy();
        }
    }

    // ---- plumbing

    static void await(BooleanSupplier condition, long timeoutMs, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Runs a command, waits up to 20 s, returns its stdout; fails with its output on a non-zero exit. */
    static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
            String text = new String(out.get(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + text.strip());
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(e.getCause());
        }
    }

    /** Removes fleet-lab namespaces left by test JVMs that no longer run. */
    static void removeStale() {
        try (var entries = Files.list(NETNS_DIR)) {
            for (Path p : entries.toList()) {
                String[] parts = p.getFileName().toString().split("-");
                if (parts.length < 3 || !parts[0].equals("mlb") || !parts[2].startsWith("f")) {
                    continue;
                }
                try {
                    if (ProcessHandle.of(Long.parseLong(parts[1])).isEmpty()) {
                        run("ip", "netns", "del", p.getFileName().toString());
                    }
                } catch (NumberFormatException | IOException ignored) {
                    // not ours, or gone already
                }
            }
        } catch (IOException ignored) {
            // no /run/netns yet
        }
    }

    /** The daemon logs and BIRD logs, for a failure message. */
    String logs() {
        StringBuilder sb = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
                sb.append("---- ").append(f.getFileName()).append('\n').append(Files.readString(f));
            }
        } catch (IOException ignored) {
            // best effort
        }
        return sb.toString();
    }

    private synchronized void cleanup() {
        List<AutoCloseable> open;
        synchronized (sockets) {
            open = List.copyOf(sockets);
            sockets.clear();
        }
        for (AutoCloseable s : open) {
            try {
                s.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
        synchronized (processes) {
            for (Process p : processes) {
                p.destroyForcibly();
            }
            for (Process p : processes) {
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            processes.clear();
        }
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            try {
                run("ip", "netns", "del", namespaces.get(i));
            } catch (IOException ignored) {
                // gone already
            }
        }
        namespaces.clear();
        try (var files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cleanup();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException ignored) {
            // shutting down
        }
    }
}
