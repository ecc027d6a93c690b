package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrIo;
import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendIds;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a {@link DsrEngine} in its own JVM, driven over stdin, for network tests: started under
 * {@code ip netns exec LB-NAMESPACE} so its AF_PACKET sockets live in the LB's namespace. Protocol lines on
 * stdout start with "@@ " (logging may print other lines).
 *
 * <pre>
 * args: VIP_IP:PORT tcp|udp l2|ipip|gue IFACE THREADS FLOW_CAPACITY FLOOD_THRESHOLD [OUTER_SOURCE_CIDR|-] [GUE_PORT]
 *       [5-tuple|source-ip] [CPU,CPU...|-] [ingress-drop|no-ingress-drop] [auto|af_xdp|af_packet]
 * stdin:
 *   backends NAME=IP:PORT:WEIGHT[:drained][:down],...   publish a snapshot (ids stay with names)
 *   stats                                             print "@@ stats key=value ..."
 *   new-flows on|off                                  resume / stop taking new flows
 *   add-vip PORT                                      start a second engine for VIP_IP:PORT (same settings)
 *   stats2                                            the second engine's counters, as stats
 *   remove-vip                                        stop the second engine
 *   xdp                                               "@@ xdp vips=N keys=K" of the AF_XDP port (or "xdp none")
 *   stop                                              stop the engines but keep running (then "fds")
 *   fds                                               "@@ fds bpf=N": BPF maps and programs this process holds
 *   takeover [noflows]                                a new engine takes over from the running one, as a takeover
 *                                                     does across processes: export the flows, hand the packet
 *                                                     sockets over (duplicated descriptors: the same open sockets,
 *                                                     as SCM_RIGHTS gives them), stop the old engine, start the
 *                                                     new one; AF_XDP: the old engine stops and a new one starts
 *                                                     with the flows
 *   quit
 * </pre>
 */
public final class DsrEngineProcess {
    private DsrEngineProcess() {}

    public static void main(String[] args) throws Exception {
        String[] vip = args[0].split(":");
        InetSocketAddress vipAddress = new InetSocketAddress(InetAddress.ofLiteral(vip[0]), Integer.parseInt(vip[1]));
        Protocol protocol = Protocol.valueOf(args[1].toUpperCase());
        DsrMethod method = DsrMethod.valueOf(args[2].toUpperCase());
        String iface = args[3];
        int threads = Integer.parseInt(args[4]);
        FlowTableConfig flows = new FlowTableConfig(Integer.parseInt(args[5]), Integer.parseInt(args[6]));
        Optional<Ipv4Range> outer = args.length > 7 && !args[7].equals("-") ? Optional.of(Ipv4Range.parse(args[7]))
                : Optional.empty();
        int guePort = args.length > 8 ? Integer.parseInt(args[8]) : 6080;
        HashMode hashMode = args.length > 9 && args[9].equals("source-ip") ? HashMode.SOURCE_IP : HashMode.FIVE_TUPLE;
        List<Integer> cpus = args.length > 10 && !args[10].equals("-")
                ? java.util.Arrays.stream(args[10].split(",")).map(Integer::valueOf).toList() : List.of();
        boolean ingressDrop = !(args.length > 11 && args[11].equals("no-ingress-drop"));
        DsrIo ioKind = args.length > 12 ? DsrIo.valueOf(args[12].toUpperCase(java.util.Locale.ROOT)) : DsrIo.AF_PACKET;
        DsrEngineConfig config = new DsrEngineConfig("test", vipAddress, protocol, hashMode, method, iface, guePort,
                threads, cpus, flows, Duration.ofSeconds(60), outer, AfPacketOptions.defaults(), ingressDrop, ioKind);
        AtomicReference<ForwardingSnapshot> current = new AtomicReference<>();
        BackendIds ids = new BackendIds();
        Map<String, Integer> idByName = new HashMap<>();
        long generation = 0;
        DsrEngine engine;
        DsrEngine second = null;
        try {
            engine = DsrEngine.start(config, current::get);
        } catch (PacketEngineException e) {
            reply("error " + e.getMessage());
            System.exit(2);
            return;
        }
        reply("ready " + engine.io());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        try {
            while ((line = in.readLine()) != null) {
                line = line.trim();
                if (line.startsWith("backends")) {
                    List<BackendState> backends = new ArrayList<>();
                    String spec = line.substring("backends".length()).trim();
                    for (String item : spec.isEmpty() ? new String[0] : spec.split(",")) {
                        String[] kv = item.split("=");
                        String[] f = kv[1].split(":");
                        int id = idByName.computeIfAbsent(kv[0], n -> ids.allocate());
                        boolean drained = false;
                        boolean healthy = true;
                        for (int i = 3; i < f.length; i++) {
                            drained |= f[i].equals("drained");
                            healthy &= !f[i].equals("down");
                        }
                        backends.add(new BackendState(id, kv[0],
                                new InetSocketAddress(InetAddress.ofLiteral(f[0]), Integer.parseInt(f[1])),
                                Integer.parseInt(f[2]), drained, healthy));
                    }
                    ForwardingSnapshot s = ForwardingSnapshot.build("test", ++generation, 65537, backends);
                    current.set(s);
                    boolean resolved = engine.awaitNextHops(s, 10_000);
                    StringBuilder sb = new StringBuilder(resolved ? "ok" : "ok-unresolved");
                    for (BackendState b : backends) {
                        sb.append(' ').append(b.name()).append('=').append(b.id());
                    }
                    reply(sb.toString());
                } else if (line.equals("stats")) {
                    reply("stats " + format(engine.stats()));
                } else if (line.startsWith("add-vip ")) {
                    int port = Integer.parseInt(line.substring("add-vip ".length()).trim());
                    DsrEngineConfig c2 = new DsrEngineConfig("test2", new InetSocketAddress(vipAddress.getAddress(),
                            port), protocol, hashMode, method, iface, guePort, threads, cpus, flows,
                            Duration.ofSeconds(60), outer, AfPacketOptions.defaults(), ingressDrop, ioKind);
                    try {
                        second = DsrEngine.start(c2, current::get);
                        ForwardingSnapshot s = current.get();
                        if (s != null) {
                            second.awaitNextHops(s, 10_000);
                        }
                        reply("ok " + second.io());
                    } catch (PacketEngineException e) {
                        reply("error " + e.getMessage());
                    }
                } else if (line.equals("stats2")) {
                    reply(second == null ? "error no second vip" : "stats " + format(second.stats()));
                } else if (line.equals("remove-vip")) {
                    if (second != null) {
                        second.close();
                        second = null;
                    }
                    reply("ok");
                } else if (line.equals("xdp")) {
                    reply(engine.xdpPort().map(p -> "xdp vips=" + p.vipCount() + " keys=" + p.vipMapSize())
                            .orElse("xdp none"));
                } else if (line.equals("stop")) {
                    if (second != null) {
                        second.close();
                        second = null;
                    }
                    engine.close();
                    reply("ok");
                } else if (line.equals("fds")) {
                    reply("fds " + heldDescriptors());
                } else if (line.startsWith("new-flows ")) {
                    engine.acceptNewFlows(line.endsWith("on"));
                    reply("ok");
                } else if (line.startsWith("takeover")) {
                    engine = takeOver(engine, config, current::get, !line.endsWith("noflows"));
                    reply("ok " + engine.trackedFlows());
                } else if (line.equals("quit")) {
                    break;
                } else if (!line.isEmpty()) {
                    reply("error unknown command " + line);
                }
            }
        } finally {
            if (second != null) {
                second.close();
            }
            engine.close();
        }
        reply("bye");
        System.exit(0);
    }

