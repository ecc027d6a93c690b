package io.maglevlb.control.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.control.cli.CtlCommand;
import io.maglevlb.control.metrics.MaglevMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code maglevd ctl} against a real admin server (the daemon side is {@link InMemoryControl}). */
class CtlCommandTest {
    private final InMemoryControl control = new InMemoryControl();
    private final MaglevMetrics metrics = new MaglevMetrics();
    private AdminServer server;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @TempDir
    Path dir;

    @BeforeEach
    void start() throws IOException {
        server = AdminServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), Optional.empty(),
                control, metrics::scrape);
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
    }

    private int ctl(String... args) {
        List<String> all = new ArrayList<>(List.of("--admin", "127.0.0.1:" + server.address().getPort()));
        all.addAll(List.of(args));
        CommandLine cl = new CommandLine(new CtlCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(all.toArray(String[]::new));
    }

    @Test
    void statusPrintsVipsAndBackends() {
        assertEquals(0, ctl("status"));
        String s = out.toString();
        assertTrue(s.contains("vip web  tcp 127.0.0.1:80 proxy"), s);
        assertTrue(s.contains("2/2 backends in table"), s);
        assertTrue(s.lines().anyMatch(l -> l.trim().startsWith("ns1") && l.contains("DOWN")), s);
    }

    @Test
    void statusJsonIsTheApiAnswer() {
        assertEquals(0, ctl("status", "--json"));
        assertTrue(out.toString().trim().startsWith("{"), out.toString());
    }

    @Test
    void drainAndUndrain() {
        assertEquals(0, ctl("drain", "web", "a"));
        assertEquals("web/a drained\n", out.toString());
        assertEquals(0, ctl("drain", "web", "a"));
        assertTrue(out.toString().endsWith("web/a drained (already)\n"), out.toString());
        assertEquals(0, ctl("undrain", "web", "a"));
        assertTrue(out.toString().endsWith("web/a undrained\n"), out.toString());
    }

    @Test
    void withdrawAndAnnounceOneVipOrEvery() {
        assertEquals(0, ctl("withdraw", "web"));
        assertEquals("web NOT announced 127.0.0.1/32: withdrawn by the operator\n", out.toString());
        assertEquals(0, ctl("status"));
        assertTrue(out.toString().contains("  NOT announced 127.0.0.1/32: withdrawn by the operator\n"), out.toString());
        assertEquals(0, ctl("announce"));
        assertTrue(out.toString().endsWith("dns announced 127.0.0.1/32\nweb announced 127.0.0.1/32\n")
                || out.toString().endsWith("web announced 127.0.0.1/32\ndns announced 127.0.0.1/32\n"), out.toString());
        assertEquals(1, ctl("withdraw", "nope"));
        assertTrue(err.toString().contains("HTTP 404: unknown vip 'nope'"), err.toString());
    }

    @Test
    void unknownBackendExitsOneWithTheApiError() {
        assertEquals(CtlCommand.EXIT_REFUSED, ctl("drain", "web", "nope"));
        assertEquals("maglevd ctl: HTTP 404: unknown backend 'nope' in vip 'web'\n", err.toString());
    }

    @Test
    void reloadOkAndRefused() {
        assertEquals(0, ctl("reload"));
        assertTrue(out.toString().startsWith("reloaded\n"), out.toString());
        control.nextReloadErrors = List.of("vips[0].listen: port out of range (line 3)");
        assertEquals(CtlCommand.EXIT_REFUSED, ctl("reload"));
        assertTrue(err.toString().contains("the running configuration is unchanged"), err.toString());
        assertTrue(err.toString().contains("  vips[0].listen: port out of range (line 3)"), err.toString());
    }

    @Test
    void tablePrintsJson() {
        assertEquals(0, ctl("table", "web"));
        assertTrue(out.toString().contains("\"size\":101"), out.toString());
        assertEquals(CtlCommand.EXIT_REFUSED, ctl("table", "nope"));
    }

    @Test
    void unreachableAdminExitsThree() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        CommandLine cl = new CommandLine(new CtlCommand());
        cl.setErr(new PrintWriter(err, true));
        assertEquals(CtlCommand.EXIT_UNREACHABLE, cl.execute("--admin", "127.0.0.1:" + closedPort, "status"));
        assertTrue(err.toString().contains("cannot reach the admin API"), err.toString());
    }

    @Test
    void tokenFileIsSent() throws IOException {
        server.close();
        Path token = dir.resolve("token");
        Files.writeString(token, "abc123\n");
        server = AdminServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), Optional.of(token),
                control, metrics::scrape);
        assertEquals(CtlCommand.EXIT_REFUSED, ctl("status"));
        assertTrue(err.toString().contains("HTTP 401"), err.toString());
        assertEquals(0, ctl("--token-file", token.toString(), "status"));
    }

    @Test
    void theTokenFileIsReadUnderTheDaemonsRules() throws IOException {
        Path token = dir.resolve("token");
        Files.writeString(token, "abc123\n");
        Files.setPosixFilePermissions(token, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
        assertEquals(CtlCommand.EXIT_USAGE, ctl("--token-file", token.toString(), "status"));
        assertTrue(err.toString().contains("admin token file " + token + ": is writable by its group"), err.toString());
        assertTrue(err.toString().contains("chmod go-w"), err.toString());

        Path fifo = dir.resolve("fifo");
        java.util.concurrent.TimeUnit unit = java.util.concurrent.TimeUnit.SECONDS;
        try {
            Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
            assertTrue(p.waitFor(10, unit) && p.exitValue() == 0);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertEquals(CtlCommand.EXIT_USAGE, ctl("--token-file", fifo.toString(), "status"), "refused, not blocked");
        assertTrue(err.toString().contains("FIFO"), err.toString());
    }

    @Test
    void theAdminAddressAndTheTokenComeFromTheConfiguration() throws IOException {
        server.close();
        Path token = dir.resolve("token");
        Files.writeString(token, "abc123\n");
        Files.setPosixFilePermissions(token, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        server = AdminServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), Optional.of(token),
                control, metrics::scrape);
        Path config = dir.resolve("maglevd.yaml");
        Files.writeString(config, """
                admin:
                  listen: 127.0.0.1:%d
                  token_file: %s
                vips:
                  - name: web
                    listen: 127.0.0.1:1
                    backends:
                      - name: b1
                        address: 127.0.0.1:2
                """.formatted(server.address().getPort(), token));
        CommandLine cl = new CommandLine(new CtlCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        assertEquals(0, cl.execute("--config", config.toString(), "status"), err.toString());
        assertTrue(out.toString().contains("vip web"), out.toString());
        assertEquals(CtlCommand.EXIT_USAGE, cl.execute("--config", dir.resolve("missing.yaml").toString(), "status"));
        assertTrue(err.toString().contains("is not a valid configuration"), err.toString());
    }

    @Test
    void usageErrors() {
        assertEquals(CtlCommand.EXIT_USAGE, ctl("drain", "web"));
        assertEquals(CtlCommand.EXIT_USAGE, ctl());
    }
}
