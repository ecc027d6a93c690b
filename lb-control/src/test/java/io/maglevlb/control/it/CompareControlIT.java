package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.control.cli.MaglevdMain;
import io.maglevlb.control.metrics.PrometheusText;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code maglevd ctl compare} against real daemons on loopback (each its own admin API): two with the same VIPs
 * agree; draining a backend on one makes compare name it; a host without a VIP and a host that does not answer
 * are reported. Also {@code maglev_table_info}, the digest as a metric, following the table.
 */
class CompareControlIT {
    @TempDir
    Path dir;

    private final List<InProcessDaemon> daemons = new ArrayList<>();
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @AfterEach
    void stop() {
        daemons.forEach(InProcessDaemon::close);
    }

    /** Two VIPs; every host listens on its own ports (one loopback), the rest is the same on every host. */
    private InProcessDaemon start(String name, boolean withApi) throws Exception {
        Path hostDir = Files.createDirectories(dir.resolve(name));
        String web = vip("web", freePort(), noCheck(), backend("web-1", 18001), backend("web-2", 18002),
                backend("web-3", 18003));
        String api = vip("api", freePort(), noCheck(), backend("api-1", 18011), backend("api-2", 18012));
        InProcessDaemon d = InProcessDaemon.start(hostDir,
                withApi ? ConfigYaml.config(freePort(), web, api) : ConfigYaml.config(freePort(), web));
        daemons.add(d);
        return d;
    }

    private static String admin(InProcessDaemon d) {
        return "127.0.0.1:" + d.control().adminAddress().getPort();
    }

    private int compare(String... admins) {
        List<String> args = new ArrayList<>(List.of("ctl", "compare"));
        for (String a : admins) {
            args.add("--admin");
            args.add(a);
        }
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return MaglevdMain.execute(new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
    }

    @Test
    void sameConfigAgreesThenADrainedBackendIsNamed() throws Exception {
        InProcessDaemon a = start("a", true);
        InProcessDaemon b = start("b", true);
        assertEquals(0, compare(admin(a), admin(b)), out + "\n" + err);
        String agreed = out.toString();
        assertTrue(agreed.contains("vip web: agree"), agreed);
        assertTrue(agreed.contains("vip api: agree"), agreed);
        assertTrue(agreed.contains("2 of 2 hosts answered; they agree on 2 vips"), agreed);
        String digest = a.control().status().vips().getFirst().digest();
        assertEquals(2, agreed.lines().filter(l -> l.contains(digest.substring(0, 16))
                && l.endsWith("web-1 web-2 web-3")).count(), agreed);

        assertEquals(200, b.post("/vips/web/backends/web-2/drain").statusCode());
        assertEquals(1, compare(admin(a), admin(b)), out + "\n" + err);
        String s = out.toString();
        assertTrue(s.contains("vip web: DIFFER"), s);
        assertTrue(s.contains("vip web: host " + admin(b) + " lacks web-2 (drained)"), s);
        assertTrue(s.contains("vip api: agree"), s);
        assertTrue(s.lines().anyMatch(l -> l.contains(admin(b)) && l.contains("web-1 web-3   not live: web-2 drained")),
                s);
        assertTrue(s.contains("they DISAGREE on 1 of 2 vips"), s);

        // With three hosts the two that agree are the reference, whatever the order.
        InProcessDaemon c = start("c", true);
        assertEquals(1, compare(admin(b), admin(a), admin(c)), out + "\n" + err);
        assertTrue(out.toString().contains("vip web: host " + admin(b) + " lacks web-2 (drained)"), out.toString());

        assertEquals(200, b.post("/vips/web/backends/web-2/undrain").statusCode());
        assertEquals(0, compare(admin(a), admin(b), admin(c)), out + "\n" + err);
    }

    @Test
    void aHostWithoutAVipAndAHostThatDoesNotAnswer() throws Exception {
        InProcessDaemon a = start("a", true);
        InProcessDaemon b = start("b", false);
        assertEquals(1, compare(admin(a), admin(b)), out + "\n" + err);
        assertTrue(out.toString().contains("vip api: host " + admin(b) + " has no vip api"), out.toString());
        assertTrue(out.toString().contains("vip web: agree"), out.toString());

        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        InProcessDaemon c = start("c", true);
        assertEquals(3, compare(admin(a), admin(c), "127.0.0.1:" + closed), out + "\n" + err);
        assertTrue(out.toString().contains("2 of 3 hosts answered; they agree on 2 vips"), out.toString());
        assertTrue(err.toString().contains("host 127.0.0.1:" + closed + ": cannot reach the admin API"), err.toString());

        assertEquals(2, compare(admin(a)), "one host is a usage error");
    }

    @Test
    void tableInfoCarriesTheCurrentDigestOnly() throws Exception {
        InProcessDaemon a = start("a", true);
        String before = a.control().status().vips().getFirst().digest();
        Map<String, Double> info = tableInfo(a, "web");
        assertEquals(Map.of(before, 1.0), info);

        assertEquals(200, a.post("/vips/web/backends/web-1/drain").statusCode());
        String after = a.control().status().vips().getFirst().digest();
        assertTrue(!after.equals(before), "a drain changes the digest");
        // /metrics renderings are cached for a moment (ScrapeCache): wait for one made after the drain.
        InProcessDaemon.await(() -> {
            try {
                return tableInfo(a, "web").equals(Map.of(after, 1.0));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, java.time.Duration.ofSeconds(10), "maglev_table_info with only the new digest");
        assertEquals(1, tableInfo(a, "api").size());
    }

    /** maglev_table_info series of {@code vip}: digest -> value. */
    private static Map<String, Double> tableInfo(InProcessDaemon d, String vip) throws Exception {
        String text = d.get("/metrics").body();
        Map<String, Double> found = new java.util.HashMap<>();
        for (PrometheusText.Sample s : PrometheusText.parse(text).samples("maglev_table_info")) {
            if (vip.equals(s.labels().get("vip"))) {
                found.put(s.labels().get("digest"), s.value());
            }
        }
        return found;
    }
}
