package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.MaglevdMain;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code maglevd explain} (offline) and {@code GET /vips/{vip}/explain} (live) against where real flows go: each
 * client socket is bound to a chosen 127.x source address and port before it connects (TCP) or sends (UDP)
 * through the VIP to backends that say their name. Then a flow kept across a table change: its backend is drained,
 * the table sends the same tuple elsewhere, and the live answer says the flow is tracked on the drained backend,
 * where it still is.
 */
class ExplainDaemonIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CLIENTS = 12;

    @TempDir
    static java.nio.file.Path dir;

    private static final List<NamedEchoBackend> tcpBackends = new ArrayList<>();
    private static final List<UdpOnlyBackend> udpBackends = new ArrayList<>();
    private static InProcessDaemon daemon;
    private static int tcpPort;
    private static int udpPort;
    private static final SplittableRandom random = new SplittableRandom();

    @BeforeAll
    static void start() throws Exception {
        StringBuilder tcp = new StringBuilder();
        StringBuilder udp = new StringBuilder();
        for (String name : List.of("alpha", "bravo", "charlie")) {
            NamedEchoBackend b = new NamedEchoBackend(name);
            tcpBackends.add(b);
            tcp.append(backend(b));
            UdpOnlyBackend u = new UdpOnlyBackend("u-" + name);
            udpBackends.add(u);
            udp.append(backend(u.name(), u.address().getPort()));
        }
        tcpPort = freePort();
        udpPort = UdpPorts.freeBelowEphemeralRange();
        String udpVip = """
                  - name: dns
                    protocol: udp
                    listen: 127.0.0.1:%d
                    table_size: 1009
                    health_check:
                      type: none
                    backends:
                """.formatted(udpPort) + udp;
        daemon = InProcessDaemon.start(dir, config(freePort(), vip("web", tcpPort, noCheck(), tcp.toString()), udpVip));
    }

    @AfterAll
    static void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (NamedEchoBackend b : tcpBackends) {
            b.close();
        }
        for (UdpOnlyBackend u : udpBackends) {
            u.close();
        }
    }

    /** {@code maglevd explain --format json} in-process, as an operator runs it on the configuration file. */
    private static JsonNode offline(String vip, InetSocketAddress client, String... extra) throws IOException {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> args = new ArrayList<>(List.of("explain", "--config", daemon.configFile().toString(), "--vip", vip,
                "--client", client.getAddress().getHostAddress() + ":" + client.getPort(), "--format", "json"));
        args.addAll(List.of(extra));
        int code = MaglevdMain.execute(new PrintWriter(out), new PrintWriter(err), args.toArray(String[]::new));
        assertEquals(0, code, err.toString());
        return JSON.readTree(out.toString());
    }

    private static JsonNode live(String vip, InetSocketAddress client) throws Exception {
        HttpResponse<String> r = daemon.get("/vips/" + vip + "/explain?client="
                + client.getAddress().getHostAddress() + ":" + client.getPort());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    /** A source address 127.0.{@code net}.{@code host} and a free port below the ephemeral range. */
    private static Socket boundTcp(int net, int host) throws IOException {
        InetAddress ip = InetAddress.getByAddress(new byte[] {127, 0, (byte) net, (byte) host});
        for (int attempt = 0; ; attempt++) {
            Socket s = new Socket();
            try {
                s.bind(new InetSocketAddress(ip, random.nextInt(20_000, 30_000)));
                return s;
            } catch (BindException taken) {
                s.close();
                if (attempt == 50) {
                    throw taken;
                }
            }
        }
    }

    private static DatagramSocket boundUdp(int net, int host) throws IOException {
        InetAddress ip = InetAddress.getByAddress(new byte[] {127, 0, (byte) net, (byte) host});
        for (int attempt = 0; ; attempt++) {
            try {
                DatagramSocket s = new DatagramSocket(new InetSocketAddress(ip, random.nextInt(20_000, 30_000)));
                s.setSoTimeout(10_000);
                return s;
            } catch (BindException taken) {
                if (attempt == 50) {
                    throw taken;
                }
            }
        }
    }

    private static InetSocketAddress local(Socket s) {
        return (InetSocketAddress) s.getLocalSocketAddress();
    }

    /** One datagram through the UDP VIP; returns the name of the backend that answered. */
    private static String exchange(DatagramSocket s, String payload) throws IOException {
        byte[] out = payload.getBytes(StandardCharsets.UTF_8);
        s.send(new DatagramPacket(out, out.length, new InetSocketAddress(InetAddress.getLoopbackAddress(), udpPort)));
        byte[] buf = new byte[1500];
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        s.receive(in);
        String answer = new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
        assertTrue(answer.endsWith(": " + payload), answer);
        return answer.substring(0, answer.length() - payload.length() - 2);
    }

    @Test
    void tcpOfflineAndLiveAnswersAgreeWithWhereConnectionsGo() throws Exception {
        Set<String> reached = new HashSet<>();
        for (int i = 1; i <= CLIENTS; i++) {
            Socket s = boundTcp(41, i);
            InetSocketAddress client = local(s);
            JsonNode offline = offline("web", client);
            JsonNode before = live("web", client);
            assertEquals(offline.get("digest").asText(), before.get("digest").asText());
            assertEquals(offline.get("flowHash").asText(), before.get("flowHash").asText());
            assertEquals(offline.get("slot").asInt(), before.get("slot").asInt());
            assertEquals(offline.get("backend").asText(), before.get("backend").asText());
            assertFalse(before.get("tracking").get("tracked").asBoolean(), before.toString());
            try (EchoClient c = EchoClient.connect(s, tcpPort)) {
                assertEquals(offline.get("backend").asText(), c.backend(), "client " + client);
                reached.add(c.backend());
                JsonNode during = live("web", client);
                assertTrue(during.get("tracking").get("tracked").asBoolean(), during.toString());
                assertEquals(c.backend(), during.get("tracking").get("backend").asText());
                assertFalse(during.get("tracking").get("differsFromTable").asBoolean());
            }
        }
        assertTrue(reached.size() >= 2, "the clients spread over more than one backend: " + reached);
    }

    @Test
    void tcpConnectionKeptAcrossATableChangeIsExplained() throws Exception {
        Socket s = boundTcp(42, 1);
        InetSocketAddress client = local(s);
        try (EchoClient held = EchoClient.connect(s, tcpPort)) {
            String kept = held.backend();
            assertEquals(200, daemon.post("/vips/web/backends/" + kept + "/drain").statusCode());
            try {
                JsonNode live = live("web", client);
                JsonNode offline = offline("web", client, "--without", kept);
                // The table (the same one maglevd explain builds without the drained backend) sends the tuple
                // elsewhere; the open connection stays where it is.
                assertEquals(offline.get("digest").asText(), live.get("digest").asText());
                assertEquals(offline.get("tableBackend").asText(), live.get("tableBackend").asText());
                assertNotEquals(kept, live.get("tableBackend").asText());
                JsonNode tracking = live.get("tracking");
                assertTrue(tracking.get("tracked").asBoolean(), live.toString());
                assertEquals(kept, tracking.get("backend").asText());
                assertTrue(tracking.get("differsFromTable").asBoolean());
                assertTrue(tracking.get("stays").asBoolean());
                assertEquals(kept, live.get("backend").asText());
                held.roundTrip(7); // still relayed to the drained backend
            } finally {
                assertEquals(200, daemon.post("/vips/web/backends/" + kept + "/undrain").statusCode());
            }
        }
    }

    @Test
    void udpFlowsGoWhereExplainSaysAndATrackedFlowStaysOnItsDrainedBackend() throws Exception {
        Set<String> reached = new HashSet<>();
        for (int i = 1; i <= CLIENTS; i++) {
            try (DatagramSocket s = boundUdp(43, i)) {
                InetSocketAddress client = (InetSocketAddress) s.getLocalSocketAddress();
                JsonNode offline = offline("dns", client);
                JsonNode before = live("dns", client);
                assertEquals(offline.get("digest").asText(), before.get("digest").asText());
                assertEquals(offline.get("backend").asText(), before.get("backend").asText());
                String answered = exchange(s, "q" + i);
                assertEquals(offline.get("backend").asText(), answered, "client " + client);
                reached.add(answered);
                JsonNode after = live("dns", client);
                assertTrue(after.get("tracking").get("tracked").asBoolean(), after.toString());
                assertEquals(answered, after.get("tracking").get("backend").asText());
            }
        }
        assertTrue(reached.size() >= 2, "the clients spread over more than one backend: " + reached);

        try (DatagramSocket s = boundUdp(44, 1)) {
            InetSocketAddress client = (InetSocketAddress) s.getLocalSocketAddress();
            String kept = exchange(s, "first");
            assertEquals(200, daemon.post("/vips/dns/backends/" + kept + "/drain").statusCode());
            try {
                JsonNode live = live("dns", client);
                JsonNode offline = offline("dns", client, "--without", kept);
                assertEquals(offline.get("digest").asText(), live.get("digest").asText());
                assertEquals(offline.get("tableBackend").asText(), live.get("tableBackend").asText());
                assertNotEquals(kept, live.get("tableBackend").asText());
                assertTrue(live.get("tracking").get("tracked").asBoolean(), live.toString());
                assertEquals(kept, live.get("tracking").get("backend").asText());
                assertTrue(live.get("tracking").get("differsFromTable").asBoolean());
                assertEquals(kept, live.get("backend").asText());
                assertEquals(kept, exchange(s, "second"), "a drained backend keeps its tracked flows");
            } finally {
                assertEquals(200, daemon.post("/vips/dns/backends/" + kept + "/undrain").statusCode());
            }
        }
    }

    @Test
    void badRequestsAreExplained() throws Exception {
        assertEquals(400, daemon.get("/vips/web/explain").statusCode());
        HttpResponse<String> bad = daemon.get("/vips/web/explain?client=example.com:80");
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("host name"), bad.body());
        assertEquals(404, daemon.get("/vips/nope/explain?client=127.0.0.1:1").statusCode());
        assertEquals(405, daemon.post("/vips/web/explain?client=127.0.0.1:1").statusCode());
    }
}
