package io.maglevlb.control.it;

import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
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
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code SystemCallFilter=} of config/maglevd.service, measured rather than guessed, on hosts where systemd
 * is not PID 1 (so {@code systemd-run} cannot apply it):
 * <ol>
 *   <li>the unit's filter lines are expanded the way systemd does (groups through {@code systemd-analyze
 *       syscall-filter}, {@code @default} always allowed, {@code ~} lines taken out);
 *   <li>a real maglevd runs a session under {@code strace -f -c} (start, TCP and UDP through VIPs, metrics,
 *       reload, drain, SIGTERM): every system call it made must be in the allowed set;
 *   <li>the same session runs under that allow-list as a real seccomp filter ({@code scripts/lib/seccomp-exec}),
 *       with a call outside it killing the JVM, and must end with exit 0.
 * </ol>
 * Each part is skipped, saying so, where its tool is missing (systemd-analyze, strace, python3 with libseccomp).
 */
@Timeout(value = 400, unit = TimeUnit.SECONDS)
class SystemCallFilterIT {
    private static final Path UNIT = ShippedMonitoring.ROOT.resolve("config/maglevd.service");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @TempDir
    Path dir;

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + List.of(command));
        assertEquals(0, p.exitValue(), List.of(command) + ": " + out);
        return out;
    }

    /** The system calls of a filter group or name, groups expanded recursively. */
    private static Set<String> expand(String item) throws IOException, InterruptedException {
        Set<String> calls = new TreeSet<>();
        if (!item.startsWith("@")) {
            calls.add(item);
            return calls;
        }
        String out = run("systemd-analyze", "syscall-filter", "--no-pager", item);
        boolean first = true;
        for (String line : out.split("\n")) {
            String t = line.strip();
            if (first || t.isEmpty() || t.startsWith("#")) {
                first = false;
                continue;
            }
            calls.addAll(expand(t.split("\\s+")[0]));
        }
        return calls;
    }

    /** What the unit's SystemCallFilter= lines allow, as systemd computes it for an allow-list. */
    static Set<String> allowedByUnit() throws IOException, InterruptedException {
        List<String> lines = Files.readAllLines(UNIT).stream().filter(l -> l.startsWith("SystemCallFilter=")).toList();
        assertTrue(!lines.isEmpty() && !lines.get(0).startsWith("SystemCallFilter=~"),
                "the unit's filter starts with an allow-list: " + lines);
        Set<String> allowed = expand("@default");
        for (String line : lines) {
            String value = line.substring("SystemCallFilter=".length()).strip();
            boolean deny = value.startsWith("~");
            for (String item : value.replaceFirst("^~", "").split("\\s+")) {
                if (deny) {
                    allowed.removeAll(expand(item));
                } else {
                    allowed.addAll(expand(item));
                }
            }
        }
        return allowed;
    }

    private Path config() throws IOException {
        Path file = dir.resolve("maglevd.yaml");
        Files.writeString(file, ConfigYaml.config(freePort(), """
                  - name: web
                    listen: 127.0.0.1:%d
                    health_check:
                      type: tcp
                      interval: 200ms
                    backends:
                      - name: web-1
                        address: 127.0.0.1:%d
                      - name: web-2
                        address: 127.0.0.1:%d
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    health_check:
                      type: udp
                      interval: 200ms
                    backends:
                      - name: dns-1
                        address: 127.0.0.1:%d
                """.formatted(freePort(), freePort(), freePort(), UdpPorts.freeBelowEphemeralRange(),
                UdpPorts.freeBelowEphemeralRange())).replace("shutdown_timeout: 5s", "shutdown_timeout: 1s"));
        return file;
    }

    private static int port(String yaml, String key) {
        Matcher m = Pattern.compile("(?m)^\\s*" + key + ": 127\\.0\\.0\\.1:(\\d+)").matcher(yaml);
        List<Integer> ports = new ArrayList<>();
        while (m.find()) {
            ports.add(Integer.parseInt(m.group(1)));
        }
        return ports.get(0);
    }

    /**
     * One session of the daemon started under {@code prefix}: traffic through both VIPs, metrics, status, reload,
     * drain, SIGTERM. Returns its exit code. {@code daemonOf} finds maglevd's own process (the prefix may fork it).
     */
    private int session(List<String> prefix, String name, boolean forked) throws Exception {
        Path cfg = config();
        String yaml = Files.readString(cfg);
        int admin = port(yaml, "listen");
        Matcher vips = Pattern.compile("(?m)^    listen: 127\\.0\\.0\\.1:(\\d+)").matcher(yaml);
        assertTrue(vips.find());
        int web = Integer.parseInt(vips.group(1));
        assertTrue(vips.find());
        int dns = Integer.parseInt(vips.group(1));
        try (DaemonProcess d = DaemonProcess.startUnder(prefix, dir.resolve(name + ".log"),
                List.of("-XX:+UseSerialGC"), "run", "--config", cfg.toString(), "--demo-backends")) {
            d.awaitLine("maglevd running", Duration.ofSeconds(120));
            for (int i = 0; i < 4; i++) {
                String body = get("http://127.0.0.1:" + web + "/").body();
                assertTrue(body.startsWith("web-"), body);
            }
            try (DatagramSocket s = new DatagramSocket()) {
                s.setSoTimeout(10_000);
                byte[] hi = "hi".getBytes(StandardCharsets.UTF_8);
                s.send(new DatagramPacket(hi, hi.length, new InetSocketAddress("127.0.0.1", dns)));
                DatagramPacket reply = new DatagramPacket(new byte[100], 100);
                s.receive(reply);
                String text = new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8);
                assertTrue(text.startsWith("dns-1"), text);
            }
            assertEquals(200, get("http://127.0.0.1:" + admin + "/metrics").statusCode());
            assertEquals(200, get("http://127.0.0.1:" + admin + "/status").statusCode());
            assertEquals(200, post("http://127.0.0.1:" + admin + "/reload").statusCode());
            assertEquals(200, post("http://127.0.0.1:" + admin + "/vips/web/backends/web-1/drain").statusCode());
            ProcessHandle maglevd = forked ? d.handle().children().findFirst().orElseThrow() : d.handle();
            assertTrue(maglevd.destroy(), "SIGTERM");
            int rc = d.awaitExit(Duration.ofSeconds(60));
            assertTrue(d.output().contains("maglevd stopped"), d.output());
            return rc;
        }
    }

    private static HttpResponse<String> get(String uri) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(String uri) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everySystemCallTheDaemonMakesIsAllowedByTheUnitsFilter() throws Exception {
        Assumptions.assumeTrue(onPath("systemd-analyze"),
                "systemd-analyze missing (package systemd): the unit's SystemCallFilter= was NOT measured");
        Assumptions.assumeTrue(onPath("strace"), "strace missing: the daemon's system calls were NOT listed");
        Set<String> allowed = allowedByUnit();
        assertTrue(allowed.contains("epoll_wait") && !allowed.contains("reboot") && !allowed.contains("setrlimit"),
                "the expansion looks like @system-service without @privileged @resources: " + allowed.size());
        Path summary = dir.resolve("strace.txt");
        int rc = session(List.of("strace", "-f", "-qq", "-c", "-o", summary.toString(), "--"), "strace", true);
        assertEquals(0, rc);
        Set<String> used = summarised(summary);
        assertTrue(used.contains("epoll_wait") || used.contains("epoll_pwait") || used.contains("epoll_pwait2"),
                "strace counted the daemon's calls: " + used);
        Set<String> outside = new TreeSet<>(used);
        outside.removeAll(allowed);
        assertTrue(outside.isEmpty(), "maglevd made system calls the unit's filter denies: " + outside);
        System.out.printf("SystemCallFilterIT: %d distinct system calls, all among the %d the unit allows%n",
                used.size(), allowed.size());
    }

    /** The system call names in a {@code strace -c} summary. */
    private static Set<String> summarised(Path summary) throws IOException {
        Set<String> used = new TreeSet<>();
        for (String line : Files.readAllLines(summary)) {
            String[] f = line.strip().split("\\s+");
            String last = f[f.length - 1];
            if (f.length >= 4 && last.matches("[a-z_0-9]+") && !last.equals("total") && !last.equals("syscall")) {
                used.add(last);
            }
        }
        return used;
    }

    /**
     * DSR (an AF_PACKET ring on one end of a veth pair, its tc filter) and announce (the TUN device, routes in a
     * kernel table), which the TCP/UDP session does not reach, started and stopped under strace in a fresh network
     * namespace ({@code mlb-<pid>-scf}). Root only. These need CAP_NET_RAW and CAP_NET_ADMIN, which the unit grants
     * only in its commented DSR/announce lines; the filter is the same.
     */
    @Test
    void dsrAndAnnounceStayWithinTheFilterToo() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/net/tun")),
                "DSR and announce need root and /dev/net/tun: their system calls were NOT measured");
        Assumptions.assumeTrue(onPath("systemd-analyze") && onPath("strace"),
                "systemd-analyze or strace missing: DSR and announce system calls were NOT measured");
        Set<String> allowed = allowedByUnit();
        String ns = "mlb-" + ProcessHandle.current().pid() + "-scf";
        run("ip", "netns", "add", ns);
        try {
            run("ip", "-n", ns, "link", "set", "lo", "up");
            run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
            run("ip", "-n", ns, "link", "set", "eth1", "up");
            run("ip", "-n", ns, "addr", "add", "198.18.6.2/24", "dev", "eth0");
            run("ip", "-n", ns, "link", "set", "eth0", "up");
            Path cfg = dir.resolve("dsr.yaml");
            Files.writeString(cfg, """
                    workers: 1
                    shutdown_timeout: 1s
                    announce:
                      table: 100
                      withdraw_grace: 100ms
                    vips:
                      - name: video
                        listen: 198.18.6.100:80
                        mode: dsr
                        dsr:
                          method: l2
                          interface: eth0
                          io: af_packet    # the unit's filter has no bpf(): AF_XDP needs it added
                        health_check:
                          type: none
                        backends:
                          - name: v1
                            address: 198.18.6.11:80
                    """);
            Path summary = dir.resolve("strace-dsr.txt");
            try (DaemonProcess d = DaemonProcess.startUnder(List.of("ip", "netns", "exec", ns, "strace", "-f", "-qq",
                    "-c", "-o", summary.toString(), "--"), dir.resolve("dsr.log"), List.of("-XX:+UseSerialGC"),
                    "run", "--config", cfg.toString())) {
                d.awaitLine("maglevd running", Duration.ofSeconds(120));
                String metrics = Setns.httpGet(ns, 9190, "/metrics");
                assertTrue(metrics.contains("maglev_vip_announced{vip=\"video\"} 1"), "announced");
                assertTrue(d.handle().children().findFirst().orElseThrow().destroy(), "SIGTERM");
                assertEquals(0, d.awaitExit(Duration.ofSeconds(60)), d.output());
            }
            Set<String> used = summarised(summary);
            Set<String> outside = new TreeSet<>(used);
            outside.removeAll(allowed);
            assertTrue(outside.isEmpty(), "maglevd (DSR, announce) made system calls the unit's filter denies: "
                    + outside);
            System.out.printf("SystemCallFilterIT: DSR and announce: %d distinct system calls, all allowed%n",
                    used.size());
        } finally {
            run("ip", "netns", "del", ns);
        }
    }

    @Test
    void theDaemonRunsUnderTheFilterAsARealSeccompAllowList() throws Exception {
        Assumptions.assumeTrue(onPath("systemd-analyze"),
                "systemd-analyze missing (package systemd): the unit's SystemCallFilter= was NOT tried");
        Assumptions.assumeTrue(onPath("python3") && (Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libseccomp.so.2"))
                        || Files.exists(Path.of("/lib/x86_64-linux-gnu/libseccomp.so.2"))),
                "python3 or libseccomp2 missing: the unit's SystemCallFilter= was NOT tried as a seccomp filter");
        Path allowList = dir.resolve("allowed.txt");
        Files.writeString(allowList, String.join("\n", allowedByUnit()) + "\n");
        String tool = ShippedMonitoring.ROOT.resolve("scripts/lib/seccomp-exec").toString();
        int rc = session(List.of(tool, allowList.toString()), "seccomp", false);
        assertEquals(0, rc, "exit 159 = SIGSYS: a system call outside the filter");
    }
}
