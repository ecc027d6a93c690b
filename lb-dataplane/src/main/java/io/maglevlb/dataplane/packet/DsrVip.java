package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.VipBindException;
import io.maglevlb.dataplane.VipForwarder;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Optional;

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
    private final VipConfig vip;
    private final DsrEngineConfig config;
    private final SnapshotHolder snapshots;
    private volatile DsrEngine engine;

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
        return e == null ? 0 : (int) Math.min(Integer.MAX_VALUE, e.trackedFlows());
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
