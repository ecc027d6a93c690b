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
        Set<String> used = new TreeSet<>();
        for (String line : Files.readAllLines(summary)) {
            String[] f = line.strip().split("\\s+");
            String last = f[f.length - 1];
            if (f.length >= 4 && last.matches("[a-z_0-9]+") && !last.equals("total") && !last.equals("syscall")) {
                used.add(last);
            }
        }
        assertTrue(used.contains("epoll_wait") || used.contains("epoll_pwait") || used.contains("epoll_pwait2"),
                "strace counted the daemon's calls: " + used);
        Set<String> outside = new TreeSet<>(used);
        outside.removeAll(allowed);
        assertTrue(outside.isEmpty(), "maglevd made system calls the unit's filter denies: " + outside);
        System.out.printf("SystemCallFilterIT: %d distinct system calls, all among the %d the unit allows%n",
                used.size(), allowed.size());
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
