package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The fanout program sends a flow's packets and the ICMP errors about it to the same socket. */
class FlowSteeringTest {
    private static final String VIP = "198.18.1.100";
    private static final String VIP6 = "2001:db8::100";
    private final BpfProgram v4 = FlowSteering.program(false);
    private final BpfProgram v6 = FlowSteering.program(true);

    private static int v4Flow(BpfProgram p, String client, int clientPort, int protocol) {
        byte[] l4 = protocol == 6 ? Frames.tcp(clientPort, 80, new byte[4]) : Frames.udp(clientPort, 80, new byte[4]);
        return BpfInterpreter.run(p, Frames.ipv4(client, VIP, protocol, 0x4000, l4));
    }

    private static int v4Icmp(BpfProgram p, String client, int clientPort, boolean outerOptions) {
        byte[] quoted = Arrays.copyOf(Frames.ipv4(VIP, client, 6, 0x4000, Frames.tcp(80, clientPort, new byte[0])), 28);
        byte[] icmp = Frames.icmp(3, 4, 1400, quoted);
        if (!outerOptions) {
            return BpfInterpreter.run(p, Frames.ipv4("198.18.0.254", VIP, 1, 0, icmp));
        }
        byte[] ip = Frames.ipv4("198.18.0.254", VIP, 1, 0, Frames.concat(new byte[] {1, 1, 1, 1}, icmp));
        ip[0] = 0x46;
        return BpfInterpreter.run(p, ip);
    }

    @Test
    void icmpErrorsSteerLikeTheFlowTheyQuote() {
        for (int port = 40000; port < 40200; port++) {
            int flow = v4Flow(v4, "198.18.0.1", port, 6);
            assertEquals(flow, v4Icmp(v4, "198.18.0.1", port, false), "port " + port);
            assertEquals(flow, v4Icmp(v4, "198.18.0.1", port, true), "port " + port + ", outer IP options");
        }
    }

    @Test
    void flowsSpreadOverSockets() {
        int[] perSocket = new int[4];
        for (int port = 1024; port < 5024; port++) {
            perSocket[Integer.remainderUnsigned(v4Flow(v4, "198.18.0.1", port, 17), 4)]++;
        }
        for (int n : perSocket) {
            assertTrue(n > 800 && n < 1200, Arrays.toString(perSocket));
        }
        int[] perSocketByAddress = new int[2];
        for (int host = 1; host < 255; host++) {
            perSocketByAddress[Integer.remainderUnsigned(v4Flow(v4, "198.18.5." + host, 5000, 6), 2)]++;
        }
        assertTrue(perSocketByAddress[0] > 90 && perSocketByAddress[1] > 90, Arrays.toString(perSocketByAddress));
    }

    @Test
    void fragmentsOfADatagramSteerTogether() {
        int first = BpfInterpreter.run(v4, Frames.ipv4("198.18.0.1", VIP, 17, 0x2000, Frames.udp(5000, 53, new byte[16])));
        int later = BpfInterpreter.run(v4, Frames.ipv4("198.18.0.1", VIP, 17, 0x0003, new byte[16]));
        assertEquals(first, later);
    }

    @Test
    void ipv6PacketTooBigSteersLikeTheFlowItQuotes() {
        for (int port = 40000; port < 40100; port++) {
            int flow = BpfInterpreter.run(v6, Frames.ipv6("2001:db8::1", VIP6, 6, Frames.tcp(port, 443, new byte[0])));
            byte[] quoted = Frames.ipv6(VIP6, "2001:db8::1", 6, Frames.tcp(443, port, new byte[0]));
            int error = BpfInterpreter.run(v6, Frames.ipv6("2001:db8::fe", VIP6, 58, Frames.icmp(2, 0, 1280, quoted)));
            assertEquals(flow, error, "port " + port);
        }
        int first = BpfInterpreter.run(v6, Frames.ipv6("2001:db8::1", VIP6, 44, Frames.ipv6Fragment(17, 0, true, new byte[16])));
        int later = BpfInterpreter.run(v6, Frames.ipv6("2001:db8::1", VIP6, 44, Frames.ipv6Fragment(17, 9, false, new byte[16])));
        assertEquals(first, later);
    }
}
