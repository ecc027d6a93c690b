package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.conntrack.FlowRecords;
import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One forwarding thread of a DSR VIP: receives batches from its {@link PacketIo}, places each packet on a
 * backend and sends it on, rewritten (l2) or encapsulated (ipip/gue).
 *
 * <p>Placement: a TCP/UDP packet (and an ICMP error, by the flow it quotes) goes through this thread's flow table
 * first and the Maglev table on a miss; a tracked flow keeps its backend while that backend still keeps flows in
 * the current snapshot. IP fragments skip the flow table: every fragment of a datagram is placed by the 3-tuple
 * (addresses, protocol) hash alone (Maglev §4.3), so all of them reach one backend whichever thread receives
 * them, the first one (which has ports) included.
 *
 * <p>Per batch the thread reads the VIP's snapshot and the next hops once (two volatile reads) and the clock
 * once; per packet it allocates nothing and takes no lock.
 */
final class DsrForwarder implements Runnable, PacketIo.FrameSink {
    private static final int POLL_TIMEOUT_MS = 100;
    private static final long HOUSEKEEPING_INTERVAL_NS = 100_000_000L;
    private static final int EXPIRE_SCAN_PER_ROUND = 4096;
    private static final int ETHERNET = FrameParser.ETHERNET_HEADER;
    private static final Logger log = LoggerFactory.getLogger(DsrForwarder.class);

    private final PacketIo io;
    private final FrameParser parser;
    private final Supplier<ForwardingSnapshot> snapshots;
    private final NextHopResolver resolver;
    private final FlowTable flows;
    final ForwarderCounters counters = new ForwarderCounters();
    private final HashMode hashMode;
    private final DsrMethod method;
    private final int mtu;
    private final long ourMac;
    private final int overhead;
    private final int guePort;
    private final Ipv4Range outerSource;
    private final int cpu;
    private volatile boolean running = true;
    private volatile boolean acceptNewFlows = true;
    private boolean acceptNewFlowsThisBatch = true;
    private volatile Throwable failure;
    /**
     * Diagnostics asked of this thread (explain's flow lookup), run between two batches: the flow table is this
     * thread's alone. Checked once per poll round ({@code isEmpty}: one volatile read), never per packet.
     */
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final int protocol;
    private final long vipHi;
    private final long vipLo;
    private final int vipPort;

    // Per-batch state (owner thread only).
    private ForwardingSnapshot snapshot;
    private NextHops hops = NextHops.EMPTY;
    private long nowNs;
    private long[] backendPackets = counters.backendPackets;
    private long[] backendBytes = counters.backendBytes;
    private long lastHousekeepingNs = System.nanoTime();

    DsrForwarder(DsrEngineConfig config, PacketIo io, Supplier<ForwardingSnapshot> snapshots,
            NextHopResolver resolver, FlowTable flows, Ipv4Range outerSource, int cpu) {
        this.io = io;
        this.parser = new FrameParser(config.vip().getAddress(), config.protocol().ipProtocol(), config.vip().getPort());
        this.snapshots = snapshots;
        this.resolver = resolver;
        this.flows = flows;
        this.hashMode = config.hashMode();
        this.method = config.method();
        this.mtu = io.iface().mtu();
        this.ourMac = io.iface().mac();
        this.overhead = config.encapsulationOverhead();
        this.guePort = config.guePort();
        this.outerSource = outerSource;
        this.cpu = cpu;
        this.protocol = config.protocol().ipProtocol();
        byte[] vipRaw = config.vip().getAddress().getAddress();
        this.vipHi = FlowHash.addressHi(vipRaw);
        this.vipLo = FlowHash.addressLo(vipRaw);
        this.vipPort = config.vip().getPort();
    }

    /**
     * The backend id this thread's flow table holds for the flow from {@code srcHi}:{@code srcLo} port
     * {@code srcPort} to the VIP (its address and port), or {@link ForwardingSnapshot#NO_BACKEND}. Read-only
     * ({@link FlowTable#peek}); answered by this thread between two batches, within its poll timeout. Any thread.
     */
    CompletableFuture<Integer> trackedBackend(long srcHi, long srcLo, int srcPort) {
        CompletableFuture<Integer> answer = new CompletableFuture<>();
        if (!running) {
            answer.complete(ForwardingSnapshot.NO_BACKEND);
            return answer;
        }
        tasks.add(() -> {
            int entry = flows.peek(protocol, srcHi, srcLo, srcPort, vipHi, vipLo, vipPort, System.nanoTime());
            answer.complete(entry == FlowTable.NO_ENTRY ? ForwardingSnapshot.NO_BACKEND : flows.backendId(entry));
        });
        return answer;
    }

