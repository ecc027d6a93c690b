package io.maglevlb.dataplane.packet;

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
 *     io.maglevlb.dataplane.packet.DsrForwardingBenchmark [seconds=10] [flows=1024]
 * </pre>
 *
 * Path: generator namespace --veth--> bridge --veth--> LB namespace --veth--> bridge --veth--> sink namespace.
 * The generator thread is pinned to CPU 0 and blasts 60-byte UDP frames (many source ports) at the LB's MAC.
 * RPS on the LB's eth0 moves the LB's receive processing to CPU 1, so the LB's kernel work (and, for the engine
 * run, the engine thread, pinned there too) share one core. Linux run: ip_forward=1 and a route for the VIP to
 * the sink. Engine run: ip_forward=0, engine with the sink as only backend.
 *
 * <p>Two numbers per path: the forwarded rate under overload (the generator as fast as it can), and the
 * throughput in the RFC 2544 sense: the highest offered rate forwarded with at most 0.1% loss, found by a
 * binary search over paced runs of 3 s. Overload favours the kernel (a user-space forwarder shares its core
 * with the softirq work of every offered packet, dropped or not), so the loss-free rate is the fair comparison.
 */
public final class DsrForwardingBenchmark {
    private DsrForwardingBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int flows = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        if (Runtime.getRuntime().availableProcessors() < 2) {
            throw new IllegalStateException("needs 2 CPUs");
        }
        try (NetLab lab = new NetLab("x")) {
            String gen = lab.host("g", "198.18.0.1/24");
            String lb = lab.host("lb", "198.18.0.2/24");
            String sink = lab.host("s", "198.18.0.11/24");
            NetLab.run("ip", "-n", gen, "route", "add", DsrLab.VIP + "/32", "via", DsrLab.LB_IP);
            lab.exec(lb, "sh", "-c", "echo 2 > /sys/class/net/eth0/queues/rx-0/rps_cpus");
            lab.sysctl(lb, "net.ipv4.conf.all.send_redirects", "0");
            lab.sysctl(lb, "net.ipv4.conf.eth0.send_redirects", "0");
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

            lab.sysctl(lb, "net.ipv4.ip_forward", "1");
            NetLab.run("ip", "-n", lb, "route", "add", DsrLab.VIP + "/32", "via", "198.18.0.11");
            Result linux = run(lab, gen, sink, frames, seconds, 0);
            double linuxLossFree = lossFreeRate(lab, gen, sink, frames, linux.offeredPps);
            NetLab.run("ip", "-n", lb, "route", "del", DsrLab.VIP + "/32");
            lab.sysctl(lb, "net.ipv4.ip_forward", "0");

            Result engine;
            double engineLossFree;
            try (EngineProcess e = new EngineProcess(lb, DsrLab.VIP + ":9000", "udp", "l2", "eth0", "1", "65536", "0",
                    "-", "6080", "5-tuple", "1")) {
                e.backends("s1=198.18.0.11:9000:1");
                run(lab, gen, sink, frames, 2, 0); // warm up the JIT
                java.util.Map<String, Long> warm = e.stats();
                engine = run(lab, gen, sink, frames, seconds, 0);
                engineLossFree = lossFreeRate(lab, gen, sink, frames, engine.offeredPps);
                java.util.Map<String, Long> end = e.stats();
                System.out.println("engine stats: " + end);
                long packets = end.get("received") - warm.get("received");
                System.out.printf("forwarding threads allocated %,d bytes over %,d packets after warm-up (%.4f B/packet)%n",
                        end.get("alloc.forwarders") - warm.get("alloc.forwarders"), packets,
                        (double) (end.get("alloc.forwarders") - warm.get("alloc.forwarders")) / Math.max(1, packets));
            }
            System.out.printf("%nflows %d, 60-byte frames, overload runs %d s, loss-free search 3 s per step%n", flows,
                    seconds);
            System.out.printf("%-22s %14s %16s %18s%n", "", "offered pps", "overload fwd pps", "loss-free pps");
            System.out.printf("%-22s %,14.0f %,16.0f %,18.0f%n", "linux ip_forward", linux.offeredPps,
                    linux.forwardedPps, linuxLossFree);
            System.out.printf("%-22s %,14.0f %,16.0f %,18.0f%n", "dsr engine (1 thread)", engine.offeredPps,
                    engine.forwardedPps, engineLossFree);
            System.out.printf("ratio engine / linux: overload %.2f, loss-free %.2f%n",
                    engine.forwardedPps / linux.forwardedPps, engineLossFree / linuxLossFree);
        }
    }

    private record Result(double offeredPps, double forwardedPps) {}

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
                low = r.offeredPps;
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
        return new Result(sent / elapsed, received / elapsed);
    }

    private static long rx(NetLab lab, String ns) throws Exception {
        return Long.parseLong(lab.exec(ns, "cat", "/sys/class/net/eth0/statistics/rx_packets").trim());
    }
}
