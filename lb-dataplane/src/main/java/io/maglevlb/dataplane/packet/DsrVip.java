package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.conntrack.FlowStateCodec;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.VipBindException;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.handover.HandoverSection;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@code mode: dsr} VIP as the daemon drives it: starts the {@link DsrEngine} instead of a proxy listener and
 * feeds it the VIP's snapshots from the same {@link SnapshotHolder} the health checker, drain and reload publish
 * to, so they work for DSR VIPs exactly as for proxied ones.
 *
 * <p>Shutdown maps onto DSR like this: {@link #stopAccepting()} stops new flows (tracked ones keep flowing to
 * their backends), {@link #activeConnections()} is the number of tracked flows (they leave by idle timeout),
 * {@link #closeConnections()} stops the engine. Threading: control-plane threads only.
 */
public final class DsrVip implements VipForwarder {
    private static final Logger log = LoggerFactory.getLogger(DsrVip.class);
    private final VipConfig vip;
    private final DsrEngineConfig config;
    private final SnapshotHolder snapshots;
    private volatile DsrEngine engine;
    /** Takeover, new process, AF_XDP: the handed-over flows, until the engine starts at predecessorReleased. */
    private byte[] startAfterPredecessor;
    /** Takeover, old process: the successor serves; this VIP has nothing left to drain. */
    private volatile boolean handedOver;

    /**
     * @param threads forwarding threads (AF_PACKET sockets) for this VIP
     */
    public DsrVip(VipConfig vip, SnapshotHolder snapshots, FlowTableConfig flowTable, int threads) {
        this.vip = Objects.requireNonNull(vip, "vip");
        this.snapshots = Objects.requireNonNull(snapshots, "snapshots");
        this.config = DsrEngineConfig.of(vip, flowTable, threads);
    }

    @Override
    public String name() {
        return vip.name();
    }

    @Override
    public void start() throws VipBindException {
        if (engine != null) {
            throw new IllegalStateException("vip " + vip.name() + ": already started");
        }
        try {
            engine = DsrEngine.start(config, snapshots::current);
        } catch (PacketEngineException e) {
            throw new VipBindException(vip.name(), vip.listen(), e);
        }
    }

    /**
     * Takeover, old process: the engine's flows ({@link HandoverSection#DSR_FLOWS}, each thread exports its table
     * between two batches) and, on AF_PACKET, its sockets ({@link HandoverSection#DSR_PACKET_SOCKETS}). The engine
     * keeps forwarding: a packet ring has one reader, so the successor starts its threads only once this engine has
     * stopped in {@link #releaseAfterHandover} (see {@link #predecessorReleased}). On AF_XDP there are no sockets to
     * hand over: the successor starts its own engine after this one stopped.
     */
    @Override
    public synchronized List<HandoverSection> handOverSections() {
        DsrEngine e = engine;
        if (e == null || handedOver) {
            return List.of();
        }
        List<HandoverSection> sections = new ArrayList<>();
        List<Integer> sockets = e.packetSocketFds();
        if (!sockets.isEmpty()) {
            sections.add(HandoverSection.ofFds(HandoverSection.DSR_PACKET_SOCKETS,
                    sockets.stream().mapToInt(Integer::intValue).toArray()));
        }
        try {
            sections.add(new HandoverSection(HandoverSection.DSR_FLOWS, FlowStateCodec.VERSION, e.exportFlowState(),
                    new int[0]));
        } catch (RuntimeException ex) {
            log.warn("vip {}: DSR flows not handed over ({}): the successor places them by the table", vip.name(),
                    ex.getMessage());
        }
        return sections;
    }

    /**
     * Takeover, new process: on AF_PACKET an engine on the predecessor's packet sockets with its flows
     * ({@link DsrEngine#adopt}), whose threads start at {@link #predecessorReleased}; on AF_XDP the flows are kept
     * for the engine that starts then.
     *
     * @return false when neither section is there (the predecessor handed nothing over for this VIP)
     */
    @Override
    public synchronized boolean startFromHandover(List<HandoverSection> sections) throws VipBindException {
        if (engine != null) {
            throw new IllegalStateException("vip " + vip.name() + ": already started");
        }
        HandoverSection sockets = null;
        byte[] flows = null;
        for (HandoverSection s : sections) {
            if (s.type() == HandoverSection.DSR_PACKET_SOCKETS && s.version() == 1) {
                sockets = s;
            } else if (s.type() == HandoverSection.DSR_FLOWS && s.version() == FlowStateCodec.VERSION) {
                flows = s.data();
            }
        }
        if (sockets == null && flows == null) {
            return false;
        }
        if (sockets == null) {
            startAfterPredecessor = flows;
            return true;
        }
        try {
            engine = DsrEngine.adopt(config, snapshots::current, sockets.fds(), flows);
        } catch (PacketEngineException e) {
            throw new VipBindException(vip.name(), vip.listen(), e);
        }
        return true;
    }

    /**
     * Takeover, new process: the predecessor's engine stopped; this VIP's engine starts forwarding (AF_PACKET: the
     * adopted sockets, from the frames that waited in their rings; AF_XDP: a new engine with the handed-over flows).
     */
    @Override
    public synchronized void predecessorReleased() {
        if (engine != null) {
            engine.resume();
            return;
        }
        byte[] flows = startAfterPredecessor;
        if (flows == null) {
            return;
        }
        startAfterPredecessor = null;
        try {
            engine = DsrEngine.start(config, snapshots::current, flows);
        } catch (PacketEngineException e) {
            log.error("vip {}: cannot start the DSR engine after the takeover: {}", vip.name(), e.getMessage());
        }
    }

    /**
     * Takeover, old process, the successor serves: the engine stops (its threads first, so the successor's can read
     * the rings) and closes its descriptors; the sockets live on in the successor, and so does the ingress drop
     * filter, which the successor replaces with its own. This VIP has no flows left to drain here.
     */
    @Override
    public synchronized void releaseAfterHandover() {
        DsrEngine e = engine;
        handedOver = true;
        if (e != null) {
            e.pause();
            e.closeAfterHandOver();
        }
    }

    @Override
    public void stopAccepting() {
        DsrEngine e = engine;
        if (e != null) {
            e.acceptNewFlows(false);
        }
    }

    @Override
    public int activeConnections() {
        DsrEngine e = engine;
        return e == null || handedOver ? 0 : (int) Math.min(Integer.MAX_VALUE, e.trackedFlows());
    }

    /** See {@link VipForwarder#trackedBackend}: the packet threads' flow tables; none before start. */
    @Override
    public int trackedBackend(InetSocketAddress client) {
        DsrEngine e = engine;
        return e == null ? io.maglevlb.core.snapshot.ForwardingSnapshot.NO_BACKEND : e.trackedBackend(client);
    }

    @Override
    public void closeConnections() {
        DsrEngine e = engine;
        if (e != null) {
            e.close();
        }
    }

    /**
     * No: two engines on one VIP would both receive every packet. The successor does not know this engine's
     * flows and places them by the table, so a TCP segment it sends to another backend than the one holding the
     * connection is answered with a reset. A reload therefore stops this engine first; its flows are placed anew
     * by the successor's table, as after a restart.
     */
    @Override
    public boolean drainsBesideSuccessor() {
        return false;
    }

    @Override
    public InetSocketAddress localAddress() {
        return vip.listen();
    }

    @Override
    public String describe() {
        return "dsr " + config.method().configName() + " " + vip.protocol().configName() + " " + vip.listen()
                + " on " + config.interfaceName() + ", " + config.threads() + " packet thread(s)";
    }

    /** The engine's counters (for metrics and the admin API); all zero before {@link #start()}. */
    @Override
    public DsrStats stats() {
        DsrEngine e = engine;
        return e == null ? DsrStats.notStarted(vip.name()) : e.stats();
    }

    /** The running engine, once started. */
    public Optional<DsrEngine> engine() {
        return Optional.ofNullable(engine);
    }
}
