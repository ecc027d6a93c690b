package io.maglevlb.dataplane.packet;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The DSR test network: client 198.18.0.1, LB 198.18.0.2, backends b1..b3 = 198.18.0.11..13, all on one bridge;
 * VIP 198.18.1.100 routed by the client via the LB, configured on each backend's lo with arp_ignore=1 /
 * arp_announce=2 (so only the LB attracts VIP traffic). The LB has IP forwarding off and does not own the VIP:
 * its kernel drops the VIP packets it also receives, only the engine forwards them.
 */
final class DsrLab implements AutoCloseable {
    static final String CLIENT_IP = "198.18.0.1";
    static final String LB_IP = "198.18.0.2";
    static final String VIP = "198.18.1.100";
    static final String[] BACKEND_IPS = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
    static final String[] BACKEND_NAMES = {"b1", "b2", "b3"};

    final NetLab lab;
    final String client;
    final String lb;
    final String[] backends = new String[3];
    final TestBackends servers = new TestBackends();

    DsrLab(String tag) throws Exception {
        lab = new NetLab(tag);
        try {
            client = lab.host("c", CLIENT_IP + "/24");
            lb = lab.host("lb", LB_IP + "/24");
            for (int i = 0; i < 3; i++) {
                backends[i] = lab.host(BACKEND_NAMES[i], BACKEND_IPS[i] + "/24");
                NetLab.run("ip", "-n", backends[i], "addr", "add", VIP + "/32", "dev", "lo");
                for (String dev : new String[] {"all", "eth0"}) {
                    lab.sysctl(backends[i], "net.ipv4.conf." + dev + ".arp_ignore", "1");
                    lab.sysctl(backends[i], "net.ipv4.conf." + dev + ".arp_announce", "2");
                }
            }
            NetLab.run("ip", "-n", client, "route", "add", VIP + "/32", "via", LB_IP);
            lab.sysctl(lb, "net.ipv4.ip_forward", "0");
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    /**
     * Another LB host on the bridge, {@code lb<k>} with address 198.18.0.(2 + k), IP forwarding off: where a
     * second AF_XDP engine process runs, since one process owns an interface's AF_XDP program. Clients reach it
     * with {@link #routeVia}.
     */
    String extraLb(int k) throws IOException {
        String ns = lab.host("lb" + k, lbIp(k) + "/24");
        lab.sysctl(ns, "net.ipv4.ip_forward", "0");
        return ns;
    }

    /** Address of LB host {@code k} (0: the main LB). */
    static String lbIp(int k) {
        return "198.18.0." + (2 + k);
    }

    /** Makes the client send the VIP's {@code protocol} traffic to {@code port} via {@code lbIp} (policy routing). */
    void routeVia(String protocol, int port, String lbIp) throws IOException {
        String table = String.valueOf(1000 + port);
        NetLab.run("ip", "-n", client, "route", "add", VIP + "/32", "via", lbIp, "table", table);
        NetLab.run("ip", "-n", client, "rule", "add", "ipproto", protocol, "dport", String.valueOf(port), "table", table);
    }

    /**
     * The LB namespace for the {@code k}-th engine of a test on {@code io}: the main LB for every engine on
     * af_packet, an LB host of its own (reached through {@link #routeVia}) for each further engine on af_xdp.
     */
    String lbFor(String io, int k, String protocol, int port) throws IOException {
        if (!io.equals("af_xdp") || k == 0) {
            return lb;
        }
        String ns = extraLb(k);
        routeVia(protocol, port, lbIp(k));
        return ns;
    }

    void startTcpServers(int port) throws Exception {
        for (int i = 0; i < 3; i++) {
            servers.startTcp(backends[i], BACKEND_NAMES[i], InetAddress.ofLiteral(VIP), port);
        }
    }

    void startUdpServers(int port) throws Exception {
        for (int i = 0; i < 3; i++) {
            servers.startUdp(backends[i], BACKEND_NAMES[i], InetAddress.ofLiteral(VIP), port);
        }
    }

    /** "b1=198.18.0.11:PORT:1,..." for the named backends (with optional ":drained"/":down" suffixes). */
    static String spec(int port, String... entries) {
        List<String> parts = new ArrayList<>();
        for (String e : entries) {
            String[] f = e.split(":", 2);
            int i = Integer.parseInt(f[0].substring(1)) - 1;
            parts.add(f[0] + "=" + BACKEND_IPS[i] + ":" + port + ":1" + (f.length > 1 ? ":" + f[1] : ""));
        }
        return String.join(",", parts);
    }

    /** The same snapshot the engine builds for {@code ids} (name -> id) with weight 1 each: to predict placement. */
    static ForwardingSnapshot expectedSnapshot(Map<String, Integer> ids, int port, String... drainedOrDown) {
        List<BackendState> states = new ArrayList<>();
        ids.forEach((name, id) -> {
            int i = Integer.parseInt(name.substring(1)) - 1;
            boolean drained = List.of(drainedOrDown).contains(name + ":drained");
            boolean down = List.of(drainedOrDown).contains(name + ":down");
            states.add(new BackendState(id, name, new InetSocketAddress(InetAddress.ofLiteral(BACKEND_IPS[i]), port),
                    1, drained, !down));
        });
        return ForwardingSnapshot.build("test", 1, 65537, states);
    }

    /** The backend name Maglev picks for client port {@code clientPort} (5-tuple hash). */
    static String expectedBackend(ForwardingSnapshot s, int protocol, int clientPort, int vipPort) {
        long hash = FlowHash.fiveTuple(protocol, FlowHash.v4Hi(), FlowHash.v4Lo(ip(CLIENT_IP)), clientPort,
                FlowHash.v4Hi(), FlowHash.v4Lo(ip(VIP)), vipPort);
        BackendState b = s.backend(s.backendFor(hash));
        return b == null ? null : b.name();
    }

    static int ip(String literal) {
        byte[] a = InetAddress.ofLiteral(literal).getAddress();
        return ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    }

    /** A TCP connection from the client namespace, from {@code clientPort} to the VIP. */
    Socket connect(int clientPort, int vipPort) throws Exception {
        return NetLab.inNamespace(client, () -> {
            Socket s = new Socket();
            s.setReuseAddress(true);
            s.setSoTimeout(10_000);
            s.bind(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), clientPort));
            s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), vipPort), 10_000);
            return s;
        });
    }

    /** Sends one line and returns the backend's answer line ("NAME LINE"). */
    static String exchange(Socket s, String line) throws IOException {
        s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
        BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8), 1);
        StringBuilder sb = new StringBuilder();
        int ch;
        while ((ch = s.getInputStream().read()) != -1 && ch != '\n') {
            sb.append((char) ch);
        }
        if (ch == -1) {
            throw new IOException("connection closed by the backend");
        }
        return sb.toString();
    }

    /** A UDP socket in the client namespace bound to {@code clientPort}, connected to the VIP. */
    DatagramSocket udpClient(int clientPort, int vipPort) throws Exception {
        return NetLab.inNamespace(client, () -> {
            DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.ofLiteral(CLIENT_IP), clientPort));
            s.setSoTimeout(5_000);
            s.connect(new InetSocketAddress(InetAddress.ofLiteral(VIP), vipPort));
            return s;
        });
    }

    /** Sends {@code payload} and returns the reply text, or null on timeout. */
    static String udpExchange(DatagramSocket s, byte[] payload) throws IOException {
        s.send(new DatagramPacket(payload, payload.length));
        byte[] buf = new byte[2048];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        try {
            s.receive(p);
        } catch (java.net.SocketTimeoutException e) {
            return null;
        }
        if (!p.getAddress().equals(InetAddress.ofLiteral(VIP))) {
            throw new IOException("reply from " + p.getAddress() + ", not the VIP");
        }
        return new String(buf, 0, p.getLength(), StandardCharsets.UTF_8);
    }

    /** RX packet counter of eth0 in namespace {@code ns}. */
    long rxPackets(String ns) throws IOException {
        return Long.parseLong(lab.exec(ns, "cat", "/sys/class/net/eth0/statistics/rx_packets").trim());
    }

    @Override
    public void close() {
        servers.close();
        lab.close();
    }
}
