package io.maglevlb.control.daemon;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendIds;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.core.snapshot.SlotMoves;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.VipForwarder;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.distribution.TimeWindowMax;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control-plane state of one VIP: its configuration, the live state of each backend (id, health, drain),
 * and the table generation the forwarding threads use.
 *
 * <p><b>Threading.</b> Methods that change backend state are {@code synchronized} and rebuild the VIP's
 * {@link ForwardingSnapshot} on the calling thread, which is a control-plane thread (health checker, admin
 * API, reload), never a forwarding event loop: a build at the default table size takes milliseconds. The new
 * snapshot reaches the event loops with one volatile store ({@link SnapshotHolder#publish}); connections
 * already open keep their backend. Readers ({@link #snapshot()}, {@link #forwarder()}) take no lock.
 *
 * <p>Backends get dense ids from {@link BackendIds} in configuration order and keep them for the VIP's
 * life; initially every backend is healthy (until the health checker says otherwise) and not drained.
 */
public final class VipRuntime {
    private static final Logger LOG = LoggerFactory.getLogger(VipRuntime.class);

    private volatile VipConfig config;
    private final BackendIds ids = new BackendIds();
    // Guarded by this. Configuration order.
    private final Map<String, BackendState> backends = new LinkedHashMap<>();
    // Guarded by this.
    private long generation;
    private final SnapshotHolder snapshots;
    private volatile VipForwarder forwarder;
    private volatile long rebuilds;
    // Written under this lock, read by metric scrapes.
    private volatile long slotsMoved;
    private volatile long lastBuildNanos;
    private volatile long totalBuildNanos;
    /** Longest build over a sliding two minutes, as a Micrometer Timer's max (thread-safe). */
    private final TimeWindowMax recentBuildMax = new TimeWindowMax(Clock.SYSTEM, DistributionStatisticConfig.DEFAULT);
    // Guarded by this. Whether the published table has no backend, so that the warning is logged once per
    // transition into that state, not once per event that keeps it there.
    private boolean tableEmpty;

    public VipRuntime(VipConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        for (BackendConfig b : config.backends()) {
            backends.put(b.name(), new BackendState(ids.allocate(), b.name(), b.address(), b.weight(), false, true));
        }
        // Not yet shared with any other thread: no lock needed for the first build.
        ForwardingSnapshot first = build();
        this.snapshots = new SnapshotHolder(first);
        noteEmptiness(first);
    }

    public String name() {
        return config.name();
    }

    public VipConfig config() {
        return config;
    }

    /** The snapshot new flows use now. Any thread. */
    public ForwardingSnapshot snapshot() {
        return snapshots.current();
    }

    /** Where this VIP's snapshots are published; the forwarder reads from it. */
    public SnapshotHolder snapshots() {
        return snapshots;
    }

    /** Generation of the current snapshot: 1 for the first table, +1 per rebuild. */
    public long generation() {
        return snapshots.current().generation();
    }

    /** Tables built for this VIP so far (including the first). */
    public long rebuilds() {
        return rebuilds;
    }

    /** Table slots whose backend changed from one published table to the next, summed since start. */
    public long slotsMoved() {
        return slotsMoved;
    }

    /** Total time spent building this VIP's tables, in nanoseconds (for metrics). */
    public long totalBuildNanos() {
        return totalBuildNanos;
    }

    /** The longest table build of the last two minutes (0 when none), in seconds; for metrics. Any thread. */
    public double maxRecentBuildSeconds() {
        return recentBuildMax.poll(TimeUnit.SECONDS);
    }

    /** How long the last table build took. */
    public Duration lastBuildTime() {
        return Duration.ofNanos(lastBuildNanos);
    }

    /** The backends' current state, in configuration order. */
    public synchronized List<BackendState> backends() {
        return List.copyOf(backends.values());
    }

    public synchronized Optional<BackendState> backend(String backendName) {
        return Optional.ofNullable(backends.get(backendName));
    }

    /**
     * Records a health verdict; when it changes the backend's state, rebuilds and publishes the table.
     *
     * @return whether the state changed
     * @throws IllegalArgumentException when the VIP has no backend of that name
     */
    public boolean setHealthy(String backendName, boolean healthy) {
        return setHealthy(backendName, healthy, null);
    }

    /**
     * Records a health verdict with its reason (logged); when it changes the backend's state, rebuilds and
     * publishes the table and logs how many slots changed owner.
     *
     * @return whether the state changed
     * @throws IllegalArgumentException when the VIP has no backend of that name
     */
    public synchronized boolean setHealthy(String backendName, boolean healthy, String reason) {
        BackendState current = require(backendName);
        if (current.healthy() == healthy) {
            return false;
        }
        backends.put(backendName, current.withHealthy(healthy));
        ForwardingSnapshot before = snapshots.current();
        ForwardingSnapshot s = rebuildAndPublish();
        LOG.info("vip {}: backend {} {}{}; table generation {}: {} of {} slots moved, {} of {} backends in table",
                config.name(), backendName, healthy ? "UP" : "DOWN", reason == null ? "" : " (" + reason + ")",
                s.generation(), countMoves(before, s), s.tableSize(), s.tableBackends().size(),
                backends.size());
        return true;
    }

    /**
     * Drains ({@code true}: no new flows, open ones stay) or undrains a backend; rebuilds and publishes the
     * table when that changes its state.
     *
     * @return whether the state changed
     * @throws IllegalArgumentException when the VIP has no backend of that name
     */
    public synchronized boolean setDrained(String backendName, boolean drained) {
        BackendState current = require(backendName);
        if (current.drained() == drained) {
            return false;
        }
        backends.put(backendName, current.withDrained(drained));
        ForwardingSnapshot before = snapshots.current();
        ForwardingSnapshot s = rebuildAndPublish();
        LOG.info("vip {}: backend {} {}; table generation {}: {} of {} slots moved, {} of {} backends in table",
                config.name(), backendName, drained ? "drained" : "undrained", s.generation(),
                countMoves(before, s), s.tableSize(), s.tableBackends().size(), backends.size());
        return true;
    }

    /**
     * Applies a reloaded configuration of this VIP (same name): backends kept by name keep their id, health
     * and drain state and take the new address and weight; new backends get fresh ids and start healthy
     * (provisionally: the health checker decides); removed backends leave and their ids are freed. Rebuilds
     * and publishes the table once. The caller has checked that listen address, protocol and mode allow the
     * VIP's forwarder to carry on (or replaces the forwarder itself).
     *
     * @return the published snapshot
     */
    public synchronized ForwardingSnapshot applyConfig(VipConfig next) {
        if (!next.name().equals(config.name())) {
            throw new IllegalArgumentException("vip " + config.name() + " cannot take the config of vip " + next.name());
        }
        Map<String, BackendState> updated = new LinkedHashMap<>();
        for (BackendConfig b : next.backends()) {
            BackendState old = backends.get(b.name());
            updated.put(b.name(), old == null
                    ? new BackendState(ids.allocate(), b.name(), b.address(), b.weight(), false, true)
                    : new BackendState(old.id(), b.name(), b.address(), b.weight(), old.drained(), old.healthy()));
        }
        for (BackendState old : backends.values()) {
            if (!updated.containsKey(old.name())) {
                ids.release(old.id());
            }
        }
        backends.clear();
        backends.putAll(updated);
        config = next;
        ForwardingSnapshot before = snapshots.current();
        ForwardingSnapshot s = rebuildAndPublish();
        LOG.info("vip {}: configuration applied; table generation {}: {} of {} slots moved, {} of {} backends in "
                + "table", config.name(), s.generation(), countMoves(before, s), s.tableSize(),
                s.tableBackends().size(), backends.size());
        return s;
    }

    /**
     * Builds a new snapshot from the backends' current state on the calling (control-plane) thread and
     * publishes it to the forwarding threads with one volatile store.
     */
    public synchronized ForwardingSnapshot rebuildAndPublish() {
        ForwardingSnapshot s = build();
        snapshots.publish(s);
        noteEmptiness(s);
        return s;
    }

    /**
     * Logs a warning when the table has just become empty (every backend down, drained or of weight 0: new
     * clients are refused), and a note when it has backends again. Once per transition, whatever caused it.
     */
    // Holds the lock (or runs in the constructor).
    private void noteEmptiness(ForwardingSnapshot s) {
        boolean empty = s.isEmpty();
        if (empty && !tableEmpty) {
            LOG.warn("vip {}: no backend can take new connections ({}); new clients are refused until one is up "
                    + "and undrained", config.name(), whyEmpty());
        } else if (!empty && tableEmpty) {
            LOG.info("vip {}: backends can take new connections again ({} of {} in table)", config.name(),
                    s.tableBackends().size(), backends.size());
        }
        tableEmpty = empty;
    }

    // Holds the lock.
    private String whyEmpty() {
        if (backends.isEmpty()) {
            return "the vip has no backends";
        }
        int down = 0;
        int drained = 0;
        int weightZero = 0;
        for (BackendState b : backends.values()) {
            if (!b.healthy()) {
                down++;
            } else if (b.drained()) {
                drained++;
            } else if (b.weight() == 0) {
                weightZero++;
            }
        }
        int n = backends.size();
        if (down == n) {
            return "every backend is down";
        }
        if (drained == n) {
            return "every backend is drained";
        }
        if (weightZero == n) {
            return "every backend has weight 0";
        }
        List<String> parts = new ArrayList<>();
        if (down > 0) {
            parts.add(down + " down");
        }
        if (drained > 0) {
            parts.add(drained + " drained");
        }
        if (weightZero > 0) {
            parts.add(weightZero + " with weight 0");
        }
        return "of " + n + " backends " + String.join(", ", parts);
    }

    // Holds the lock.
    private ForwardingSnapshot build() {
        long start = System.nanoTime();
        generation++;
        ForwardingSnapshot s = ForwardingSnapshot.build(config.name(), generation, config.tableSize(),
                new ArrayList<>(backends.values()));
        long took = System.nanoTime() - start;
        lastBuildNanos = took;
        totalBuildNanos = totalBuildNanos + took;
        recentBuildMax.record(took, TimeUnit.NANOSECONDS);
        rebuilds++;
        return s;
    }

    // Holds the lock.
    private int countMoves(ForwardingSnapshot before, ForwardingSnapshot after) {
        int moved = SlotMoves.count(before, after);
        slotsMoved = slotsMoved + moved;
        return moved;
    }

    private BackendState require(String backendName) {
        BackendState s = backends.get(backendName);
        if (s == null) {
            throw new IllegalArgumentException("vip " + config.name() + " has no backend '" + backendName
                    + "' (backends: " + String.join(", ", backends.keySet()) + ")");
        }
        return s;
    }

    /** The forwarder serving this VIP, once the daemon started it; empty for VIPs it does not forward yet. */
    public Optional<VipForwarder> forwarder() {
        return Optional.ofNullable(forwarder);
    }

    void attach(VipForwarder f) {
        this.forwarder = f;
    }

    void detach() {
        this.forwarder = null;
    }
}
