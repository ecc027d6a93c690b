package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code maglevd run --takeover} with a UDP proxy VIP whose table changed under its flows: a backend is added by a
 * reload, so about a third of the tracked flows are no longer where the table would put them; a new maglevd takes
 * the VIP sockets and the flow entries over, and every flow keeps its backend through it. Real processes, real
 * sockets on loopback.
 */
@Timeout(180)
class UdpFlowTakeoverProcessIT {
    private static final int FLOWS = 30;
    private static final int TABLE_SIZE = 1009;

    @TempDir
    Path dir;

    @Test
    void flowsWhoseBackendTheTableNoLongerGivesKeepItThroughTheNewProcess() throws Exception {
        int vipPort = UdpPorts.freeBelowEphemeralRange();
        InetSocketAddress vip = new InetSocketAddress(InetAddress.getLoopbackAddress(), vipPort);
        List<UdpOnlyBackend> backends = new ArrayList<>();
        List<DatagramSocket> clients = new ArrayList<>();
        List<DaemonProcess> daemons = new ArrayList<>();
        try {
            for (int i = 1; i <= 3; i++) {
                backends.add(new UdpOnlyBackend("b" + i));
            }
            Path config = dir.resolve("maglevd.yaml");
            int adminPort = freeTcpPort();
            Files.writeString(config, config(vipPort, adminPort, backends.subList(0, 2)));
            DaemonProcess first = DaemonProcess.start(dir.resolve("gen1.log"), "run", "--config", config.toString());
            daemons.add(first);
            first.awaitLine("maglevd running", Duration.ofSeconds(90));

            String[] backendOf = new String[FLOWS];
            for (int i = 0; i < FLOWS; i++) {
                DatagramSocket c = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                c.setSoTimeout(5_000);
                clients.add(c);
                backendOf[i] = ask(c, vip, "before");
            }
            Files.writeString(config, config(vipPort, adminPort, backends));
            new ProcessBuilder("kill", "-HUP", Long.toString(first.handle().pid())).start().waitFor();
            first.awaitLine("reload of", Duration.ofSeconds(60));
            ForwardingSnapshot table = table(backends);
            List<Integer> moved = new ArrayList<>();
            for (int i = 0; i < FLOWS; i++) {
                assertEquals(backendOf[i], ask(clients.get(i), vip, "reloaded"), "flow " + i + " stays (reload)");
                int port = clients.get(i).getLocalPort();
                long hash = FlowHash.fiveTuple(17, FlowHash.v4Hi(), FlowHash.v4Lo(0x7f000001), port, FlowHash.v4Hi(),
                        FlowHash.v4Lo(0x7f000001), vipPort);
                if (!backendOf[i].equals(table.backend(table.backendFor(hash)).name())) {
                    moved.add(i);
                }
            }
            assertTrue(!moved.isEmpty(), "some flows' table answer is b3 now");

            DaemonProcess second = DaemonProcess.start(dir.resolve("gen2.log"), "run", "--config", config.toString(),
                    "--takeover");
            daemons.add(second);
            second.awaitLine("maglevd running", Duration.ofSeconds(90));
            assertTrue(second.output().contains("took over " + FLOWS + " of the previous process's " + FLOWS
                    + " udp flows"), second.output());
            assertEquals(0, first.awaitExit(Duration.ofSeconds(60)), first.output());
            for (int i = 0; i < FLOWS; i++) {
                assertEquals(backendOf[i], ask(clients.get(i), vip, "after"),
                        "flow " + i + " keeps its backend (moved in the table: " + moved.contains(i) + ")");
            }
            second.terminate();
            assertEquals(0, second.awaitExit(Duration.ofSeconds(60)), second.output());
        } finally {
            for (DatagramSocket c : clients) {
                c.close();
            }
            for (DaemonProcess d : daemons) {
                d.close();
            }
            for (UdpOnlyBackend b : backends) {
                b.close();
            }
        }
    }

    private String config(int vipPort, int adminPort, List<UdpOnlyBackend> backends) {
        StringBuilder yaml = new StringBuilder("""
                workers: 2
                shutdown_timeout: 3s
                upgrade_socket: %s
                admin:
                  listen: 127.0.0.1:%d
                vips:
                  - name: dns
                    listen: 127.0.0.1:%d
                    protocol: udp
                    table_size: %d
                    idle_timeout: 60s
                    health_check:
                      type: none
                    backends:
                """.formatted(dir.resolve("upgrade.sock"), adminPort, vipPort, TABLE_SIZE));
        for (UdpOnlyBackend b : backends) {
            yaml.append("      - name: ").append(b.name()).append('\n')
                    .append("        address: ").append(b.configAddress()).append('\n');
        }
        return yaml.toString();
    }

    /** The daemon's table with every backend: ids in configuration order. */
    private static ForwardingSnapshot table(List<UdpOnlyBackend> backends) {
        List<BackendState> states = new ArrayList<>();
        for (int i = 0; i < backends.size(); i++) {
            states.add(new BackendState(i + 1, backends.get(i).name(), backends.get(i).address(), 1, false, true));
        }
        return ForwardingSnapshot.build("dns", 1, TABLE_SIZE, states);
    }

    /** Sends one datagram and returns the name of the backend that answered ({@code <name>: <payload>}). */
    private static String ask(DatagramSocket client, InetSocketAddress vip, String payload) throws IOException {
        byte[] b = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(b, b.length, vip));
        DatagramPacket in = new DatagramPacket(new byte[2048], 2048);
        client.receive(in);
        assertEquals(vip, in.getSocketAddress(), "replies come from the VIP address and port");
        String reply = new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
        assertTrue(reply.endsWith(": " + payload), reply);
        return reply.substring(0, reply.length() - payload.length() - 2);
    }

    private static int freeTcpPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