    /**
     * This thread's flows ({@link FlowTable#exportTo}), taken between two batches; for a takeover. While the thread
     * does not run, taken at once on the caller's thread (the thread's writes were published by its end). Any thread.
     */
    CompletableFuture<FlowRecords> exportFlows() {
        CompletableFuture<FlowRecords> answer = new CompletableFuture<>();
        Runnable export = () -> {
            FlowRecords records = new FlowRecords();
            flows.exportTo(records, System.nanoTime());
            answer.complete(records);
        };
        if (!running) {
            export.run();
        } else {
            tasks.add(export);
        }
        return answer;
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            task.run();
        }
    }

    FlowTable flows() {
        return flows;
    }

    /** Why this thread stopped forwarding on its own, or null while it runs (or was stopped). */
    Throwable failure() {
        return failure;
    }

    /** Stops (false) or resumes taking new flows: tracked flows keep being forwarded either way. Any thread. */
    void acceptNewFlows(boolean value) {
        acceptNewFlows = value;
    }

    void stop() {
        running = false;
    }

    /** Before this forwarder runs on a new thread again (a takeover that was aborted after {@link #stop}). */
    void restart() {
        running = true;
    }

    /** Records why this thread stopped (an AF_XDP queue thread that served several VIPs' forwarders failed). */
    void failed(Throwable cause) {
        failure = cause;
    }

    /** Pins the calling thread to {@code cpu} (no-op for -1), logging a warning when the kernel refuses. */
    static void pin(int cpu) {
        if (cpu < 0) {
            return;
        }
        try (LinuxNative sys = new LinuxNative()) { // per call: the CPU mask, freed here
            if (sys.pinCurrentThread(cpu) < 0) {
                log.warn("{}: cannot pin to cpu {}: {}", Thread.currentThread().getName(), cpu,
                        LinuxNative.describe(sys.errno()));
            }
        }
    }

    /** The forwarding loop on an I/O this forwarder owns alone (AF_PACKET: one socket per VIP and thread). */
    @Override
    public void run() {
        pin(cpu);
        try {
            while (running) {
                io.receiveBatch(this, POLL_TIMEOUT_MS);
                if (betweenBatches(System.nanoTime())) {
                    counters.drops[DropReason.RING_FULL.ordinal()] += io.takeKernelDrops();
                }
            }
        } catch (RuntimeException | Error e) {
            failure = e;
            log.error("{}: forwarding thread failed; its share of the VIP's flows is no longer forwarded",
                    Thread.currentThread().getName(), e);
            throw e;
        }
    }

    /**
     * Work between two batches, on the thread that runs this forwarder: the diagnostics asked of it, and every
     * {@value #HOUSEKEEPING_INTERVAL_NS} ns the expiry of idle flows.
     *
     * @return whether the housekeeping ran this time (the caller reads the kernel's drop counters then)
     */
    boolean betweenBatches(long nowNs) {
        if (!tasks.isEmpty()) {
            runTasks();
        }
        if (nowNs - lastHousekeepingNs < HOUSEKEEPING_INTERVAL_NS) {
            return false;
        }
        lastHousekeepingNs = nowNs;
        flows.expire(nowNs, EXPIRE_SCAN_PER_ROUND);
        return true;
    }

    /**
     * Reads the snapshot, next hops and clock for the batch whose frames have just arrived: reading them before
     * waiting for frames would decide packets that arrived after a snapshot swap with the older table.
     */
    @Override
    public void onBatchStart() {
        ForwardingSnapshot s = snapshots.get();
        if (s != snapshot) {
            snapshot = s;
            if (s != null) {
                counters.ensureBackendCapacity(s.idLimit());
                backendPackets = counters.backendPackets;
                backendBytes = counters.backendBytes;
            }
        }
        hops = resolver.current();
        acceptNewFlowsThisBatch = acceptNewFlows;
        nowNs = System.nanoTime();
    }

    /** While not taking new flows: the backend of a tracked flow that may stay there, else none. */
    private int trackedBackend(ForwardingSnapshot s, long hash, FrameParser p) {
        int entry = flows.find(hash, p.protocol, p.srcHi, p.srcLo, p.srcPort, p.dstHi, p.dstLo, p.dstPort, nowNs);
        if (entry == FlowTable.NO_ENTRY) {
            return ForwardingSnapshot.NO_BACKEND;
        }
        int backend = flows.backendId(entry);
        return s.keepsFlows(backend) ? backend : ForwardingSnapshot.NO_BACKEND;
    }

    @Override
    public void onFrame(MemorySegment m, long frame, int capturedLength, int wireLength, int flags) {
        ForwarderCounters c = counters;
        c.receivedFrames++;
        if ((flags & PacketIo.FLAG_VLAN_STRIPPED) != 0) {
            c.drops[DropReason.NOT_IP.ordinal()]++;
            return;
        }
        forward(parser.parse(m, frame, capturedLength, wireLength), m, frame, flags);
    }

    /**
     * For an I/O shared by the forwarders of several VIPs (AF_XDP: one socket per queue for every VIP of the
     * interface): forwards the frame and returns true if it is this VIP's, or a frame no VIP can claim
     * (truncated, malformed: the first forwarder asked counts it); returns false, counting nothing, when it is
     * another VIP's.
     */
    boolean offer(MemorySegment m, long frame, int capturedLength, int wireLength, int flags) {
        FrameParser p = parser;
        int kind = p.parse(m, frame, capturedLength, wireLength);
        if (kind == FrameParser.DROP && p.dropReason() == DropReason.NOT_VIP) {
            return false;
        }
        counters.receivedFrames++;
        forward(kind, m, frame, flags);
        return true;
    }

    /** Counts a frame that no VIP of a shared I/O claimed (e.g. one of a VIP removed a moment ago). */
    void countUnclaimed() {
        counters.receivedFrames++;
        counters.drops[DropReason.NOT_VIP.ordinal()]++;
    }

    private void forward(int kind, MemorySegment m, long frame, int flags) {
        ForwarderCounters c = counters;
        FrameParser p = parser;
        if (kind == FrameParser.DROP) {
            c.drops[p.dropReason().ordinal()]++;
            return;
        }
        ForwardingSnapshot s = snapshot;
        if (s == null) {
            c.drops[DropReason.NO_BACKEND.ordinal()]++;
            return;
        }
        long hash;
        int backend;
        if (kind == FrameParser.FRAGMENT) {
            hash = FlowHash.of(hashMode, p.protocol, p.srcHi, p.srcLo, 0, p.dstHi, p.dstLo, 0);
            backend = s.backendFor(hash);
        } else {
            hash = FlowHash.of(hashMode, p.protocol, p.srcHi, p.srcLo, p.srcPort, p.dstHi, p.dstLo, p.dstPort);
            if (acceptNewFlowsThisBatch) {
                backend = flows.resolve(s, hash, p.protocol, p.srcHi, p.srcLo, p.srcPort, p.dstHi, p.dstLo, p.dstPort,
                        nowNs);
            } else {
                backend = trackedBackend(s, hash, p);
            }
        }
        if (backend == ForwardingSnapshot.NO_BACKEND) {
            c.drops[DropReason.NO_BACKEND.ordinal()]++;
            return;
        }
        long mac = hops.mac(backend);
        if (mac == 0) {
            c.drops[DropReason.NO_NEXT_HOP.ordinal()]++;
            resolver.requestRefresh();
            return;
        }
        int ipLength = p.ipLength;
        if (ipLength + overhead > mtu) {
            c.drops[DropReason.TOO_BIG.ordinal()]++;
            return;
        }
        if (kind == FrameParser.FLOW && ((flags & PacketIo.FLAG_CHECKSUM_NOT_READY) != 0
                || (flags & PacketIo.FLAG_CHECKSUM_UNKNOWN) != 0 && Checksums.looksLeftToOffload(m, p.ipOffset,
                        p.ipVersion == 6, p.protocol, p.l4Offset, p.l4Length))) {
            Checksums.setTransportChecksum(m, p.ipOffset, p.ipVersion == 6, p.protocol, p.l4Offset, p.l4Length);
            c.checksumsCompleted++;
        }
        if (method == DsrMethod.L2) {
            Bytes.putMac(m, frame, mac);
            Bytes.putMac(m, frame + 6, ourMac);
            io.transmit(m, frame, ETHERNET + ipLength);
        } else {
            int outerDestination = hops.outerDestination(backend);
            MemorySegment h = io.headerSlot();
            int headerLength = Encapsulation.writeOuterHeaders(h, method, mac, ourMac, outerSource.pick(hash),
                    outerDestination, p.trafficClass, p.ipVersion, ipLength, Encapsulation.gueSourcePort(hash),
                    guePort);
            io.transmitWithHeader(headerLength, m, p.ipOffset, ipLength);
        }
        c.forwardedPackets++;
        c.forwardedBytes += ipLength;
        if (kind == FrameParser.FRAGMENT) {
            c.fragmentsForwarded++;
        } else if (kind == FrameParser.ICMP_ERROR) {
            c.icmpErrorsForwarded++;
        }
        if (backend < backendPackets.length) {
            backendPackets[backend]++;
            backendBytes[backend] += ipLength;
        }
    }
}