    /** See the class comment: the running engine hands over to a new one in this process. */
    private static DsrEngine takeOver(DsrEngine old, DsrEngineConfig config,
            java.util.function.Supplier<ForwardingSnapshot> snapshots, boolean withFlows) throws Exception {
        // As between two processes: the flows are exported while the old engine forwards, the new engine adopts the
        // sockets, the old one stops (its threads first: a ring has one reader), then the new one's threads start.
        byte[] flows = withFlows ? old.exportFlowState() : null;
        List<Integer> sockets = old.packetSocketFds();
        if (sockets.isEmpty()) { // AF_XDP: the sockets cannot move; the old engine stops, a new one starts
            old.closeAfterHandOver();
            return DsrEngine.start(config, snapshots, flows);
        }
        int[] fds = new int[sockets.size()];
        try (io.maglevlb.dataplane.linux.LinuxNative sys = new io.maglevlb.dataplane.linux.LinuxNative()) {
            for (int i = 0; i < fds.length; i++) {
                fds[i] = sys.dupCloexec(sockets.get(i));
            }
        }
        DsrEngine next = DsrEngine.adopt(config, snapshots, fds, flows);
        if (!old.pause()) {
            throw new IllegalStateException("engine did not pause");
        }
        old.closeAfterHandOver();
        next.resume();
        return next;
    }

    static String format(DsrStats s) {
        StringBuilder sb = new StringBuilder();
        sb.append("received=").append(s.receivedFrames());
        sb.append(" forwarded=").append(s.forwardedPackets());
        sb.append(" bytes=").append(s.forwardedBytes());
        sb.append(" fragments=").append(s.fragmentsForwarded());
        sb.append(" icmp=").append(s.icmpErrorsForwarded());
        sb.append(" checksums=").append(s.checksumsCompleted());
        s.drops().forEach((r, v) -> sb.append(" drop.").append(r.metricName()).append('=').append(v));
        s.backends().forEach((id, t) -> sb.append(" backend.").append(id).append('=').append(t.packets()));
        sb.append(" flows.size=").append(s.flows().size());
        sb.append(" flows.hits=").append(s.flows().hits());
        sb.append(" flows.misses=").append(s.flows().misses());
        sb.append(" flows.inserts=").append(s.flows().inserts());
        sb.append(" flows.evictions=").append(s.flows().evictions());
        sb.append(" flows.floodSkips=").append(s.flows().floodSkips());
        sb.append(" flows.flooding=").append(s.flows().threadsInFloodMode());
        sb.append(" unresolved=").append(s.unresolvedBackends());
        sb.append(" alloc.forwarders=").append(forwarderAllocatedBytes());
        return sb.toString();
    }

    /** "bpf=N": this process's descriptors of BPF maps and programs (anon_inode:bpf-map, anon_inode:bpf-prog). */
    static String heldDescriptors() throws java.io.IOException {
        int bpf = 0;
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            for (java.nio.file.Path fd : fds.toList()) {
                try {
                    String target = java.nio.file.Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("anon_inode:bpf-map") || target.startsWith("anon_inode:bpf-prog")) {
                        bpf++;
                    }
                } catch (java.io.IOException gone) {
                    // closed meanwhile (the listing's own descriptor)
                }
            }
        }
        return "bpf=" + bpf;
    }

    /** Bytes the forwarding threads have allocated on the heap so far (HotSpot's per-thread allocation counter). */
    static long forwarderAllocatedBytes() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("maglev-dsr-") && !t.getName().startsWith("maglev-dsr-nexthop")) {
                sum += Math.max(0, threads.getThreadAllocatedBytes(t.threadId()));
            }
        }
        return sum;
    }

    private static void reply(String line) {
        System.out.println("@@ " + line);
        System.out.flush();
    }
}
