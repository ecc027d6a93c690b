package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.DatagramSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A DSR engine hands over to a new engine (the engine side of {@code maglevd run --takeover}; see
 * {@link DsrEngineProcess}'s {@code takeover}): held TCP connections and UDP flows keep their backend, also those
 * whose backend the table no longer gives them (a backend was added after they began), and new flows follow the
 * table. On AF_PACKET the new engine reads the same sockets (same fanout group, frames waiting in the rings); on
 * AF_XDP the old engine stops and the new one starts with its flows. A takeover without the flows moves those
 * flows to the table's backend: the control that shows the flow state is what keeps them.
 */
@ParameterizedClass(name = "dsr.io {0}")
@ValueSource(strings = {"af_packet", "af_xdp"})
@Timeout(180)
class DsrTakeoverIT {
    private static final int TCP_PORT = 80;
    private static final int UDP_PORT = 5353;
    private static final int FLOWS = 24;

    @Parameter
    String ioKind;

    @Test
    void heldConnectionsAndUdpFlowsKeepTheirBackendAcrossATakeover() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_PACKET) and the ip tool; skipped");
        boolean xdp = ioKind.equals("af_xdp");
        List<Socket> held = new ArrayList<>();
        List<DatagramSocket> flows = new ArrayList<>();
        try (DsrLab net = new DsrLab("to" + (xdp ? "x" : "p"))) {
            net.startTcpServers(TCP_PORT);
            net.startUdpServers(UDP_PORT);
            String udpLb = net.lbFor(ioKind, 1, "udp", UDP_PORT);
            String threads = xdp ? "1" : "2";
            try (EngineProcess tcp = new EngineProcess(net.lb, DsrLab.VIP + ":" + TCP_PORT, "tcp", "l2", "eth0",
                    threads, "65536", "0", "-", "6080", "5-tuple", "-", "ingress-drop", ioKind);
                 EngineProcess udp = new EngineProcess(udpLb, DsrLab.VIP + ":" + UDP_PORT, "udp", "l2", "eth0",
                    threads, "65536", "0", "-", "6080", "5-tuple", "-", "ingress-drop", ioKind)) {
                assertEquals(ioKind, tcp.io());
                tcp.backends(DsrLab.spec(TCP_PORT, "b1", "b2"));
                udp.backends(DsrLab.spec(UDP_PORT, "b1", "b2"));
                String[] tcpBackend = new String[FLOWS];
                String[] udpBackend = new String[FLOWS];
                for (int i = 0; i < FLOWS; i++) {
                    Socket s = net.connect(43000 + i, TCP_PORT);
                    held.add(s);
                    tcpBackend[i] = DsrLab.exchange(s, "before " + i).split(" ")[0];
                    DatagramSocket d = net.udpClient(44000 + i, UDP_PORT);
                    flows.add(d);
                    udpBackend[i] = DsrLab.udpExchange(d, new byte[3]).split(" ")[0];
                }
                // b3 joins: about a third of the flows' slots now name it; tracked flows stay where they are.
                Map<String, Integer> tcpIds = tcp.backends(DsrLab.spec(TCP_PORT, "b1", "b2", "b3"));
                Map<String, Integer> udpIds = udp.backends(DsrLab.spec(UDP_PORT, "b1", "b2", "b3"));
                ForwardingSnapshot tcpTable = DsrLab.expectedSnapshot(tcpIds, TCP_PORT);
                ForwardingSnapshot udpTable = DsrLab.expectedSnapshot(udpIds, UDP_PORT);
                List<Integer> tcpMoved = new ArrayList<>();
                List<Integer> udpMoved = new ArrayList<>();
                for (int i = 0; i < FLOWS; i++) {
                    if (!tcpBackend[i].equals(DsrLab.expectedBackend(tcpTable, 6, 43000 + i, TCP_PORT))) {
                        tcpMoved.add(i);
                    }
                    if (!udpBackend[i].equals(DsrLab.expectedBackend(udpTable, 17, 44000 + i, UDP_PORT))) {
                        udpMoved.add(i);
                    }
                }
                assertTrue(!tcpMoved.isEmpty() && !udpMoved.isEmpty(),
                        "some flows' table answer changed: tcp " + tcpMoved + ", udp " + udpMoved);

                assertEquals("ok " + FLOWS, tcp.command("takeover"), "every TCP flow taken over\n" + tcp.output());
                assertEquals("ok " + FLOWS, udp.command("takeover"), "every UDP flow taken over\n" + udp.output());

                for (int i = 0; i < FLOWS; i++) {
                    String reply = DsrLab.exchange(held.get(i), "after " + i);
                    assertEquals(tcpBackend[i] + " after " + i, reply, "held connection " + i + " (moved in the table: "
                            + tcpMoved.contains(i) + ")");
                    assertEquals(udpBackend[i], DsrLab.udpExchange(flows.get(i), new byte[3]).split(" ")[0],
                            "udp flow " + i + " (moved in the table: " + udpMoved.contains(i) + ")");
                }
                try (Socket fresh = net.connect(43500, TCP_PORT)) {
                    assertEquals(DsrLab.expectedBackend(tcpTable, 6, 43500, TCP_PORT),
                            DsrLab.exchange(fresh, "new").split(" ")[0], "a new connection follows the table");
                }
                if (!xdp) {
                    String filters = net.lab.exec(net.lb, "tc", "filter", "show", "dev", "eth0", "ingress");
                    assertTrue(filters.contains("pref 65520"), "the ingress drop filter stays: " + filters);
                }

                // Control: a takeover without the flow state places the moved flows by the table.
                udp.command("takeover noflows");
                for (int i : udpMoved) {
                    assertEquals(DsrLab.expectedBackend(udpTable, 17, 44000 + i, UDP_PORT),
                            DsrLab.udpExchange(flows.get(i), new byte[3]).split(" ")[0], "udp flow " + i);
                }
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
            for (DatagramSocket d : flows) {
                d.close();
            }
        }
    }
}
