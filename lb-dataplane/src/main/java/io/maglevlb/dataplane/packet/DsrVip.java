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
    /**
     * Takeover, old process: the flows exported when an AF_XDP engine was stopped for the successor (its sockets
     * cannot be handed over), kept to start it again if the takeover is aborted; null otherwise.
     */
    private byte[] stoppedForSuccessor;
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
     * Takeover, old process: stops the engine's threads ({@link DsrEngine#pause}; frames wait in the rings) and
     * hands over its flows ({@link HandoverSection#DSR_FLOWS}) and, on AF_PACKET, its sockets
     * ({@link HandoverSection#DSR_PACKET_SOCKETS}). An AF_XDP engine is stopped here (its sockets and XDP program
     * cannot move, and the successor's engine can bind only once they are gone): its VIP's packets go to the host's
     * stack until the successor's engine runs. {@link #handOverAborted} undoes either.
     */
    @Override
    public synchronized List<HandoverSection> handOverSections() {
        DsrEngine e = engine;
        if (e == null || handedOver) {
            return List.of();
        }
        if (!e.pause()) {
            return List.of(); // a thread hangs: the successor starts its own engine, this one serves on
        }
        byte[] flows = e.exportFlowState();
        List<HandoverSection> sections = new ArrayList<>();
        List<Integer> sockets = e.packetSocketFds();
        if (sockets.isEmpty()) {
            e.close();
            stoppedForSuccessor = flows;
            log.info("vip {}: AF_XDP engine stopped for the successor, which starts its own with {} bytes of flows",
                    vip.name(), flows.length);
        } else {
            sections.add(HandoverSection.ofFds(HandoverSection.DSR_PACKET_SOCKETS,
                    sockets.stream().mapToInt(Integer::intValue).toArray()));
        }
        sections.add(new HandoverSection(HandoverSection.DSR_FLOWS, FlowStateCodec.VERSION, flows, new int[0]));
        return sections;
    }

    /** Takeover aborted: the paused engine resumes; an AF_XDP engine stopped for the successor starts again. */
    @Override
    public synchronized void handOverAborted() {
        DsrEngine e = engine;
        if (e == null || handedOver) {
            return;
        }
        if (stoppedForSuccessor == null) {
            e.resume();
            return;
        }
        try {
            engine = DsrEngine.start(config, snapshots::current, stoppedForSuccessor);
            stoppedForSuccessor = null;
        } catch (PacketEngineException ex) {
            log.error("vip {}: cannot start the DSR engine again after the aborted takeover: {}", vip.name(),
                    ex.getMessage());
        }
    }

    /**
     * Takeover, new process: an engine on the predecessor's packet sockets and flows
     * ({@link DsrEngine#adopt}), or on AF_XDP a new engine with the predecessor's flows (it stopped its own).
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
        try {
            engine = sockets != null ? DsrEngine.adopt(config, snapshots::current, sockets.fds(), flows)
                    : DsrEngine.start(config, snapshots::current, flows);
        } catch (PacketEngineException e) {
            throw new VipBindException(vip.name(), vip.listen(), e);
        }
        return true;
    }

    /** Takeover done: the successor reads the sockets; this engine closes its descriptors and has no flows left. */
    @Override
    public synchronized void releaseAfterHandover() {
        DsrEngine e = engine;
        handedOver = true;
        stoppedForSuccessor = null;
        if (e != null) {
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
