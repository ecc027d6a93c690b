package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.Socket;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What only AF_XDP has: the engine reports it, the XDP program is on the LB's interface exactly while an engine
 * runs, a killed engine's program is replaced by the next one, and a second AF_XDP engine on the interface is
 * refused with a reason ({@code af_xdp}) or falls back to AF_PACKET ({@code auto}). The forwarding itself is
 * tested for both I/O kinds by the parameterised DSR tests.
 */
@Timeout(180)
class DsrAfXdpIT {
    private static final int PORT = 80;
    private static DsrLab net;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_XDP, bpf()) and the ip tool; skipped");
        net = new DsrLab("x");
        try {
            net.startTcpServers(PORT);
            net.clientSendsCompleteChecksums();
        } catch (Exception e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    static void tearDown() {
        if (net != null) {
            net.close();
        }
    }

    private static EngineProcess engine(String io, int port) throws Exception {
        return new EngineProcess(net.lb, DsrLab.VIP + ":" + port, "tcp", "l2", "eth0", "1", "65536", "0", "-", "6080",
                "5-tuple", "-", "ingress-drop", io);
    }

    private static String xdpOnLb() throws Exception {
        return NetLab.run("ip", "-n", net.lb, "-d", "link", "show", "eth0");
    }

    private static void forwardsTo3Backends(EngineProcess engine, int firstPort) throws Exception {
        Map<String, Integer> ids = engine.backends(DsrLab.spec(PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, PORT);
        Set<String> seen = new HashSet<>();
        for (int port = firstPort; port < firstPort + 12; port++) {
            try (Socket s = connect(engine, port)) {
                String reply = DsrLab.exchange(s, "hello " + port);
                assertEquals(DsrLab.expectedBackend(expected, 6, port, PORT), reply.split(" ")[0], "client port " + port);
                seen.add(reply.split(" ")[0]);
            }
        }
        assertEquals(Set.of("b1", "b2", "b3"), seen);
    }

    private static Socket connect(EngineProcess engine, int port) throws Exception {
        try {
            return net.connect(port, PORT);
        } catch (java.io.IOException e) {
            throw new AssertionError("connect from client port " + port + " failed (" + e + "); engine stats "
                    + engine.stats() + "\n" + engine.output(), e);
        }
    }

    @Test
    void theProgramIsThereWhileTheEngineRunsAndGoneAfter() throws Exception {
        try (EngineProcess engine = engine("af_xdp", PORT)) {
            assertEquals("af_xdp", engine.io());
            assertTrue(xdpOnLb().contains("prog/xdp"), xdpOnLb());
            forwardsTo3Backends(engine, 48000);
            Map<String, Long> stats = engine.stats();
            assertTrue(stats.get("forwarded") >= 36, stats.toString());
        }
        assertFalse(xdpOnLb().contains("xdp"), "stop leaves no XDP program: " + xdpOnLb());
        try (EngineProcess again = engine("af_xdp", PORT)) {
            forwardsTo3Backends(again, 48100);
        }
        assertFalse(xdpOnLb().contains("xdp"), xdpOnLb());
    }

    @Test
    void aKilledEnginesProgramIsReplacedByTheNextEngine() throws Exception {
        EngineProcess killed = engine("af_xdp", PORT);
        try {
            ProcessHandle.of(killed.pid()).ifPresent(ProcessHandle::destroyForcibly);
            killed.awaitExit();
            assertTrue(xdpOnLb().contains("maglev_"), "the killed engine's program stays: " + xdpOnLb());
            try (EngineProcess next = engine("af_xdp", PORT)) {
                assertTrue(next.output().contains("removed a stale XDP program"), next.output());
                forwardsTo3Backends(next, 48200);
            }
            assertFalse(xdpOnLb().contains("xdp"), xdpOnLb());
        } finally {
            killed.close();
        }
    }

    @Test
    void aSecondEngineOnTheInterfaceIsRefusedOnAfXdpAndFallsBackOnAuto() throws Exception {
        try (EngineProcess first = engine("af_xdp", PORT)) {
            EngineProcess refused = null;
            try {
                refused = engine("af_xdp", 81);
                throw new AssertionError("a second af_xdp engine started: " + refused.output());
            } catch (java.io.IOException expected) {
                assertTrue(expected.getMessage().contains("already carries the XDP program of maglevd process"),
                        expected.getMessage());
            } finally {
                if (refused != null) {
                    refused.close();
                }
            }
            try (EngineProcess auto = engine("auto", 81)) {
                assertEquals("af_packet", auto.io());
                assertTrue(auto.output().contains("dsr.io auto: AF_PACKET"), auto.output());
            }
            forwardsTo3Backends(first, 48300);
        }
    }
}
