package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.Socket;
import java.util.List;
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
    private static final int PORT2 = 81;
    private static DsrLab net;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(NetLab.available(),
                "DSR network tests need root (network namespaces, AF_XDP, bpf()) and the ip tool; skipped");
        net = new DsrLab("x");
        try {
            net.startTcpServers(PORT);
            net.startTcpServers(PORT2);
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
        return engine(List.of(), io, port, "1");
    }

    private static EngineProcess engine(List<String> prefix, String io, int port, String threads) throws Exception {
        return new EngineProcess(net.lb, prefix, DsrLab.VIP + ":" + port, "tcp", "l2", "eth0", threads, "65536", "0",
                "-", "6080", "5-tuple", "-", "ingress-drop", io);
    }

    /**
     * The reason an af_xdp engine under {@code prefix} with {@code threads} threads gives for not starting; checks
     * that it left the interface's XDP program (or its absence) as it was.
     */
    private static String refusal(List<String> prefix, String threads) throws Exception {
        String before = programId();
        try (EngineProcess started = engine(prefix, "af_xdp", PORT, threads)) {
            throw new AssertionError("the af_xdp engine started: " + started.output());
        } catch (java.io.IOException expected) {
            assertEquals(before, programId(), "a refused engine leaves the interface as it was: " + xdpOnLb());
            return expected.getMessage();
        }
    }

    private static void assumeSetpriv() {
        Assumptions.assumeTrue(java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/setpriv"))
                        && java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/prlimit")),
                "setpriv and prlimit (util-linux) missing: capability and memlock errors NOT tested");
    }

    private static String xdpOnLb() throws Exception {
        return NetLab.run("ip", "-n", net.lb, "-d", "link", "show", "eth0");
    }

    private static void forwardsTo3Backends(EngineProcess engine, int firstPort) throws Exception {
        forwardsTo3Backends(engine, firstPort, PORT);
    }

    private static void forwardsTo3Backends(EngineProcess engine, int firstPort, int vipPort) throws Exception {
        Map<String, Integer> ids = engine.backends(DsrLab.spec(PORT, "b1", "b2", "b3"));
        ForwardingSnapshot expected = DsrLab.expectedSnapshot(ids, PORT);
        Set<String> seen = new HashSet<>();
        for (int port = firstPort; port < firstPort + 12; port++) {
            try (Socket s = connect(engine, port, vipPort)) {
                String reply = DsrLab.exchange(s, "hello " + port);
                assertEquals(DsrLab.expectedBackend(expected, 6, port, vipPort), reply.split(" ")[0],
                        "client port " + port + " to VIP port " + vipPort);
                seen.add(reply.split(" ")[0]);
            }
        }
        assertEquals(Set.of("b1", "b2", "b3"), seen);
    }

    private static Socket connect(EngineProcess engine, int port, int vipPort) throws Exception {
        try {
            return net.connect(port, vipPort);
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
            assertTrue(engine.command("fds").matches("fds bpf=[1-9]\\d*"), engine.command("fds"));
            Map<String, Long> stats = engine.stats();
            assertTrue(stats.get("forwarded") >= 36, stats.toString());
            // the client's veth leaves checksums to offload: AF_XDP cannot see that flag, the engine recognises
            // the frames by their checksum field (the pseudo-header sum) and completes them
            assertTrue(stats.get("checksums") >= 36, stats.toString());
        }
        assertFalse(xdpOnLb().contains("xdp"), "stop leaves no XDP program: " + xdpOnLb());
        try (EngineProcess again = engine("af_xdp", PORT)) {
            forwardsTo3Backends(again, 48100);
            // stopped while the process lives on: the process, not its exit, lets go of program, maps and sockets
            assertEquals("ok", again.command("stop"));
            assertFalse(xdpOnLb().contains("xdp"), "stop leaves no XDP program: " + xdpOnLb());
            assertEquals("fds bpf=0", again.command("fds"));
            // a socket still bound to queue 0, or a program of this living process, would refuse the next engine
            try (EngineProcess next = engine("af_xdp", PORT)) {
                forwardsTo3Backends(next, 48150);
            }
        }
        assertFalse(xdpOnLb().contains("xdp"), xdpOnLb());
    }

    /** The id of the XDP program on the LB's eth0 ("prog/xdp id 42"), or "none". */
    private static String programId() throws Exception {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("prog/xdp id (\\d+)").matcher(xdpOnLb());
        return m.find() ? m.group(1) : "none";
    }

    @Test
    void twoVipsOnOneInterfaceShareItsProgramAndAReloadOnlyUpdatesTheVipMap() throws Exception {
        try (EngineProcess engine = engine("af_xdp", PORT)) {
            String program = programId();
            assertFalse(program.equals("none"), xdpOnLb());
            assertEquals("xdp vips=1 keys=2", engine.command("xdp")); // port entry + address entry
            forwardsTo3Backends(engine, 48400, PORT);

            Map<String, Long> before = engine.stats();
            long firstBefore = before.get("forwarded");
            assertEquals("ok af_xdp", engine.command("add-vip " + PORT2));
            // a second port entry; the address entry (fragments) is the two VIPs' one
            assertEquals("xdp vips=2 keys=3", engine.command("xdp"));
            assertEquals(program, programId(), "adding a VIP does not replace the program");
            forwardsTo3Backends(engine, 48500, PORT2);
            Map<String, Long> first = engine.stats();
            Map<String, Long> second = engine.stats("stats2");
            // the second VIP's frames are its own: the first VIP's counters move by a straggler at most (a late
            // FIN of an earlier test's connection; counters are read racily, at most one batch old)
            assertTrue(first.get("forwarded") - firstBefore < 12, before + "\n" + first);
            assertTrue(second.get("forwarded") >= 36, "SYN, ACK and data of 12 connections: " + second);
            assertEquals(0, first.get("drop.not_vip") + second.get("drop.not_vip"), first + " " + second);
            forwardsTo3Backends(engine, 48600, PORT);

            assertEquals("ok", engine.command("remove-vip"));
            assertEquals("xdp vips=1 keys=2", engine.command("xdp"));
            assertEquals(program, programId(), "removing a VIP does not replace the program");
            forwardsTo3Backends(engine, 48700, PORT);
        }
        assertFalse(xdpOnLb().contains("xdp"), "stop leaves no XDP program: " + xdpOnLb());
    }

    @Test
    void withoutCapBpfAndCapNetAdminAfXdpSaysSoAndAutoFallsBackToAfPacket() throws Exception {
        assumeSetpriv();
        // CAP_SYS_ADMIN would stand in for CAP_BPF, so it goes too; CAP_NET_RAW stays (AF_PACKET needs it)
        List<String> dropped = List.of("/usr/bin/setpriv", "--bounding-set=-bpf,-net_admin,-sys_admin,-perfmon",
                "--inh-caps=-bpf,-net_admin,-sys_admin,-perfmon");
        String why = refusal(dropped, "1");
        assertTrue(why.contains("CAP_BPF") && why.contains("CAP_NET_ADMIN"), why);
        try (EngineProcess auto = engine(dropped, "auto", PORT, "1")) {
            assertEquals("af_packet", auto.io());
            assertTrue(auto.output().contains("dsr.io auto: AF_PACKET on eth0, because AF_XDP is not possible"),
                    auto.output());
            forwardsTo3Backends(auto, 48800);
        }
    }

    @Test
    void aMemlockLimitTooLowForTheUmemIsNamed() throws Exception {
        assumeSetpriv();
        // root (CAP_IPC_LOCK) is not held to RLIMIT_MEMLOCK; without it the 16 MiB UMEM exceeds a 1 MiB limit
        String why = refusal(List.of("/usr/bin/setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock",
                "/usr/bin/prlimit", "--memlock=1048576:1048576"), "1");
        assertTrue(why.contains("memlock limit is too low") && why.contains("LimitMEMLOCK=infinity"), why);
    }

    @Test
    void aQueueCountOtherThanTheThreadsIsNamedWithTheFix() throws Exception {
        String why = refusal(List.of(), "2");
        assertTrue(why.contains("has 1 receive queue(s)") && why.contains("ethtool -L eth0 combined 2"), why);
    }

    @Test
    void anotherProgramOnTheInterfaceIsNeverReplaced() throws Exception {
        String other = NetLab.inNamespace(net.lb, () -> {
            try (io.maglevlb.dataplane.linux.Bpf bpf = new io.maglevlb.dataplane.linux.Bpf();
                    io.maglevlb.dataplane.linux.LinuxNative sys = new io.maglevlb.dataplane.linux.LinuxNative();
                    io.maglevlb.dataplane.linux.XdpLink link = io.maglevlb.dataplane.linux.XdpLink.open()) {
                byte[] pass = Ebpf.assembler().mov(Ebpf.Reg.R0, XdpVipProgram.XDP_PASS).exit().build();
                io.maglevlb.dataplane.linux.Bpf.Loaded p = bpf.loadProgram(io.maglevlb.dataplane.linux.Bpf.PROG_TYPE_XDP,
                        pass, "someone_else");
                assertTrue(p.fd() >= 0, p.verifierLog());
                try {
                    int ifindex = InterfaceInfo.read(sys, "eth0").index();
                    assertEquals(0, link.set(ifindex, p.fd(), io.maglevlb.dataplane.linux.XdpLink.FLAG_SKB_MODE, -1));
                } finally {
                    sys.closeFd(p.fd()); // the interface holds the program now
                }
                return programId();
            }
        });
        try {
            String why = refusal(List.of(), "1");
            assertTrue(why.contains("already carries an XDP program") && why.contains("that is not maglevd's"), why);
            assertEquals(other, programId(), "the other program stays");
            try (EngineProcess auto = engine("auto", PORT)) {
                assertEquals("af_packet", auto.io());
                forwardsTo3Backends(auto, 48900);
            }
            assertEquals(other, programId(), "the other program stays");
        } finally {
            NetLab.run("ip", "-n", net.lb, "link", "set", "dev", "eth0", "xdpgeneric", "off");
        }
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
