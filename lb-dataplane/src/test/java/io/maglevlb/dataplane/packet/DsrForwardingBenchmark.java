package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.util.ArrayList;
import java.util.List;

/**
 * Packets per second through the DSR engine (l2, one forwarding thread) against Linux's own IPv4 forwarding on
 * the same path, with the LB's work on one core. Not a unit test: run it by hand as root.
 *
 * <pre>
 * ./mvnw -q -pl lb-dataplane -am test-compile
 * ./mvnw -q -pl lb-dataplane dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --enable-native-access=ALL-UNNAMED -cp lb-dataplane/target/test-classes:lb-dataplane/target/classes:$(cat /tmp/cp.txt) \
 *     io.maglevlb.dataplane.packet.DsrForwardingBenchmark [seconds=10] [flows=1024] [rounds=3]
 * (-Ddsr.bench.overloadOnly=true before the class name: overload runs only, for quick experiments;
 * -Ddsr.bench.rate=PPS paces those runs, for profiling a path at a fixed load; -Ddsr.bench.paths=0,4 runs only
 * those paths, by their index in the table)
 * </pre>
 *
 * Path: generator namespace --veth--> bridge --veth--> LB namespace --veth--> bridge --veth--> sink namespace.
 * The generator thread is pinned to CPU 0 and blasts 60-byte UDP frames (many source ports) at the LB's MAC.
 * RPS on the LB's eth0 moves the LB's receive processing to CPU 1, so the LB's kernel work (and, for the engine
 * run, the engine thread, pinned there too) share one core. Linux run: ip_forward=1 and a route for the VIP to
 * the sink. Engine runs: ip_forward=0, engine with the sink as only backend, on AF_PACKET (with its ingress
 * drop filter) and on AF_XDP (copy mode: a veth has no zero-copy) with the XDP program in generic mode (after
 * RPS, on the LB core) and in native mode twice: once where a veth runs its NAPI poll, in the softirq of the
 * sending CPU (the generator's: the LB core's time per frame leaves the XDP program and the copy into the UMEM out,
 * and the generator is slowed instead), and once with the LB interface's NAPI poll in a kernel thread pinned to the
 * LB core, where a NIC host runs it (see {@link #napiOnLbCore}), without and with interrupt coalescing. The sink
 * counts frames at its interface and drops
 * them in its own ingress hook, so its IP stack does not add work to the LB's core. The paths run interleaved for
 * several rounds; medians are reported.
 *
 * <p>Three numbers per path: the forwarded rate under overload (the generator as fast as it can); the
 * throughput in the RFC 2544 sense: the highest offered rate forwarded with at most 0.1% loss, found by a
 * binary search over paced runs of 3 s; and the LB core's time per frame at a paced 100,000 frames/s, taken
 * from what the forwarding takes away from a SCHED_IDLE spinner on that core (this guest's CPU accounting
 * misses softirq time). Overload favours the kernel (a user-space forwarder shares its core with the softirq
 * work of every offered packet, dropped or not); the loss-free search is at the mercy of any hiccup of a shared
 * machine; the time per frame is the steadiest of the three.
 */
