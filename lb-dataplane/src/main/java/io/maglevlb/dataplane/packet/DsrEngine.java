package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrIo;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.conntrack.FlowRecords;
import io.maglevlb.core.conntrack.FlowStateCodec;
import io.maglevlb.core.conntrack.FlowStateException;
import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.TrackedFlows;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DSR packet engine of one VIP: N forwarding threads, each with its own AF_PACKET socket in one fanout
 * group (the kernel steers each flow to one thread, like Maglev's steering to per-thread queues: by default
 * with {@link FlowSteering}'s program, which keeps ICMP errors with their flow, or by its own flow hash), its
 * own flow table and counters, plus a next-hop resolver thread.
 *
 * <p>Snapshots come from the control plane through {@code snapshots} (read once per batch per thread); the
 * engine never builds tables. {@link #start} opens every socket before any thread runs, so a missing capability
 * or interface fails the start with a clear message instead of a dead thread.
 *
 * <p>With {@code dsr.io: af_xdp} (or {@code auto}, the default, where possible) the VIP joins its interface's
 * {@link AfXdpPort} instead: one XDP program, one AF_XDP socket and one thread per receive queue, shared by every
 * DSR VIP of this process on that interface, whose threads hand each frame to this engine's forwarder of that
 * queue. The forwarding code is the same ({@link PacketIo}); the engine then owns its forwarders and resolver,
 * not threads or sockets.
 *
 * <p>The engine serves one VIP: its parsers (and on AF_PACKET its socket filter) match that VIP's address,
 * protocol and port only. On AF_PACKET several DSR VIPs run several engines, each in its own fanout group.
 */
public final class DsrEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DsrEngine.class);

    private final DsrEngineConfig config;
    private final List<PacketIo> ios;
    /** This VIP on its interface's shared AF_XDP sockets and program, or null on AF_PACKET. */
    private final AfXdpPort.Member xdp;
    private final List<DsrForwarder> forwarders;
    /** The forwarding threads now running (replaced when a paused engine resumes). Guarded by {@code this}. */
    private List<Thread> threads;
    private final NextHopResolver resolver;
    /** Guarded by {@code this}: set late for an adopted engine ({@link #resume}). */
    private IngressDrop ingressDrop;
    /** An adopted engine's interface, while its ingress drop filter is still to be taken over at {@link #resume}. */
    private InterfaceInfo ingressToTakeOver;
    private final Supplier<ForwardingSnapshot> snapshots;
    private boolean closed;
    /** Threads stopped for a takeover ({@link #pause}); the sockets stay open. Guarded by {@code this}. */
    private boolean paused;

    private DsrEngine(DsrEngineConfig config, List<PacketIo> ios, AfXdpPort.Member xdp, List<DsrForwarder> forwarders,
            List<Thread> threads, NextHopResolver resolver, IngressDrop ingressDrop,
            Supplier<ForwardingSnapshot> snapshots) {
        this.config = config;
        this.xdp = xdp;
        this.ingressDrop = ingressDrop;
        this.ios = ios;
        this.forwarders = forwarders;
        this.threads = threads;
        this.resolver = resolver;
        this.snapshots = snapshots;
    }

    /**
     * Opens the sockets, starts the resolver and the forwarding threads.
     *
     * @param snapshots the VIP's current snapshot (null until the first one is published: packets are then
     *     dropped as {@link DropReason#NO_BACKEND})
     * @throws PacketEngineException when the interface is missing, a capability is missing, or a socket option
     *     is refused; nothing is left open then
     */
    public static DsrEngine start(DsrEngineConfig config, Supplier<ForwardingSnapshot> snapshots)
            throws PacketEngineException {
        return start(config, snapshots, null);
    }

    /**
     * {@link #start(DsrEngineConfig, Supplier)} with the flows a predecessor engine tracked ({@link
     * #exportFlowState}), put into the threads' flow tables before they run: how an AF_XDP engine, whose sockets
     * cannot be handed over, takes over from one that stopped (see docs/dsr.md, "Takeover"). Null: none.
     *
     * @throws PacketEngineException also when {@code flowState} cannot be read (nothing was started then)
     */
    public static DsrEngine start(DsrEngineConfig config, Supplier<ForwardingSnapshot> snapshots, byte[] flowState)
            throws PacketEngineException {
        Objects.requireNonNull(snapshots, "snapshots");
        FlowStateCodec.Decoded flows = decodeFlows(config, flowState);
        if (config.io() != DsrIo.AF_XDP) {
            AfPacketIo.checkCapability();
        }
        InterfaceInfo iface = readInterface(config);
        Ipv4Range outerSource = outerSource(config, iface);
        BpfProgram filter = VipFilter.forVip(config.vip().getAddress(), config.protocol().ipProtocol(),
                config.vip().getPort());
        int etherType = config.vip().getAddress() instanceof Inet4Address ? LinuxNative.ETH_P_IP : LinuxNative.ETH_P_IPV6;
        List<PacketIo> ios = new ArrayList<>();
        AfXdpPort.Member xdp = null;
        NextHopResolver resolver = null;
        List<DsrForwarder> forwarders = new ArrayList<>();
        int[] xdpImported = {0};
        int[] xdpQueues = {0};
        long idleTimeoutNs = config.idleTimeout().toNanos();
        try {
            resolver = new NextHopResolver(config.vipName(), config.method(), iface, snapshots);
            resolver.start(); // before the VIP's keys reach an XDP map: its first frames find next hops
            NextHopResolver hops = resolver;
            Ipv4Range outer = outerSource;
            if (config.io() != DsrIo.AF_PACKET) {
                // handed-over flows go into each queue's table before the VIP's keys reach the XDP map
                ForwardingSnapshot snapshot = flows == null ? null : snapshots.get();
                int[] backendMap = snapshot == null ? null : flows.backendMap(snapshot);
                int[] queue = {0};
                try {
                    xdp = AfXdpPort.join(config, iface, socket -> {
                        FlowTable table = new FlowTable(config.flowTable().capacity(), idleTimeoutNs,
                                config.flowTable().floodThreshold());
                        int q = queue[0]++;
                        if (backendMap != null && q < flows.groups().size()) {
                            xdpImported[0] += table.importFrom(flows.groups().get(q), backendMap, System.nanoTime());
                        }
                        return new DsrForwarder(config, socket, snapshots, hops, table, outer, -1);
                    });
                    if (flows != null) {
                        xdpQueues[0] = queue[0];
                    }
                    ios.addAll(xdp.port().sockets());
                    forwarders.addAll(xdp.forwarders());
                } catch (PacketEngineException e) {
                    if (config.io() == DsrIo.AF_XDP) {
                        throw new PacketEngineException("vip " + config.vipName() + ": dsr.io af_xdp: " + e.getMessage(),
                                e);
                    }
                    log.info("vip {}: dsr.io auto: AF_PACKET on {}, because AF_XDP is not possible: {}",
                            config.vipName(), iface.name(), e.getMessage());
                }
            }
            int group = -1;
            for (int i = 0; xdp == null && i < config.threads(); i++) {
                AfPacketIo io = AfPacketIo.open(iface, filter, etherType, config.ingressDrop(), config.packetOptions(),
                        group);
                ios.add(io);
                group = io.fanoutGroup();
            }
        } catch (PacketEngineException | RuntimeException e) {
            if (xdp != null) {
                xdp.leave();
            } else {
                ios.forEach(PacketIo::close);
            }
            if (resolver != null) {
                resolver.close();
            }
            throw e;
        }
        IngressDrop ingressDrop = config.ingressDrop() && xdp == null // on AF_XDP the XDP program does it
                ? attachIngressDrop(iface, config, false) : null;
        if (xdp != null) {
            String imported = flows == null ? "" : ", " + xdpImported(config, flows, xdpQueues[0], xdpImported[0],
                    snapshots.get() != null);
            return run(config, snapshots, iface, outerSource, ios, xdp, resolver, ingressDrop, null,
                    "started" + imported, true);
        }
        return run(config, snapshots, iface, outerSource, ios, null, resolver, ingressDrop, flows, "started", true);
    }

    /** Says how many handed-over flows an AF_XDP engine put into its queues' tables (see {@link #start}). */
    private static String xdpImported(DsrEngineConfig config, FlowStateCodec.Decoded flows, int queues, int imported,
            boolean hadTable) {
        if (!hadTable) {
            log.warn("vip {}: no table published yet: the {} flows handed over are placed by the table instead",
                    config.vipName(), flows.flows());
            return "0 flows taken over (no table yet)";
        }
        if (flows.groups().size() != queues) {
            log.warn("vip {}: the predecessor tracked flows on {} queues, this engine has {}: flows of queues that "
                    + "changed are placed by the table", config.vipName(), flows.groups().size(), queues);
        }
        return imported + " of " + flows.flows() + " flows taken over";
    }

    /**
     * Takeover, new process: an engine on the AF_PACKET sockets of {@code config}'s VIP that the predecessor
     * process handed over ({@link #packetSocketFds()} there, received with SCM_RIGHTS, in the same order), reading
     * them where its threads stopped ({@link AfPacketIo#adopt}), in the same fanout group, so the kernel steers
     * every flow to the same socket as before and the frames that arrived meanwhile wait in the rings. The flows
     * of {@code flowState} go into the flow table of the thread of the socket they were tracked on before the
     * threads start, so no tracked flow changes backend. Publish the VIP's snapshot before: backends are matched
     * by name and address. The ingress drop filter is replaced with this process's (one netlink request).
     *
     * <p>On success the descriptors are this engine's; on failure none is closed (the caller's to close).
     *
     * @throws PacketEngineException when a descriptor is not such a socket on the VIP's interface, their number is
     *     not the configured thread count, or {@code flowState} cannot be read
     */
    public static DsrEngine adopt(DsrEngineConfig config, Supplier<ForwardingSnapshot> snapshots, int[] fds,
            byte[] flowState) throws PacketEngineException {
        Objects.requireNonNull(snapshots, "snapshots");
        if (config.io() == DsrIo.AF_XDP) {
            throw new PacketEngineException("vip " + config.vipName() + ": dsr.io af_xdp: AF_XDP sockets are not "
                    + "handed over (their memory is the predecessor's); the predecessor stops first, see docs/dsr.md");
        }
        if (fds.length != config.threads()) {
            throw new PacketEngineException("vip " + config.vipName() + ": " + fds.length + " packet sockets handed "
                    + "over, " + config.threads() + " threads configured: the fanout group steers by socket, so the "
                    + "counts must match");
        }
        FlowStateCodec.Decoded flows = decodeFlows(config, flowState);
        InterfaceInfo iface = readInterface(config);
        Ipv4Range outerSource = outerSource(config, iface);
        List<PacketIo> ios = new ArrayList<>();
        NextHopResolver resolver = null;
        try {
            for (int fd : fds) {
                ios.add(AfPacketIo.adopt(iface, fd, config.packetOptions()));
            }
            int group = ((AfPacketIo) ios.getFirst()).fanoutGroup();
            for (PacketIo io : ios) {
                if (((AfPacketIo) io).fanoutGroup() != group) {
                    throw new PacketEngineException("vip " + config.vipName() + ": the handed-over packet sockets are "
                            + "in different fanout groups");
                }
            }
            resolver = new NextHopResolver(config.vipName(), config.method(), iface, snapshots);
            resolver.start();
        } catch (PacketEngineException | RuntimeException e) {
            ios.forEach(io -> ((AfPacketIo) io).releaseWithoutClosing());
            if (resolver != null) {
                resolver.close();
            }
            throw e;
        }
        DsrEngine engine = run(config, snapshots, iface, outerSource, ios, null, resolver, null, flows,
                "took over " + fds.length + " packet socket(s) (its threads start when the predecessor lets go)",
                false);
        if (config.ingressDrop()) {
            synchronized (engine) {
                engine.ingressToTakeOver = iface;
            }
        }
        return engine;
    }

    private static FlowStateCodec.Decoded decodeFlows(DsrEngineConfig config, byte[] flowState)
            throws PacketEngineException {
        if (flowState == null) {
            return null;
        }
        try {
            long capacity = (long) config.flowTable().capacity() * Math.max(1, config.threads());
            return FlowStateCodec.decode(flowState, (int) Math.min(Integer.MAX_VALUE, capacity * 2));
        } catch (FlowStateException e) {
            throw new PacketEngineException("vip " + config.vipName() + ": cannot read the flows handed over: "
                    + e.getMessage(), e);
        }
    }

    private static InterfaceInfo readInterface(DsrEngineConfig config) throws PacketEngineException {
        try (LinuxNative sys = new LinuxNative()) { // per call: the interface queries' scratch, freed here
            return InterfaceInfo.read(sys, config.interfaceName());
        }
    }

    private static Ipv4Range outerSource(DsrEngineConfig config, InterfaceInfo iface) throws PacketEngineException {
        Ipv4Range outerSource = config.outerSource().orElse(null);
        if (outerSource == null) {
            if (config.method() != io.maglevlb.core.config.DsrMethod.L2 && iface.ipv4() == 0) {
                throw new PacketEngineException("vip " + config.vipName() + ": " + config.method().configName()
                        + " needs an outer source address: interface " + iface.name()
                        + " has no IPv4 address and no outer source range is configured");
            }
            outerSource = new Ipv4Range(iface.ipv4(), 1);
        }
        if (config.encapsulationOverhead() + 576 > iface.mtu()) {
            throw new PacketEngineException("interface " + iface.name() + " MTU " + iface.mtu() + " is too small");
        }
        return outerSource;
    }

    /** After the sockets are bound: the filter ends what their taps have copied. Null when it cannot be. */
    private static IngressDrop attachIngressDrop(InterfaceInfo iface, DsrEngineConfig config, boolean takeover) {
        try {
            return IngressDrop.attach(iface, config, takeover);
        } catch (PacketEngineException e) {
            log.warn("vip {}: no ingress drop filter on {} ({}; it needs CAP_NET_ADMIN and a kernel with "
                    + "cls_bpf and clsact): the host's IP stack also routes every VIP packet, which costs CPU "
                    + "on the forwarding cores; set dsr.ingress_drop: false to silence this", config.vipName(),
                    iface.name(), e.getMessage());
            return null;
        }
    }

    /** Makes the forwarders (flow tables filled from {@code handedOver}, if any) and starts their threads. */
    private static DsrEngine run(DsrEngineConfig config, Supplier<ForwardingSnapshot> snapshots, InterfaceInfo iface,
            Ipv4Range outerSource, List<PacketIo> ios, AfXdpPort.Member xdp, NextHopResolver resolver,
            IngressDrop ingressDrop, FlowStateCodec.Decoded handedOver, String how, boolean startThreads) {
        long idleTimeoutNs = config.idleTimeout().toNanos();
        List<DsrForwarder> forwarders = new ArrayList<>();
        if (xdp != null) { // the port's queue threads run them
            forwarders.addAll(xdp.forwarders());
        }
        for (int i = 0; xdp == null && i < ios.size(); i++) {
            int cpu = config.cpus().isEmpty() ? -1 : config.cpus().get(i % config.cpus().size());
            FlowTable flows = new FlowTable(config.flowTable().capacity(), idleTimeoutNs,
                    config.flowTable().floodThreshold());
            forwarders.add(new DsrForwarder(config, ios.get(i), snapshots, resolver, flows, outerSource, cpu));
        }
        String imported = handedOver == null ? "" : ", " + importFlows(config, snapshots.get(), forwarders, handedOver);
        List<Thread> threads = xdp != null ? List.of() : newThreads(config, forwarders);
        if (startThreads) {
            threads.forEach(Thread::start);
        }
        String io = xdp != null
                ? "AF_XDP (XDP program " + xdp.port().programName() + " in "
                        + (xdp.port().mode() == XdpRedirect.Mode.NATIVE ? "native" : "generic") + " mode, "
                        + (xdp.port().zeroCopy() ? "zero-copy" : "copy mode") + ", one socket per queue, shared by "
                        + xdp.port().vipCount() + " VIP(s) on the interface)"
                : "AF_PACKET (fanout group " + ((AfPacketIo) ios.getFirst()).fanoutGroup() + ", "
                        + (ingressDrop == null ? "no ingress drop filter"
                                : "ingress drop filter prio " + IngressDrop.PRIORITY + " handle 0x"
                                        + Integer.toUnsignedString(ingressDrop.handle(), 16)) + ")";
        log.info("vip {}: DSR engine {}: {} {} on {} (mac {}, mtu {}), {} thread(s), {}{}",
                config.vipName(), how, config.method().configName(), config.vip(), iface.name(),
                InterfaceInfo.formatMac(iface.mac()), iface.mtu(), forwarders.size(), io, imported);
        DsrEngine engine = new DsrEngine(config, List.copyOf(ios), xdp, List.copyOf(forwarders), List.copyOf(threads),
                resolver, ingressDrop, snapshots);
        engine.paused = !startThreads;
        return engine;
    }

    private static List<Thread> newThreads(DsrEngineConfig config, List<DsrForwarder> forwarders) {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < forwarders.size(); i++) {
            threads.add(Thread.ofPlatform().name("maglev-dsr-" + config.vipName() + "-" + i).unstarted(forwarders.get(i)));
        }
        return threads;
    }

    /**
     * Puts the handed-over flows into the (not yet running) forwarders' tables, group {@code i} into thread
     * {@code i}'s, and says how many.
     */
    private static String importFlows(DsrEngineConfig config, ForwardingSnapshot snapshot,
            List<DsrForwarder> forwarders, FlowStateCodec.Decoded handedOver) {
        if (snapshot == null) {
            log.warn("vip {}: no table published yet: the {} flows handed over are placed by the table instead",
                    config.vipName(), handedOver.flows());
            return "0 flows taken over (no table yet)";
        }
        if (handedOver.groups().size() != forwarders.size()) {
            log.warn("vip {}: the predecessor tracked flows on {} threads, this engine has {}: its {} flows are placed "
                    + "by the table", config.vipName(), handedOver.groups().size(), forwarders.size(),
                    handedOver.flows());
            return "0 flows taken over (thread count changed)";
        }
        int[] backendMap = handedOver.backendMap(snapshot);
        long now = System.nanoTime();
        int imported = 0;
        for (int i = 0; i < forwarders.size(); i++) {
            imported += forwarders.get(i).flows().importFrom(handedOver.groups().get(i), backendMap, now);
        }
        return imported + " of " + handedOver.flows() + " flows taken over";
    }

    // ------------------------------------------------------------------ takeover, predecessor side

    /**
     * Takeover: stops the forwarding threads (each within its poll timeout) and leaves everything else as it is:
     * the sockets stay open and in their fanout group, their filters and the ingress drop filter stay, so frames
     * that arrive now wait in the receive rings (256 blocks per socket) for the successor, or for {@link #resume}.
     * The flow tables can then be read ({@link #exportFlowState}). Control thread.
     *
     * <p>On AF_XDP the VIP leaves its interface's port instead (its keys out of the XDP map, its forwarders out of
     * the queue threads; the last VIP closes the port, which belongs to this process): the VIP's packets go to the
     * host's stack until the successor's engine runs. Such an engine cannot {@link #resume}; close it and start a new
     * one with the exported flows.
     *
     * @return false when a thread did not stop within 5 s (the engine must not be handed over then)
     */
    public synchronized boolean pause() {
        if (closed || paused) {
            return paused;
        }
        if (xdp != null) {
            xdp.leave(); // when it returns no queue thread runs this VIP's forwarders
            forwarders.forEach(DsrForwarder::stop); // not running: exportFlowState reads their tables directly
            paused = true;
            return true;
        }
        forwarders.forEach(DsrForwarder::stop);
        boolean stopped = joinThreads();
        paused = stopped;
        if (!stopped) {
            log.error("vip {}: a forwarding thread did not stop within 5 s; the engine cannot be handed over",
                    config.vipName());
        }
        return stopped;
    }

    /**
     * Starts the threads of a paused engine: a takeover that was aborted after {@link #pause}, or an engine that
     * {@link #adopt}ed its sockets, once the predecessor's threads stopped reading them. Each socket is read from the
     * ring block the kernel handed over first ({@link AfPacketIo#recoverPosition}), so the frames that waited are
     * forwarded first; an adopted engine takes the ingress drop filter over first. Control thread.
     */
    public synchronized void resume() {
        if (closed || !paused) {
            return;
        }
        if (xdp != null) {
            throw new IllegalStateException("vip " + config.vipName() + ": an AF_XDP engine that left its port cannot "
                    + "resume; start a new one with its flows");
        }
        for (PacketIo io : ios) {
            if (io instanceof AfPacketIo packet) {
                packet.recoverPosition(); // before the threads start: Thread.start publishes it to them
            }
        }
        if (ingressToTakeOver != null) {
            ingressDrop = attachIngressDrop(ingressToTakeOver, config, true);
            ingressToTakeOver = null;
        }
        forwarders.forEach(DsrForwarder::restart);
        threads = List.copyOf(newThreads(config, forwarders));
        threads.forEach(Thread::start);
        paused = false;
        log.info("vip {}: DSR engine forwarding ({} thread(s) started)", config.vipName(), threads.size());
    }

    /**
     * The flows of every thread as {@link FlowStateCodec} bytes, one group per thread in socket order, with the
     * backends they are on by name and address: each running thread exports its own table between two batches, a
     * {@linkplain #pause paused} engine's are read directly. Blocks; never on a forwarding thread.
     *
     * @throws IllegalStateException when a thread does not answer within {@link TrackedFlows#ANSWER_TIMEOUT_MS}
     */
    public synchronized byte[] exportFlowState() {
        List<Future<FlowRecords>> parts = new ArrayList<>(forwarders.size());
        for (DsrForwarder f : forwarders) {
            parts.add(f.exportFlows()); // paused: at once (join() published the tables); else between two batches
        }
        List<FlowRecords> groups = new ArrayList<>(parts.size());
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(
                TrackedFlows.ANSWER_TIMEOUT_MS);
        for (Future<FlowRecords> part : parts) {
            try {
                groups.add(part.get(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("vip " + config.vipName() + ": interrupted exporting flows", e);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("vip " + config.vipName() + ": a forwarding thread did not export "
                        + "its flows: " + e, e);
            }
        }
        return FlowStateCodec.encode(groups, snapshots.get());
    }

    /**
     * The AF_PACKET sockets, in thread order (what {@link #adopt} takes); empty on AF_XDP, whose sockets are not
     * handed over. They stay this engine's: {@link #closeAfterHandOver} closes its descriptors.
     */
    public List<Integer> packetSocketFds() {
        if (xdp != null) {
            return List.of();
        }
        List<Integer> fds = new ArrayList<>(ios.size());
        for (PacketIo io : ios) {
            fds.add(((AfPacketIo) io).fd());
        }
        return List.copyOf(fds);
    }

    /**
     * Takeover done: the successor serves with its own descriptors for the sockets. Closes this engine's
     * descriptors and rings (the sockets live on in the successor) and leaves the ingress drop filter, which the
     * successor has replaced with its own. On AF_XDP (the successor started only after this engine stopped) the
     * same as {@link #close()}. Idempotent with {@link #close()}.
     */
    public synchronized void closeAfterHandOver() {
        if (closed) {
            return;
        }
        if (xdp != null) {
            close();
            return;
        }
        closed = true;
        forwarders.forEach(DsrForwarder::stop);
        boolean allStopped = joinThreads();
        resolver.close();
        if (allStopped) {
            ios.forEach(PacketIo::close);
        }
        log.info("vip {}: DSR engine handed over; this process's descriptors are closed", config.vipName());
    }

    private boolean joinThreads() {
        boolean allStopped = true;
        for (Thread t : threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            allStopped &= !t.isAlive();
        }
        return allStopped;
    }

    /**
     * Removes ingress drop filters that maglevd processes which are no longer running left on this network
     * namespace's interfaces (see {@code dsr.ingress_drop}); a daemon calls it once as it starts.
     *
     * @return how many were removed
     * @throws PacketEngineException when the interfaces or filters cannot be listed or one cannot be removed
     */
    public static int removeStaleIngressFilters() throws PacketEngineException {
        return IngressDrop.removeStale();
    }

    public DsrEngineConfig config() {
        return config;
    }

    /** This VIP's place on its interface's AF_XDP port (tests, diagnostics); empty on AF_PACKET. */
    java.util.Optional<AfXdpPort> xdpPort() {
        return java.util.Optional.ofNullable(xdp).map(AfXdpPort.Member::port);
    }

    /** The kernel interface this engine moves frames through: {@code af_xdp} or {@code af_packet}. */
    public String io() {
        return xdp != null ? DsrIo.AF_XDP.configName() : DsrIo.AF_PACKET.configName();
    }

    /**
     * How AF_XDP runs: {@code native}/{@code generic} XDP and {@code zero-copy}/{@code copy}, e.g.
     * "native copy"; empty on AF_PACKET.
     */
    public String ioMode() {
        if (xdp == null) {
            return "";
        }
        return (xdp.port().mode() == XdpRedirect.Mode.NATIVE ? "native" : "generic") + " "
                + (xdp.port().zeroCopy() ? "zero-copy" : "copy");
    }

    /**
     * The first failure of a forwarding thread, if one died (a bug: parsing never throws on packet contents).
     * Its socket stays in the fanout group, so its share of the flows is dropped until the engine is restarted;
     * the daemon reports the VIP as failed.
     */
    public java.util.Optional<Throwable> failure() {
        for (DsrForwarder f : forwarders) {
            if (f.failure() != null) {
                return java.util.Optional.of(f.failure());
            }
        }
        return java.util.Optional.empty();
    }

    /**
     * Stops ({@code false}) or resumes taking new flows. While stopped, packets of flows a thread tracks are still
     * forwarded to their backend; everything else is dropped as {@link DropReason#NO_BACKEND}. For a graceful
     * shutdown: upstream routing moves new flows to other LBs while open ones finish here.
     */
    public void acceptNewFlows(boolean value) {
        forwarders.forEach(f -> f.acceptNewFlows(value));
    }

    /**
     * The backend id the flow table of the thread that tracks the flow from {@code client} holds for it, or
     * {@link io.maglevlb.core.snapshot.ForwardingSnapshot#NO_BACKEND}. Each thread answers between two batches.
     * Waits; never call it from a forwarding thread.
     */
    public int trackedBackend(InetSocketAddress client) {
        byte[] raw = client.getAddress().getAddress();
        long hi = FlowHash.addressHi(raw);
        long lo = FlowHash.addressLo(raw);
        List<Future<Integer>> answers = new ArrayList<>(forwarders.size());
        for (DsrForwarder f : forwarders) {
            answers.add(f.trackedBackend(hi, lo, client.getPort()));
        }
        return TrackedFlows.first(config.vipName(), answers);
    }

    /** Flows tracked by all threads now (racy sum; a gauge). */
    public long trackedFlows() {
        long sum = 0;
        for (DsrForwarder f : forwarders) {
            sum += f.flows().size();
        }
        return sum;
    }

    /** Asks the resolver to re-read routes and neighbours now (e.g. after a backend was added). */
    public void refreshNextHops() {
        resolver.requestRefresh();
    }

    /**
     * Waits until the resolver has found the Ethernet next hop of every backend of {@code snapshot} (true), or
     * {@code timeoutMs} passed (false). Until then that backend's packets are dropped as NO_NEXT_HOP, so callers
     * that publish a snapshot and want no such drops (startup, tests) wait here.
     */
    public boolean awaitNextHops(ForwardingSnapshot snapshot, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        resolver.requestRefresh();
        while (!resolver.resolvedFor(snapshot)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
            resolver.requestRefresh();
        }
        return true;
    }

    /** All threads' counters summed (see {@link DsrStats}). Callable from any thread. */
    public DsrStats stats() {
        long received = 0;
        long packets = 0;
        long bytes = 0;
        long fragments = 0;
        long icmp = 0;
        long checksums = 0;
        long[] drops = new long[DropReason.VALUES.length];
        Map<Integer, long[]> perBackend = new TreeMap<>();
        long size = 0;
        long hits = 0;
        long misses = 0;
        long inserts = 0;
        long evictions = 0;
        long[] evictionsByReason = new long[EvictionReason.values().length];
        long floodSkips = 0;
        int flooding = 0;
        long capacity = 0;
        for (int t = 0; t < forwarders.size(); t++) {
            DsrForwarder f = forwarders.get(t);
            ForwarderCounters c = f.counters;
            received += c.receivedFrames;
            packets += c.forwardedPackets;
            bytes += c.forwardedBytes;
            fragments += c.fragmentsForwarded;
            icmp += c.icmpErrorsForwarded;
            checksums += c.checksumsCompleted;
            for (int r = 0; r < drops.length; r++) {
                drops[r] += c.drops[r];
            }
            PacketIo io = ios.get(t);
            drops[DropReason.TX_QUEUE_FULL.ordinal()] += io.transmitQueueFullDrops();
            drops[DropReason.TX_ERROR.ordinal()] += io.transmitErrors();
            if (xdp != null) { // the queue's socket, shared by the interface's VIPs: its kernel drops are per queue
                drops[DropReason.RING_FULL.ordinal()] += xdp.port().ringFullDrops(t);
            }
            long[] bp = c.backendPackets;
            long[] bb = c.backendBytes;
            for (int id = 1; id < Math.min(bp.length, bb.length); id++) {
                if (bp[id] != 0) {
                    long[] sum = perBackend.computeIfAbsent(id, k -> new long[2]);
                    sum[0] += bp[id];
                    sum[1] += bb[id];
                }
            }
            FlowTable flows = f.flows();
            size += flows.size();
            hits += flows.hits();
            misses += flows.misses();
            inserts += flows.inserts();
            evictions += flows.evictions();
            for (EvictionReason reason : EvictionReason.values()) {
                evictionsByReason[reason.ordinal()] += flows.evictions(reason);
            }
            floodSkips += flows.floodSkips();
            flooding += flows.inFloodMode() ? 1 : 0;
            capacity += flows.capacity();
        }
        Map<DropReason, Long> dropMap = new EnumMap<>(DropReason.class);
        for (DropReason r : DropReason.VALUES) {
            dropMap.put(r, drops[r.ordinal()]);
        }
        Map<Integer, DsrStats.BackendTraffic> backends = new TreeMap<>();
        perBackend.forEach((id, v) -> backends.put(id, new DsrStats.BackendTraffic(v[0], v[1])));
        return new DsrStats(config.vipName(), received, packets, bytes, fragments, icmp, checksums,
                Collections.unmodifiableMap(dropMap), Collections.unmodifiableMap(backends),
                new DsrStats.FlowStats(size, hits, misses, inserts, evictions, reasons(evictionsByReason), floodSkips,
                        flooding, capacity),
                forwarders.size(), resolver.unresolved(), io());
    }

    private static Map<String, Long> reasons(long[] counts) {
        Map<String, Long> m = new TreeMap<>();
        for (EvictionReason reason : EvictionReason.values()) {
            m.put(reason.name().toLowerCase(java.util.Locale.ROOT), counts[reason.ordinal()]);
        }
        return Collections.unmodifiableMap(m);
    }

    /** Stops the threads (each within its poll timeout), then closes sockets and the resolver. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ingressDrop != null) {
            ingressDrop.close(); // first: the host's stack gets the VIP's packets back while the threads stop
        }
        if (xdp != null) {
            // the VIP's keys leave the map, then its forwarders the queue threads; the last VIP on the interface
            // detaches the program (the host gets the packets back first) and closes the sockets
            xdp.leave();
            resolver.close();
        } else {
            forwarders.forEach(DsrForwarder::stop);
            boolean allStopped = true;
            for (Thread t : threads) {
                try {
                    t.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                allStopped &= !t.isAlive();
            }
            resolver.close();
            if (allStopped) {
                ios.forEach(PacketIo::close);
            } else {
                log.error("vip {}: a forwarding thread did not stop within 5 s; its socket stays open",
                        config.vipName());
            }
        }
        log.info("vip {}: DSR engine stopped", config.vipName());
    }
}
