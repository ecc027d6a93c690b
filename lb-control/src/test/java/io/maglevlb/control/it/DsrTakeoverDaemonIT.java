package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
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
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code maglevd run --takeover} with DSR VIPs (AF_PACKET), in network namespaces: a TCP and a UDP DSR VIP, held
 * TCP connections and UDP flows, a backend added by a reload so that about a third of those flows are no longer
 * where the table would put them, then a new maglevd takes the packet sockets and the flow tables over. Every held
 * connection and flow keeps its backend through the new process, new flows follow the table, and the old process
 * exits 0. Namespaces {@code mlb-<pid>-k*}, addresses from 198.18.0.0/15; all removed afterwards.
 */
@Timeout(240)
class DsrTakeoverDaemonIT {
    private static final String VIP = "198.18.1.100";
    private static final String CLIENT_IP = "198.18.0.1";
    private static final String[] BACKEND_IPS = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
    private static final int TCP_PORT = 80;
    private static final int UDP_PORT = 5353;
    private static final int FLOWS = 18;
    private static final String PREFIX = "mlb-" + ProcessHandle.current().pid() + "-k";
    private final List<String> namespaces = new ArrayList<>();
    private final List<AutoCloseable> servers = Collections.synchronizedList(new ArrayList<>());

    @Test
    void heldConnectionsAndFlowsKeepTheirBackendThroughANewProcess() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "DSR network tests need root (network namespaces, AF_PACKET); skipped");
        Path dir = Files.createTempDirectory("maglevd-dsr-takeover");
        List<DaemonProcess> daemons = new ArrayList<>();
        List<Socket> held = new ArrayList<>();
        List<DatagramSocket> flows = new ArrayList<>();
        try {
            String lb = buildNetwork();
            Path config = dir.resolve("maglevd.yaml");
            Files.writeString(config, config(dir, 2));
            DaemonProcess first = DaemonProcess.startIn(lb, dir.resolve("gen1.log"), "run", "--config",
                    config.toString());
            daemons.add(first);
            first.awaitLine("maglevd running", Duration.ofSeconds(90));

            String[] tcpBackend = new String[FLOWS];
            String[] udpBackend = new String[FLOWS];
            for (int i = 0; i < FLOWS; i++) {
                Socket s = connect(45000 + i);
                held.add(s);
                tcpBackend[i] = exchange(s, "before " + i).split(" ")[0];
                DatagramSocket d = udpClient(46000 + i);
                flows.add(d);
                udpBackend[i] = udpExchange(d).split(" ")[0];
            }
            // b3 joins by a reload: about a third of the flows' slots now name it; tracked flows stay.
            Files.writeString(config, config(dir, 3));
            new ProcessBuilder("kill", "-HUP", Long.toString(first.handle().pid())).start().waitFor();
            first.awaitLine("reload of", Duration.ofSeconds(60));
            ForwardingSnapshot tcpTable = table(TCP_PORT);
            ForwardingSnapshot udpTable = table(UDP_PORT);
            List<Integer> tcpMoved = new ArrayList<>();
            List<Integer> udpMoved = new ArrayList<>();
            for (int i = 0; i < FLOWS; i++) {
                assertEquals(tcpBackend[i], exchange(held.get(i), "reloaded " + i).split(" ")[0]);
                if (!tcpBackend[i].equals(expected(tcpTable, 6, 45000 + i, TCP_PORT))) {
                    tcpMoved.add(i);
                }
                if (!udpBackend[i].equals(expected(udpTable, 17, 46000 + i, UDP_PORT))) {
                    udpMoved.add(i);
                }
            }
            assertTrue(!tcpMoved.isEmpty() && !udpMoved.isEmpty(),
                    "some flows' table answer changed with b3: tcp " + tcpMoved + ", udp " + udpMoved);

            DaemonProcess second = DaemonProcess.startIn(lb, dir.resolve("gen2.log"), "run", "--config",
                    config.toString(), "--takeover");
            daemons.add(second);
            second.awaitLine("maglevd running", Duration.ofSeconds(90));
            assertEquals(0, first.awaitExit(Duration.ofSeconds(60)), "the old process exits 0:\n" + first.output());
            second.awaitLine("vip dsr-udp: DSR engine forwarding", Duration.ofSeconds(30));
            String log = second.output();
            // The engines' pause: from the old process letting go (its threads stop) to the new engines' threads.
            long pausedAt = timestamp(first.output(), "serves; stopping accepting here");
            System.out.println("DsrTakeoverDaemonIT: DSR threads paused for " + (timestamp(log,
                    "vip dsr-tcp: DSR engine forwarding") - pausedAt) + " ms (tcp VIP), " + (timestamp(log,
                    "vip dsr-udp: DSR engine forwarding") - pausedAt)
                    + " ms (udp VIP), load average " + Files.readString(Path.of("/proc/loadavg")).trim());
            assertTrue(log.contains("DSR engine took over 2 packet socket(s)") && log.contains(FLOWS + " of " + FLOWS
                    + " flows taken over"), log);

            for (int i = 0; i < FLOWS; i++) {
                assertEquals(tcpBackend[i] + " after " + i, exchange(held.get(i), "after " + i),
                        "held connection " + i + " (moved in the table: " + tcpMoved.contains(i) + ")");
                assertEquals(udpBackend[i], udpExchange(flows.get(i)).split(" ")[0],
                        "udp flow " + i + " (moved in the table: " + udpMoved.contains(i) + ")");
            }
            try (Socket fresh = connect(45500)) {
                assertEquals(expected(tcpTable, 6, 45500, TCP_PORT), exchange(fresh, "new").split(" ")[0],
                        "a new connection follows the table");
            }
            String filters = run("ip", "netns", "exec", lb, "tc", "filter", "show", "dev", "eth0", "ingress");
            assertEquals(2, filters.lines().filter(l -> l.contains("pref 65520 bpf chain 0 handle")).count(),
                    "the ingress drop filters stay (now the new process's):\n" + filters);
            second.terminate();
            assertEquals(0, second.awaitExit(Duration.ofSeconds(60)), second.output());
            String left = run("ip", "netns", "exec", lb, "tc", "filter", "show", "dev", "eth0", "ingress");
            assertTrue(!left.contains("pref 65520"), "the new process owned the filters and removed them:\n" + left);
        } finally {
            for (Socket s : held) {
                s.close();
            }
            for (DatagramSocket d : flows) {
                d.close();
            }
            for (DaemonProcess d : daemons) {
                d.close();
            }
            tearDown();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static String config(Path dir, int backends) {
        StringBuilder c = new StringBuilder();
        c.append("workers: 2\n");
        c.append("shutdown_timeout: 2s\n");
        c.append("upgrade_socket: ").append(dir.resolve("upgrade.sock")).append('\n');
        c.append("admin:\n  listen: 127.0.0.1:9190\n");
        c.append("vips:\n");
        for (String protocol : new String[] {"tcp", "udp"}) {
            int port = protocol.equals("tcp") ? TCP_PORT : UDP_PORT;
            c.append("  - name: dsr-").append(protocol).append('\n');
            c.append("    listen: ").append(VIP).append(':').append(port).append('\n');
            c.append("    protocol: ").append(protocol).append('\n');
            c.append("    mode: dsr\n");
            c.append("    dsr:\n      method: l2\n      interface: eth0\n      io: af_packet\n");
            c.append("    health_check:\n      type: none\n");
            c.append("    backends:\n");
            for (int i = 0; i < backends; i++) {
                c.append("      - name: b").append(i + 1).append('\n');
                c.append("        address: ").append(BACKEND_IPS[i]).append(':').append(port).append('\n');
            }
        }
        return c.toString();
    }

    /** The daemon's table after the reload: ids in configuration order (b1 = 1, b2 = 2, b3 = 3). */
    private static ForwardingSnapshot table(int port) {
        List<BackendState> states = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            states.add(new BackendState(i + 1, "b" + (i + 1),
                    new InetSocketAddress(InetAddress.ofLiteral(BACKEND_IPS[i]), port), 1, false, true));
        }
        return ForwardingSnapshot.build("t", 1, 65537, states);
    }

    private static String expected(ForwardingSnapshot table, int protocol, int clientPort, int vipPort) {
        long hash = FlowHash.fiveTuple(protocol, FlowHash.v4Hi(), FlowHash.v4Lo(ip(CLIENT_IP)), clientPort,
                FlowHash.v4Hi(), FlowHash.v4Lo(ip(VIP)), vipPort);
        return table.backend(table.backendFor(hash)).name();
    }

    // ---- clients

    private Socket connect(int clientPort) throws Exception {
        return Setns.call(PREFIX + "c", () -> {
            Socket s = new Socket();
            s.setReuseAddress(true);
            s.setSoTimeout(15_000);
            s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), clientPort));
            s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), TCP_PORT), 15_000);
            return s;
        });
    }

    private static String exchange(Socket s, String line) throws IOException {
        s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        StringBuilder sb = new StringBuilder();
        int ch;
        while ((ch = s.getInputStream().read()) != -1 && ch != '\n') {
            sb.append((char) ch);
        }
        if (ch == -1) {
            throw new IOException("connection closed by the backend after '" + sb + "'");
        }
        return sb.toString();
    }

    private DatagramSocket udpClient(int clientPort) throws Exception {
        return Setns.call(PREFIX + "c", () -> {
            DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), clientPort));
            s.setSoTimeout(3_000);
            s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), UDP_PORT));
            return s;
        });
    }

    /** One datagram and its answer ("NAME"), retried a few times (UDP may lose one); fails without an answer. */
    private static String udpExchange(DatagramSocket s) throws IOException {
        byte[] buf = new byte[512];
        for (int attempt = 0; attempt < 5; attempt++) {
            s.send(new DatagramPacket(new byte[] {'?'}, 1));
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                s.receive(p);
                return new String(buf, 0, p.getLength(), StandardCharsets.UTF_8);
            } catch (SocketTimeoutException e) {
                // lost: again
            }
        }
        throw new IOException("no answer from the VIP over udp from " + s.getLocalSocketAddress());
    }

    // ---- network

    /** client, LB and b1..b3 on one bridge; the VIP on each backend's lo; returns the LB's namespace. */
    private String buildNetwork() throws Exception {
        String sw = namespace("sw");
        run("ip", "-n", sw, "link", "add", "br0", "type", "bridge");
        run("ip", "-n", sw, "link", "set", "br0", "up");
        String client = host("c", CLIENT_IP);
        String lb = host("lb", "198.18.0.2");
        run("ip", "-n", client, "route", "add", VIP + "/32", "via", "198.18.0.2");
        run("ip", "netns", "exec", lb, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward");
        for (int i = 0; i < BACKEND_IPS.length; i++) {
            String name = "b" + (i + 1);
            String ns = host(name, BACKEND_IPS[i]);
            run("ip", "-n", ns, "addr", "add", VIP + "/32", "dev", "lo");
            for (String dev : new String[] {"all", "eth0"}) {
                run("ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/" + dev + "/arp_ignore");
                run("ip", "netns", "exec", ns, "sh", "-c", "echo 2 > /proc/sys/net/ipv4/conf/" + dev + "/arp_announce");
            }
            startTcpBackend(ns, name);
            startUdpBackend(ns, name);
        }
        return lb;
    }

    private String namespace(String role) throws IOException {
        String ns = PREFIX + role;
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    private String host(String role, String ip) throws IOException {
        String ns = namespace(role);
        String port = "pk" + role;
        run("ip", "-n", PREFIX + "sw", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", PREFIX + "sw", "link", "set", port, "master", "br0", "up");
        run("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    private void tearDown() {
        for (AutoCloseable s : servers) {
            try {
                s.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            try {
                run("ip", "netns", "del", namespaces.get(i));
            } catch (IOException ignored) {
                // gone already
            }
        }
    }

    private void startTcpBackend(String ns, String name) throws Exception {
        ServerSocket server = Setns.call(ns, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(TCP_PORT), 64);
            return s;
        });
        servers.add(server);
        Thread.ofPlatform().daemon().start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
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

    /** Answers every datagram to VIP:5353 with its name, from the VIP (the socket is bound to it). */
    private void startUdpBackend(String ns, String name) throws Exception {
        DatagramSocket socket = Setns.call(ns, () -> new DatagramSocket(
                new InetSocketAddress(InetAddress.ofLiteral(VIP), UDP_PORT)));
        servers.add(socket);
        byte[] answer = name.getBytes(StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[512];
            while (!socket.isClosed()) {
                try {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    socket.receive(p);
                    socket.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
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

    /** Ms of the day of the first log line containing {@code text} (lines start with HH:mm:ss.SSS). */
    private static long timestamp(String log, String text) {
        String line = log.lines().filter(l -> l.contains(text)).findFirst()
                .orElseThrow(() -> new AssertionError("no log line with '" + text + "':\n" + log));
        return java.time.LocalTime.parse(line.substring(0, line.indexOf(' '))).toNanoOfDay() / 1_000_000;
    }

    private static int ip(String literal) {
        byte[] a = InetAddress.ofLiteral(literal).getAddress();
        return ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    }
}