public final class DsrForwardingBenchmark {
    private DsrForwardingBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int flows = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        if (Runtime.getRuntime().availableProcessors() < 2) {
            throw new IllegalStateException("needs 2 CPUs");
        }
        try (NetLab lab = new NetLab("x"); CpuProbe probe = new CpuProbe()) {
            String gen = lab.host("g", "198.18.0.1/24");
            String lb = lab.host("lb", "198.18.0.2/24");
            String sink = lab.host("s", "198.18.0.11/24");
            NetLab.run("ip", "-n", gen, "route", "add", DsrLab.VIP + "/32", "via", DsrLab.LB_IP);
            lab.exec(lb, "sh", "-c", "echo 2 > /sys/class/net/eth0/queues/rx-0/rps_cpus");
            lab.sysctl(lb, "net.ipv4.conf.all.send_redirects", "0");
            lab.sysctl(lb, "net.ipv4.conf.eth0.send_redirects", "0");
            // The sink counts frames at its interface, then ends them in its ingress hook: its IP stack would
            // otherwise process every forwarded frame on the LB's core (veth delivers on the sending CPU), and
            // charge the sink's work to whichever LB is measured.
            lab.exec(sink, "tc", "qdisc", "add", "dev", "eth0", "clsact");
            lab.exec(sink, "tc", "filter", "add", "dev", "eth0", "ingress", "bpf", "da", "bytecode", "1,6 0 0 2");
            byte[] lbMac = RawLink.macOf(lab, lb);
            byte[] genMac = RawLink.macOf(lab, gen);
            byte[] sinkMac = RawLink.macOf(lab, sink);
            // static neighbours: no ARP traffic during the runs
            NetLab.run("ip", "-n", lb, "neigh", "replace", "198.18.0.11", "lladdr",
                    java.util.HexFormat.ofDelimiter(":").formatHex(sinkMac), "dev", "eth0", "nud", "permanent");
            List<byte[]> frames = new ArrayList<>();
            for (int i = 0; i < flows; i++) {
                byte[] ip = Frames.withTransportChecksumV4(Frames.ipv4("198.18.0.1", DsrLab.VIP, 17, 0x4000,
                        Frames.udp(10000 + i, 9000, new byte[18])));
                frames.add(Frames.concat(lbMac, genMac, new byte[] {0x08, 0x00}, ip));
            }

            // AF_XDP four times: generic XDP after RPS on the LB core, like the other paths; native XDP where a veth
            // runs it, in its NAPI poll on the sending CPU (the generator's); native XDP with that NAPI poll in a
            // kernel thread on the LB core, where a NIC's receiving host runs it, without and with coalescing
            String[] paths = {"linux ip_forward", "dsr af_packet", "dsr af_xdp, generic xdp",
                "dsr af_xdp, native, NAPI on sender", "dsr af_xdp, native, NAPI on LB core",
                "dsr af_xdp, native, NAPI on LB core, coalesced"};
            String[] ios = {null, "af_packet", "af_xdp", "af_xdp", "af_xdp", "af_xdp"};
            java.util.Set<Integer> only = new java.util.HashSet<>();
            for (String i : System.getProperty("dsr.bench.paths", "").split(",")) {
                if (!i.isBlank()) {
                    only.add(Integer.parseInt(i.trim()));
                }
            }
            // -Ddsr.bench.overloadOnly=true: overload runs only (quick experiments); -Ddsr.bench.rate=PPS paces
            // them (for profiling a path at a fixed load)
            boolean overloadOnly = Boolean.getBoolean("dsr.bench.overloadOnly");
            long firstRunRate = Long.getLong("dsr.bench.rate", 0);
            Result unmeasured = new Result(Double.NaN, Double.NaN, Double.NaN);
            double[][] overload = new double[paths.length][rounds];
            double[][] offered = new double[paths.length][rounds];
            double[][] lossFree = new double[paths.length][rounds];
            double[][] cost = new double[paths.length][rounds];
            for (int r = 0; r < rounds; r++) {
                for (int p = 0; p < paths.length; p++) {
                    if (!only.isEmpty() && !only.contains(p)) {
                        overload[p][r] = offered[p][r] = lossFree[p][r] = cost[p][r] = Double.NaN;
                        continue;
                    }
                    System.out.printf("round %d/%d: %s%n", r + 1, rounds, paths[p]);
                    Result o;
                    Result c;
                    double lf;
                    if (p == 0) {
                        lab.sysctl(lb, "net.ipv4.ip_forward", "1");
                        NetLab.run("ip", "-n", lb, "route", "add", DsrLab.VIP + "/32", "via", "198.18.0.11");
                        try {
                            o = run(lab, gen, sink, frames, seconds, firstRunRate);
                            lf = overloadOnly ? Double.NaN : lossFreeRate(lab, gen, sink, frames, o.offeredPps);
                            c = overloadOnly ? unmeasured : cost(lab, gen, sink, frames, probe);
                        } finally {
                            NetLab.run("ip", "-n", lb, "route", "del", DsrLab.VIP + "/32");
                            lab.sysctl(lb, "net.ipv4.ip_forward", "0");
                        }
                    } else {
                        System.setProperty(XdpRedirect.MODE_PROPERTY, p == 2 ? "generic" : "auto");
                        try (EngineProcess e = new EngineProcess(lb, DsrLab.VIP + ":9000", "udp", "l2", "eth0", "1",
                                "65536", "0", "-", "6080", "5-tuple", "1", "ingress-drop", ios[p])) {
                            if (!e.io().equals(ios[p])) {
                                throw new IllegalStateException(paths[p] + " runs on " + e.io());
                            }
                            if (p >= 4) {
                                napiOnLbCore(lab, lb, p == 5);
                            }
                            e.backends("s1=198.18.0.11:9000:1");
                            run(lab, gen, sink, frames, 2, 0); // warm up the JIT
                            java.util.Map<String, Long> warm = e.stats();
                            o = run(lab, gen, sink, frames, seconds, firstRunRate);
                            lf = overloadOnly ? Double.NaN : lossFreeRate(lab, gen, sink, frames, o.offeredPps);
                            c = overloadOnly ? unmeasured : cost(lab, gen, sink, frames, probe);
                            java.util.Map<String, Long> end = e.stats();
                            long packets = end.get("received") - warm.get("received");
                            System.out.printf("  ring_full drops %,d; forwarding thread allocated %.4f B/packet%n",
                                    end.get("drop.ring_full") - warm.get("drop.ring_full"),
                                    (double) (end.get("alloc.forwarders") - warm.get("alloc.forwarders"))
                                            / Math.max(1, packets));
                            if (p >= 4) {
                                lab.exec(lb, "sh", "-c", "echo 0 > /sys/class/net/eth0/napi_defer_hard_irqs"
                                        + " && echo 0 > /sys/class/net/eth0/gro_flush_timeout");
                                // while the NAPI instance still exists: the setting outlives it, and would make
                                // the next native run's NAPI threaded (and unpinned) too
                                lab.exec(lb, "sh", "-c", "echo 0 > /sys/class/net/eth0/threaded");
                            }
                        }
                    }
                    overload[p][r] = o.forwardedPps;
                    offered[p][r] = o.offeredPps;
                    lossFree[p][r] = lf;
                    cost[p][r] = c.lbCoreNsPerFrame;
                    System.out.printf("  overload: offered %,.0f, forwarded %,.0f; loss-free %,.0f pps; LB core "
                            + "%,.0f ns/frame at %,.0f pps (forwarded %,.0f)%n", o.offeredPps, o.forwardedPps, lf,
                            c.lbCoreNsPerFrame, c.offeredPps, c.forwardedPps);
                }
            }
            System.out.printf("%nflows %d, 60-byte frames, %d interleaved rounds, overload runs %d s, loss-free "
                    + "search 3 s per step; median (min-max)%n", flows, rounds, seconds);
            System.out.printf("%-30s %26s %28s %28s %26s%n", "", "offered pps (overload)",
                    "forwarded pps (overload)", "loss-free pps", "LB core ns/frame @100k");
            for (int p = 0; p < paths.length; p++) {
                System.out.printf("%-30s %26s %28s %28s %26s%n", paths[p], spread(offered[p]), spread(overload[p]),
                        spread(lossFree[p]), spread(cost[p]));
            }
            for (int p = 1; p < paths.length; p++) {
                System.out.printf("ratio %s / linux (medians): overload %.2f, loss-free %.2f, capacity from CPU "
                        + "per frame %.2f%n", paths[p], median(overload[p]) / median(overload[0]),
                        median(lossFree[p]) / median(lossFree[0]), median(cost[0]) / median(cost[p]));
            }
        }
    }

    /**
     * Runs the LB interface's NAPI poll in its own kernel thread, pinned to CPU 1 (the LB core). On a NIC the
     * NAPI poll runs on the receiving host's CPU that takes the interrupt; a veth runs it in the softirq of the
     * CPU that sent the frame (here the generator's), which slows the generator instead of loading the LB. Only
     * native XDP gives a veth a NAPI instance: call it after the engine attached its program. With {@code
     * coalesce}, the poll is deferred {@value #NAPI_DEFER_DEFAULT} times by a {@value #NAPI_TIMER_NS_DEFAULT} ns timer
     * before arrivals wake it again ({@code -Ddsr.bench.napiDefer}, {@code -Ddsr.bench.napiTimerNs}).
     */
    private static void napiOnLbCore(NetLab lab, String lb, boolean coalesce) throws Exception {
        // coalesce: a NIC moderates its interrupts (ethtool -C rx-usecs); a veth wakes the NAPI thread from the
        // sending CPU (an IPI) whenever the poll has caught up. napi_defer_hard_irqs + gro_flush_timeout are the
        // kernel's software equivalent: a poll that finds little work re-arms a timer on the LB core instead.
        java.util.Set<String> before = napiThreads();
        lab.exec(lb, "sh", "-c", "echo " + (coalesce ? NAPI_DEFER : 0) + " > /sys/class/net/eth0/napi_defer_hard_irqs"
                + " && echo " + (coalesce ? NAPI_TIMER_NS : 0) + " > /sys/class/net/eth0/gro_flush_timeout");
        lab.exec(lb, "sh", "-c", "echo 1 > /sys/class/net/eth0/threaded");
        java.util.Set<String> ours = napiThreads();
        ours.removeAll(before);
        if (ours.size() != 1) {
            throw new IllegalStateException("expected one new NAPI thread napi/eth0-*, found " + ours);
        }
        NetLab.run("taskset", "-p", "2", ours.iterator().next());
        System.out.printf("  NAPI thread (pid %s) pinned to CPU 1%n", ours.iterator().next());
    }

    private static final int NAPI_DEFER_DEFAULT = 2;
    private static final int NAPI_TIMER_NS_DEFAULT = 50_000;
    private static final int NAPI_DEFER = Integer.getInteger("dsr.bench.napiDefer", NAPI_DEFER_DEFAULT);
    private static final int NAPI_TIMER_NS = Integer.getInteger("dsr.bench.napiTimerNs", NAPI_TIMER_NS_DEFAULT);

    /** PIDs of the kernel threads named napi/eth0-*. */
    private static java.util.Set<String> napiThreads() throws java.io.IOException {
        java.util.Set<String> pids = new java.util.HashSet<>();
        try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc"))) {
            for (java.nio.file.Path t : tasks.toList()) {
                if (!t.getFileName().toString().matches("\\d+")) {
                    continue;
                }
                try {
                    if (java.nio.file.Files.readString(t.resolve("comm")).startsWith("napi/eth0-")) {
                        pids.add(t.getFileName().toString());
                    }
                } catch (java.io.IOException gone) {
                    // ended meanwhile
                }
            }
        }
        return pids;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static String spread(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        return String.format("%,.0f (%,.0f-%,.0f)", median(v), v[0], v[v.length - 1]);
    }

    /** Rates over one run, and the LB core's (CPU 1's) time per forwarded frame in nanoseconds (NaN if unmeasured). */
    private record Result(double offeredPps, double forwardedPps, double lbCoreNsPerFrame) {}

    /** Paced rate at which the LB core's CPU time per frame is measured: below every path's capacity. */
    private static final long COST_RATE_PPS = 100_000;

    /** Binary search for the highest paced rate with at most 0.1% loss, between 0 and {@code maxPps}. */
    private static double lossFreeRate(NetLab lab, String gen, String sink, List<byte[]> frames, double maxPps)
            throws Exception {
        double low = 0;
        double high = maxPps;
        for (int step = 0; step < 7; step++) {
            double rate = (low + high) / 2;
            Result r = run(lab, gen, sink, frames, 3, (long) rate);
            boolean ok = r.forwardedPps >= r.offeredPps * 0.999;
            System.out.printf("  paced %,.0f pps: offered %,.0f, forwarded %,.0f -> %s%n", rate, r.offeredPps,
                    r.forwardedPps, ok ? "ok" : "loss");
            if (ok) {
                low = Math.max(low, r.offeredPps); // the generator may fall short of the pace
            } else {
                high = rate;
            }
        }
        return low;
    }

    private static Result run(NetLab lab, String gen, String sink, List<byte[]> frames, int seconds, long ratePps)
            throws Exception {
        long rxBefore = rx(lab, sink);
        long t0 = System.nanoTime();
        long sent = NetLab.inNamespace(gen, () -> PacketBlaster.blast(frames, seconds * 1000L, 0, ratePps));
        double elapsed = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(200);
        long received = rx(lab, sink) - rxBefore;
        return new Result(sent / elapsed, received / elapsed, Double.NaN);
    }

    /**
     * The LB core's time per forwarded frame at a paced rate, measured by what it takes away from a spinning
     * SCHED_IDLE thread pinned to CPU 1 (the kernel's CPU accounting misses softirq time on this guest): the
     * spinner's rate idle (just before) against its rate while the frames flow.
     */
    private static Result cost(NetLab lab, String gen, String sink, List<byte[]> frames, CpuProbe probe)
            throws Exception {
        probe.active = true;
        Thread.sleep(100);
        double idleRate = probe.rate(2000);
        long rxBefore = rx(lab, sink);
        long spinsBefore = probe.spins();
        long t0 = System.nanoTime();
        long sent = NetLab.inNamespace(gen, () -> PacketBlaster.blast(frames, 5000, 0, COST_RATE_PPS));
        long spins = probe.spins() - spinsBefore;
        probe.active = false;
        double elapsed = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(200);
        long received = rx(lab, sink) - rxBefore;
        double busyFraction = Math.max(0, 1 - spins / elapsed / idleRate);
        return new Result(sent / elapsed, received / elapsed, busyFraction * elapsed * 1e9 / Math.max(1, received));
    }

    /** A thread spinning on CPU 1 at SCHED_IDLE priority: it gets exactly the time nothing else wants. */
    private static final class CpuProbe implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicLong published = new java.util.concurrent.atomic.AtomicLong();
        private volatile boolean stop;
        /** Spins only while measuring, so the other runs see CPU 1 as the LBs normally do (idle when idle). */
        private volatile boolean active;
        private final Thread thread;

        CpuProbe() throws Exception {
            java.util.concurrent.CompletableFuture<String> tid = new java.util.concurrent.CompletableFuture<>();
            thread = Thread.ofPlatform().daemon().name("cpu1-probe").start(() -> {
                try (LinuxNative sys = new LinuxNative()) {
                    sys.pinCurrentThread(1);
                }
                try {
                    tid.complete(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self"))
                            .getFileName().toString());
                } catch (java.io.IOException e) {
                    tid.completeExceptionally(e);
                    return;
                }
                long n = 0;
                while (!stop) {
                    if (!active) {
                        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
                        continue;
                    }
                    for (int i = 0; i < 100_000; i++) {
                        n++;
                    }
                    published.setOpaque(n);
                }
            });
            NetLab.run("chrt", "--idle", "-p", "0", tid.get(60, java.util.concurrent.TimeUnit.SECONDS)); // generous: loaded hosts
        }

        long spins() {
            return published.getOpaque();
        }

        /** Spins per second over {@code ms} milliseconds with no traffic. */
        double rate(long ms) throws InterruptedException {
            long before = spins();
            long t0 = System.nanoTime();
            Thread.sleep(ms);
            return (spins() - before) / ((System.nanoTime() - t0) / 1e9);
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(2000);
        }
    }

    private static long rx(NetLab lab, String ns) throws Exception {
        return Long.parseLong(lab.exec(ns, "cat", "/sys/class/net/eth0/statistics/rx_packets").trim());
    }
}
