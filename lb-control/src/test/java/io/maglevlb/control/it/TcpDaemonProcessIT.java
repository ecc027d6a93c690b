package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real daemon in its own JVM ({@code maglevd run --config FILE}), driven the way an operator would:
 * traffic through it, a backend dying, SIGTERM with a connection still open, a busy address, the demo.
 */
class TcpDaemonProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    private static final Duration EXIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** A backend that writes {@code name\n}, then echoes until the client ends its side. */
    static final class NamedBackend implements AutoCloseable {
        final String name;
        final ServerSocket server;
        final Set<Socket> open = ConcurrentHashMap.newKeySet();

        NamedBackend(String name) throws IOException {
            this.name = name;
            this.server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(this::acceptLoop);
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                } catch (IOException e) {
                    return;
                }
                open.add(s);
                Thread.ofVirtual().start(() -> {
                    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                        out.write((name + "\n").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        in.transferTo(out);
                    } catch (IOException e) {
                        // client or test gone
                    } finally {
                        open.remove(s);
                    }
                });
            }
        }

        String address() {
            return "127.0.0.1:" + server.getLocalPort();
        }

        /** The backend dies: listener and every connection closed. */
        @Override
        public void close() throws IOException {
            int port = server.getLocalPort();
            server.close();
            for (Socket s : open) {
                s.close();
            }
            // The JDK may finish closing a listener that a virtual thread is blocked on a little later: a
            // connection made meanwhile would still be accepted. Dead means refused, so wait for that (bounded).
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (System.nanoTime() < deadline) {
                try (Socket probe = new Socket()) {
                    probe.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
                } catch (IOException refused) {
                    return;
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            throw new IOException("backend " + name + " still accepts on port " + port + " 10 s after close");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Path writeConfig(int vipPort, List<String[]> backends) throws IOException {
        StringBuilder yaml = new StringBuilder("""
                workers: 2
                shutdown_timeout: 20s
                admin:
                  listen: 127.0.0.1:%d
                vips:
                  - name: web
                    listen: 127.0.0.1:%d
                    table_size: 1009
                    connect_timeout: 1s
                    connect_retries: 2
                    health_check:
                      type: none
                    backends:
                """.formatted(freePort(), vipPort));
        for (String[] b : backends) {
            yaml.append("      - name: ").append(b[0]).append('\n')
                    .append("        address: ").append(b[1]).append('\n');
        }
        return Files.writeString(dir.resolve("maglevd.yaml"), yaml.toString());
    }

    private static InetAddress source(int i) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {127, 0, (byte) (1 + i / 250), (byte) (i % 250 + 1)});
    }

    /** One short exchange through the VIP: returns the backend's name. */
    private static String exchange(int vipPort, int i) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.bind(new InetSocketAddress(source(i), 0));
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort), 10_000);
            InputStream in = s.getInputStream();
            String name = readLine(in);
            s.getOutputStream().write('!');
            assertEquals('!', in.read());
            s.shutdownOutput();
            assertEquals(-1, in.read());
            return name;
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        return sb.toString();
    }

    @Test
    void forwardsSurvivesABackendDyingAndDrainsOnSigterm() throws Exception {
        int vipPort = freePort();
        try (NamedBackend b1 = new NamedBackend("b1");
             NamedBackend b2 = new NamedBackend("b2");
             NamedBackend b3 = new NamedBackend("b3")) {
            Path config = writeConfig(vipPort, List.of(new String[] {"b1", b1.address()},
                    new String[] {"b2", b2.address()}, new String[] {"b3", b3.address()}));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                String vipLine = maglevd.awaitLine("vip web: tcp proxy on 127.0.0.1:" + vipPort, STARTUP);
                assertTrue(vipLine.contains("3 backends") && vipLine.contains("2 workers"), vipLine);

                Map<String, Integer> before = new HashMap<>();
                for (int i = 0; i < 60; i++) {
                    before.merge(exchange(vipPort, i), 1, Integer::sum);
                }
                assertEquals(Set.of("b1", "b2", "b3"), before.keySet(), "60 flows reach all three backends");

                b2.close(); // the backend dies; nothing tells maglevd (health checks are off)
                Map<String, Integer> after = new HashMap<>();
                for (int i = 0; i < 60; i++) {
                    after.merge(exchange(vipPort, i), 1, Integer::sum);
                }
                assertEquals(Set.of("b1", "b3"), after.keySet(), "b2's flows are retried on the others");
                assertEquals(60, after.values().stream().mapToInt(Integer::intValue).sum());

                // SIGTERM with one connection still open: it keeps working until it ends, then maglevd exits 0.
                try (Socket open = new Socket()) {
                    open.setSoTimeout(10_000);
                    open.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort), 10_000);
                    InputStream in = open.getInputStream();
                    String name = readLine(in);
                    assertTrue(name.equals("b1") || name.equals("b3"), name);

                    maglevd.terminate();
                    maglevd.awaitLine("waiting up to 20s for 1 open connection", EXIT);
                    open.getOutputStream().write('?');
                    assertEquals('?', in.read(), "an open connection is still forwarded while draining");
                    open.shutdownOutput();
                    assertEquals(-1, in.read());
                }
                assertEquals(0, maglevd.awaitExit(EXIT), maglevd.output());
                String output = maglevd.output();
                assertTrue(output.contains("maglevd stopped"), output);
                assertFalse(output.contains("shutdown timeout"), "the connection finished before the deadline");
            }
        }
    }

    @Test
    void aBusyVipAddressIsOneLineAndExitCodeOne() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             NamedBackend b1 = new NamedBackend("b1")) {
            int port = taken.getLocalPort();
            Path config = writeConfig(port, List.<String[]>of(new String[] {"b1", b1.address()}));
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config", config.toString())) {
                assertEquals(1, maglevd.awaitExit(EXIT), maglevd.output());
                String output = maglevd.output();
                List<String> errors = output.lines().filter(l -> l.contains("ERROR")).toList();
                assertEquals(1, errors.size(), output);
                assertTrue(errors.get(0).endsWith(
                        "maglevd: cannot start: vip web: cannot listen on 127.0.0.1:" + port
                                + " (vips[0].listen): Address already in use"),
                        errors.get(0));
                assertFalse(output.contains("\tat "), "no stack trace at the default log level:\n" + output);
            }
        }
    }

    /**
     * A configuration error is not something a restart cures: {@code run} exits 78 (EX_CONFIG), which the systemd
     * unit lists in {@code RestartPreventExitStatus=}, instead of 1 (kept for failures that may pass, such as an
     * address in use), and prints every error with its line as {@code check} does. A missing file too.
     */
    @Test
    void anInvalidOrMissingConfigurationExits78WithEveryError() throws Exception {
        Path config = writeConfig(freePort(), List.<String[]>of(new String[] {"b1", "127.0.0.1:9"}));
        Files.writeString(config, Files.readString(config).replace("table_size: 1009", "table_size: 1000")
                .replace("connect_retries: 2", "connect_retries: -1"));
        try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("invalid.log"), "run", "--config",
                config.toString())) {
            assertEquals(78, maglevd.awaitExit(EXIT), maglevd.output());
            String output = maglevd.output();
            assertTrue(output.contains("maglevd.yaml:8:17: vips[0].table_size: must be prime"), output);
            assertTrue(output.contains("vips[0].connect_retries"), output);
            assertFalse(output.contains("maglevd running"), output);
        }
        try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("missing.log"), "run", "--config",
                dir.resolve("no-such.yaml").toString())) {
            assertEquals(78, maglevd.awaitExit(EXIT), maglevd.output());
            assertTrue(maglevd.output().contains("no-such.yaml"), maglevd.output());
        }
    }

    @Test
    void theAdminAddressCanBeMovedAndABusyOneIsNamedInPlainWords() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             NamedBackend b1 = new NamedBackend("b1")) {
            int busy = taken.getLocalPort();
            Path config = writeConfig(freePort(), List.<String[]>of(new String[] {"b1", b1.address()}));
            // --admin moves the admin API off admin.listen; ctl --admin reaches it there
            int admin = freePort();
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("moved.log"), "run", "--config",
                    config.toString(), "--admin", "127.0.0.1:" + admin)) {
                maglevd.awaitLine("admin API listening on 127.0.0.1:" + admin, STARTUP);
                maglevd.awaitLine("maglevd running", STARTUP);
                java.io.StringWriter out = new java.io.StringWriter();
                picocli.CommandLine ctl = io.maglevlb.control.cli.MaglevdMain.newCommandLine();
                ctl.setOut(new java.io.PrintWriter(out, true));
                assertEquals(0, ctl.execute("ctl", "--admin", "127.0.0.1:" + admin, "status"), out.toString());
                assertTrue(out.toString().contains("vip web"), out.toString());
                maglevd.terminate();
                assertEquals(0, maglevd.awaitExit(EXIT), maglevd.output());
            }
            // a busy admin address: one line, the system's words, and where the address came from
            for (String[] args : List.of(new String[] {"--admin", "127.0.0.1:" + busy},
                    new String[0])) {
                Path c = args.length == 0
                        ? Files.writeString(config, Files.readString(config).replaceFirst(
                                "(?m)^  listen: 127\\.0\\.0\\.1:\\d+$", "  listen: 127.0.0.1:" + busy))
                        : config;
                List<String> command = new ArrayList<>(List.of("run", "--config", c.toString()));
                command.addAll(List.of(args));
                try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("busy.log"),
                        command.toArray(String[]::new))) {
                    assertEquals(1, maglevd.awaitExit(EXIT), maglevd.output());
                    String output = maglevd.output();
                    String source = args.length == 0 ? "admin.listen" : "--admin";
                    assertTrue(output.contains("cannot listen for the admin API on 127.0.0.1:" + busy + " (" + source
                            + "): Address already in use"), output);
                    assertFalse(output.contains("bind(..)") || output.contains("error(-98)"), output);
                }
            }
        }
    }

    @Test
    void demoBackendsAnswerWithTheirNamesThroughTheVip() throws Exception {
        int vipPort = freePort();
        List<String[]> backends = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            backends.add(new String[] {"web-" + i, "127.0.0.1:" + freePort()});
        }
        Path config = writeConfig(vipPort, backends);
        try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), "run", "--config", config.toString(), "--demo-backends")) {
            maglevd.awaitLine("maglevd running", STARTUP);
            Map<String, Integer> names = new HashMap<>();
            for (int i = 0; i < 40; i++) {
                names.merge(httpGet(vipPort, i), 1, Integer::sum);
            }
            assertEquals(Set.of("web-1", "web-2", "web-3"), names.keySet(), names.toString());
            maglevd.terminate();
            assertEquals(0, maglevd.awaitExit(EXIT), maglevd.output());
        }
    }

    /** An HTTP/1.0 GET (the server closes after the answer); returns the body without its newline. */
    private static String httpGet(int port, int i) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(10_000);
            s.bind(new InetSocketAddress(source(i), 0));
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertTrue(response.startsWith("HTTP/1.0 200 OK"), response);
            return response.substring(response.indexOf("\r\n\r\n") + 4).strip();
        }
    }
}
