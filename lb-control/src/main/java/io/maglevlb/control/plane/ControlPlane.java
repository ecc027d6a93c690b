package io.maglevlb.control.plane;

import io.maglevlb.control.admin.AdminServer;
import io.maglevlb.control.admin.AnnounceResult;
import io.maglevlb.control.admin.ControlApi;
import io.maglevlb.control.admin.DrainResult;
import io.maglevlb.control.admin.ExplainView;
import io.maglevlb.control.admin.ReloadResult;
import io.maglevlb.control.admin.StatusView;
import io.maglevlb.control.admin.TableView;
import io.maglevlb.control.announce.Announcer;
import io.maglevlb.control.announce.VipAnnouncement;
import io.maglevlb.control.daemon.DaemonService;
import io.maglevlb.control.daemon.Lineage;
import io.maglevlb.control.daemon.Maglevd;
import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.health.BackendHealth;
import io.maglevlb.control.health.CheckOutcome;
import io.maglevlb.control.health.HealthChecker;
import io.maglevlb.control.health.HealthTarget;
import io.maglevlb.control.health.HealthTransition;
import io.maglevlb.control.health.InitialState;
import io.maglevlb.control.metrics.MaglevMetrics;
import io.maglevlb.control.metrics.MetricNames;
import io.maglevlb.control.reload.ConfigDiff.BackendDiff;
import io.maglevlb.control.reload.ConfigDiff.VipChange;
import io.maglevlb.control.reload.HangupSignal;
import io.maglevlb.control.reload.Reloader;
import io.maglevlb.control.health.ProbeRoute;
import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.DsrConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckTarget;
import io.maglevlb.core.config.HealthCheckType;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.FlowPlacement;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.VipStats;
import io.maglevlb.dataplane.packet.DsrHealthRoutes;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * maglevd's control plane, plugged into the daemon as one {@link DaemonService}: health checks that drive
 * each VIP's table, the metrics registry, the admin API, configuration reloads (SIGHUP and
 * {@code POST /reload}), drains and the announce switch.
 *
 * <p><b>One control thread.</b> Everything that changes the daemon runs on one thread, {@code maglev-control}:
 * health transitions, drains, reloads, and the periodic clean-up of forwarders a reload retired. They are
 * therefore serialised: a transition of a backend that a reload just removed finds its watch replaced and
 * is dropped. Table rebuilds run there too, never on a forwarding loop, and reach the loops by one volatile
 * store per VIP. Admin requests arrive on admin worker threads and wait for the control thread's answer;
 * read-only ones (status, table, metrics) read published state without it.
 *
 * <p><b>Health.</b> Every backend of every VIP is watched by the {@link HealthChecker} from start, starting
 * provisionally up (as the daemon's tables do). A reload keeps a backend's health state when it stays,
 * also when its address or the VIP's check changes (the watch is re-created with the state carried over).
 * The control thread also samples the UDP forwarders' per-backend ICMP unreachable counts (the passive
 * signal, every {@link #PASSIVE_SAMPLE_MS}) and reports a rise to the checker, which decides.
 *
 * <p><b>Announcements.</b> With {@code announce} configured, every change that can alter whether a VIP
 * qualifies for its route (a health transition, a drain, a reload, the operator's switch) is followed on the
 * control thread by {@link Maglevd#updateAnnouncements()}, and so is the once-a-second clean-up tick.
 */
public final class ControlPlane implements DaemonService, ControlApi, Reloader.Listener {
    private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);
    /** How long an admin request waits for the control thread (a reload of a large file included). */
    static final long CONTROL_CALL_TIMEOUT_SECONDS = 60;
    /**
     * How often the control thread reads the UDP forwarders' per-backend ICMP unreachable counts (the passive
     * health signal). A read is a few plain loads per backend and loop; 200 ms adds at most that much to the
     * time a dead UDP backend keeps receiving new flows, next to the confirming check's own duration.
     */
    static final long PASSIVE_SAMPLE_MS = 200;

    private final Path configFile;
    // null: admin.listen of the file. Else where the address came from (--admin, MAGLEVD_ADMIN), for messages.
    private final InetSocketAddress adminListen;
    private final String adminListenSource;
    private final Instant startedAt = Instant.now();
    private volatile Maglevd daemon;
    private ScheduledExecutorService control;
    private MaglevMetrics metrics;
    private HealthChecker health;
    private AdminServer admin;
    private Reloader reloader;
    // Control thread only.
    private final Map<String, VipMeters> meters = new HashMap<>();
    private Map<String, UnreachableSample> unreachableSamples = new HashMap<>();
    /** "vip/backend" -> its DSR probe path, while it is probed at the VIP. */
    private final Map<String, DsrHealthRoutes.Path> probePaths = new HashMap<>();
    private DsrHealthRoutes dsrHealthRoutes;
    private volatile String lastReload;
    /** Takeover: the admin API's listening socket the predecessor handed over (-1: bind admin.listen). */
    private int inheritedAdminFd = -1;
    /** Starts the successor process ({@code POST /upgrade}); null while this process cannot be taken over. */
    private volatile java.util.function.LongSupplier upgrader;

    /** @param configFile the file reloads read: the one the daemon was started with */
    public ControlPlane(Path configFile) {
        this(configFile, null, null);
    }

    /**
     * @param configFile the file reloads read: the one the daemon was started with
     * @param adminListen where the admin API listens instead of the file's {@code admin.listen} (null: there);
     *     reloads keep it (changing {@code admin} needs a restart anyway)
     * @param adminListenSource what set {@code adminListen}, e.g. {@code --admin}, named when it cannot be bound
     */
    public ControlPlane(Path configFile, InetSocketAddress adminListen, String adminListenSource) {
        this.configFile = Objects.requireNonNull(configFile, "configFile");
        this.adminListen = adminListen;
        this.adminListenSource = adminListen == null ? null : Objects.requireNonNull(adminListenSource);
    }

    @Override
    public String name() {
        return "control plane";
    }

    @Override
    public void start(Maglevd d) throws Exception {
        this.daemon = d;
        control = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "maglev-control");
            t.setDaemon(true);
            return t;
        });
        metrics = new MaglevMetrics();
        health = new HealthChecker(this::onTransition, control);
        reloader = new Reloader(configFile, d, this);
        try {
            onControl(() -> {
                if (needsDsrHealthRoutes(d.config())) {
                    dsrHealthRoutes(); // a conflict with someone else's rules refuses the start
                }
                for (VipRuntime vip : d.vips()) {
                    vipAdded(vip);
                }
                return null;
            });
            MaglevConfig config = d.config();
            if (inheritedAdminFd >= 0) {
                int fd = inheritedAdminFd;
                inheritedAdminFd = -1; // the server owns it now, also if it fails
                admin = AdminServer.adopt(fd, adminListen(), config.admin().tokenFile(), this, metrics::scrape);
            } else {
                admin = adminListen == null
                    ? AdminServer.start(config.admin().listen(), config.admin().tokenFile(), this, metrics::scrape)
                    : AdminServer.start(adminListen, adminListenSource, config.admin().tokenFile(), this,
                            metrics::scrape);
            }
            admin.registerMeters(metrics.registry());
            registerProcessInfo(d.lineage());
        } catch (Exception e) {
            stop();
            throw e;
        }
        HangupSignal.install(control, this::reloadOnSignal);
        control.scheduleWithFixedDelay(this::everySecond, 1, 1, TimeUnit.SECONDS);
        control.scheduleWithFixedDelay(this::samplePassiveSignal, PASSIVE_SAMPLE_MS, PASSIVE_SAMPLE_MS,
                TimeUnit.MILLISECONDS);
    }

    @Override
    public void stop() {
        if (admin != null) {
            admin.close();
        }
        if (health != null) {
            health.close();
        }
        if (dsrHealthRoutes != null) {
            dsrHealthRoutes.close(); // after the checks stopped: rules and routes go, with the tunnel device
        }
        if (control != null) {
            control.shutdownNow();
            try {
                control.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (metrics != null) {
            metrics.close();
        }
    }

    /** Where the admin API listens: {@code --admin} (or its environment variable) when given, else admin.listen. */
    public InetSocketAddress adminListen() {
        return adminListen != null ? adminListen : daemon.config().admin().listen();
    }

    /**
     * Takeover: serve the admin API on {@code fd}, the listening socket the predecessor handed over, instead of
     * binding. Before {@link #start}; the control plane owns {@code fd} from then on.
     */
    public void adoptAdminListener(int fd) {
        this.inheritedAdminFd = fd;
    }

    /** The admin API's listening socket, for a takeover; -1 when it cannot be handed over (NIO). */
    public int adminListeningFd() {
        return admin == null ? -1 : admin.listeningFd();
    }

    /** What {@code POST /upgrade} runs: starts the successor, returns its pid. Null: upgrades are refused. */
    public void upgrader(java.util.function.LongSupplier value) {
        this.upgrader = value;
    }

    @Override
    public long upgrade() {
        java.util.function.LongSupplier u = upgrader;
        if (u == null) {
            throw new IllegalStateException("this maglevd does not listen on upgrade_socket ("
                    + daemon.config().upgradeSocket() + "; its start log says why), so nothing can take over");
        }
        return u.getAsLong();
    }

    /** Takeover, old process: the successor serves the admin API now. */
    @Override
    public void releaseAfterHandover() {
        if (admin != null) {
            admin.releaseListener();
        }
    }

    /** {@code maglev_process_info{generation,parent_pid}}: 1; where this process stands in a chain of takeovers. */
    private void registerProcessInfo(Lineage lineage) {
        io.micrometer.core.instrument.Gauge.builder(MetricNames.PROCESS_INFO, () -> 1)
                .description("1, labelled with this process's takeover generation and the pid it took over from")
                .tag(MetricNames.GENERATION, Long.toString(lineage.generation()))
                .tag(MetricNames.PARENT_PID, lineage.parentPid().isPresent()
                        ? Long.toString(lineage.parentPid().getAsLong()) : "")
                .register(metrics.registry());
    }

    /** The admin API's bound address (its port when configured as 0). */
    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    public MaglevMetrics metrics() {
        return metrics;
    }

    public HealthChecker healthChecker() {
        return health;
    }

    // ---- health ----

    /** On the control thread. */
    private void onTransition(HealthTransition t) {
        Optional<BackendHealth> current = health.health(t.vip(), t.backend());
        if (current.isEmpty() || current.get() != t.source()) {
            log.debug("dropping a transition of a replaced watch: {}/{}", t.vip(), t.backend());
            return;
        }
        daemon.vip(t.vip()).ifPresent(vip -> {
            if (vip.backend(t.backend()).isPresent() && vip.setHealthy(t.backend(), t.up(), t.reason())) {
                updateAnnouncements();
            }
        });
    }

    /** A backend's ICMP unreachable count at the last sample, with what it was read from. */
    private record UnreachableSample(VipForwarder forwarder, int backendId, long count) {}

    /**
     * The passive health signal, on the control thread every {@link #PASSIVE_SAMPLE_MS}: reads each backend's
     * ICMP unreachable count from its forwarder ({@link VipForwarder#backendUnreachable}: UDP forwarders count
     * them, the others answer -1 and are skipped) and reports a rise to the health checker, which
     * decides what it means ({@link HealthChecker#suspect}). The first sample of a backend, and one after its
     * forwarder or backend id changed (a reload), only sets the baseline; so does a count that went down (the
     * id was given to another backend and its counters restarted). The control plane reads counters here; it
     * never touches a packet.
     */
    private void samplePassiveSignal() {
        try {
            Map<String, UnreachableSample> next = new HashMap<>();
            for (VipRuntime vip : daemon.vips()) {
                VipForwarder forwarder = vip.forwarder().orElse(null);
                if (forwarder == null) {
                    continue;
                }
                for (BackendState b : vip.backends()) {
                    long count = forwarder.backendUnreachable(b.id());
                    if (count < 0) {
                        break; // this kind of forwarder does not see them
                    }
                    String key = vip.name() + "/" + b.name();
                    UnreachableSample last = unreachableSamples.get(key);
                    next.put(key, new UnreachableSample(forwarder, b.id(), count));
                    if (last != null && last.forwarder() == forwarder && last.backendId() == b.id()
                            && count > last.count() && b.healthy()) {
                        long rise = count - last.count();
                        health.suspect(vip.name(), b.name(), rise + " ICMP unreachable error" + (rise == 1 ? "" : "s")
                                + " from the dataplane");
                    }
                }
            }
            unreachableSamples = next;
        } catch (RuntimeException e) {
            log.warn("sampling the passive health signal failed: {}", e.toString());
        }
    }

    /** On the control thread. */
    private void updateAnnouncements() {
        try {
            daemon.updateAnnouncements();
        } catch (RuntimeException e) {
            log.error("updating the announced routes failed", e);
        }
    }

    private void watch(VipRuntime vip, BackendState backend, InitialState initial) {
        HealthCheckConfig check = vip.config().healthCheck();
        ProbeRoute route = null;
        DsrHealthRoutes.Path path = null;
        HealthCheckTarget target = vip.config().backends().stream().filter(b -> b.name().equals(backend.name()))
                .findFirst().map(b -> b.healthTarget(check)).orElse(check.target());
        if (target == HealthCheckTarget.VIP && vip.config().mode() == ForwardingMode.DSR
                && check.type() != HealthCheckType.NONE && vip.config().dsr().isPresent()) {
            DsrConfig dsr = vip.config().dsr().get();
            InetSocketAddress destination = vip.config().listen();
            String backendIp = backend.address().getAddress().getHostAddress();
            try {
                path = dsrHealthRoutes().acquire(destination.getAddress(), backend.address().getAddress(),
                        dsr.method(), dsr.interfaceName(), dsr.guePort(), Optional.empty());
                route = new ProbeRoute(destination, backendIp, path.mark(),
                        "VIP " + NetUtil.toSocketAddressString(destination) + " " + path.description(), path.hint(),
                        null);
            } catch (IOException | RuntimeException e) {
                log.error("vip {}: backend {} cannot be probed at the VIP: {}", vip.name(), backend.name(),
                        e.getMessage());
                route = ProbeRoute.broken(destination, backendIp, String.valueOf(e.getMessage()));
            }
        }
        BackendHealth h = health.watch(new HealthTarget(vip.name(), backend.name(), backend.address(), check, route),
                initial);
        releasePath(vip.name(), backend.name());
        if (path != null) {
            probePaths.put(vip.name() + "/" + backend.name(), path);
        }
        if (h.isUp() != backend.healthy() && check.type() == HealthCheckType.NONE) {
            vip.setHealthy(backend.name(), true, "health check type none");
        }
    }

    private void unwatch(String vipName, String backendName) {
        health.unwatch(vipName, backendName);
        releasePath(vipName, backendName);
    }

    private void releasePath(String vipName, String backendName) {
        DsrHealthRoutes.Path old = probePaths.remove(vipName + "/" + backendName);
        if (old != null) {
            dsrHealthRoutes.release(old);
        }
    }

    /** Opened at the first DSR check at a VIP (at start, so that a conflict refuses the start). */
    private DsrHealthRoutes dsrHealthRoutes() throws IOException {
        if (dsrHealthRoutes == null) {
            try {
                dsrHealthRoutes = DsrHealthRoutes.open(daemon.config().dsrHealth());
            } catch (IOException e) {
                throw new IOException("DSR health checks at the VIP need policy rules and routes (CAP_NET_ADMIN): "
                        + e.getMessage() + "; or set health_check.target: backend", e);
            }
        }
        return dsrHealthRoutes;
    }

    private static boolean needsDsrHealthRoutes(MaglevConfig config) {
        return config.vips().stream().anyMatch(v -> v.mode() == ForwardingMode.DSR
                && v.healthCheck().type() != HealthCheckType.NONE
                && v.backends().stream().anyMatch(b -> b.healthTarget(v.healthCheck()) == HealthCheckTarget.VIP));
    }

    // ---- reload listener (control thread) ----

    @Override
    public void vipAdded(VipRuntime vip) {
        for (BackendState b : vip.backends()) {
            watch(vip, b, InitialState.PROVISIONALLY_UP);
        }
        // Close the old meters first: Micrometer hands back an existing meter of the same name and tags, which
        // closing the old group afterwards would remove from under the new one.
        VipMeters old = meters.remove(vip.name());
        if (old != null) {
            old.close();
        }
        meters.put(vip.name(), new VipMeters(metrics, vip, health, daemon.announcer().orElse(null)));
    }

    @Override
    public void vipRemoved(String vipName) {
        health.unwatchVip(vipName);
        for (String key : new ArrayList<>(probePaths.keySet())) {
            if (key.startsWith(vipName + "/")) {
                releasePath(vipName, key.substring(vipName.length() + 1));
            }
        }
        VipMeters m = meters.remove(vipName);
        if (m != null) {
            m.close();
        }
    }

    @Override
    public void vipChanged(VipRuntime vip, VipChange change, boolean rebound) {
        BackendDiff backends = change.backends();
        VipMeters m = meters.get(vip.name());
        for (BackendConfig removed : backends.removed()) {
            unwatch(vip.name(), removed.name());
            if (m != null) {
                m.removeBackend(removed.name());
            }
        }
        for (BackendConfig added : backends.added()) {
            vip.backend(added.name()).ifPresent(b -> watch(vip, b, InitialState.PROVISIONALLY_UP));
            if (m != null && !rebound) {
                m.addBackend(added.name());
            }
        }
        for (BackendDiff.Kept kept : backends.kept()) {
            if (change.healthCheckChanged() || kept.addressChanged() || rebound || change.listenerChanged()
                    || !kept.before().healthTarget().equals(kept.after().healthTarget())) {
                vip.backend(kept.after().name()).ifPresent(b ->
                        watch(vip, b, b.healthy() ? InitialState.UP : InitialState.DOWN));
            }
        }
        if (rebound || m == null) {
            // A new forwarder counts from zero: register the VIP's meters again.
            if (m != null) {
                m.close();
            }
            meters.put(vip.name(), new VipMeters(metrics, vip, health, daemon.announcer().orElse(null)));
        }
    }

    private void everySecond() {
        try {
            daemon.reapRetired();
        } catch (RuntimeException e) {
            log.warn("cleaning up retired forwarders failed: {}", e.toString());
        }
        updateAnnouncements(); // retries a route that could not be added
    }

    private void reloadOnSignal() {
        reloadHere();
    }

    /** On the control thread. */
    private ReloadResult reloadHere() {
        ReloadResult result;
        try {
            result = reloader.reload();
        } catch (RuntimeException e) {
            log.error("reload failed", e);
            result = ReloadResult.failed(List.of("internal error: " + e));
        }
        metrics.countReload(result.ok());
        lastReload = Instant.now() + (result.ok() ? " ok" : " error");
        updateAnnouncements();
        return result;
    }

    // ---- ControlApi ----

    @Override
    public ReloadResult reload() {
        return onControl(this::reloadHere);
    }

    @Override
    public DrainResult drain(String vip, String backend) {
        return onControl(() -> setDrained(vip, backend, true));
    }

    @Override
    public DrainResult undrain(String vip, String backend) {
        return onControl(() -> setDrained(vip, backend, false));
    }

    private DrainResult setDrained(String vipName, String backend, boolean drained) {
        Optional<VipRuntime> vip = daemon.vip(vipName);
        if (vip.isEmpty()) {
            return DrainResult.unknownVip(vipName, backend);
        }
        if (vip.get().backend(backend).isEmpty()) {
            return DrainResult.unknownBackend(vipName, backend);
        }
        boolean changed = vip.get().setDrained(backend, drained);
        if (changed) {
            updateAnnouncements();
        }
        return DrainResult.done(vipName, backend, drained, changed);
    }

    @Override
    public AnnounceResult withdraw(String vip) {
        return onControl(() -> announceSwitch(vip, true));
    }

    @Override
    public AnnounceResult announce(String vip) {
        return onControl(() -> announceSwitch(vip, false));
    }

    /** On the control thread: flips the switch, brings the routes in line, reports the VIPs concerned. */
    private AnnounceResult announceSwitch(String vipName, boolean withdraw) {
        Optional<Announcer> announcer = daemon.announcer();
        if (announcer.isEmpty()) {
            return new AnnounceResult(AnnounceResult.Outcome.NOT_CONFIGURED, vipName, withdraw, List.of());
        }
        Optional<String> vip = Optional.ofNullable(vipName);
        boolean known = withdraw ? announcer.get().withdraw(vip) : announcer.get().announce(vip);
        if (!known) {
            return new AnnounceResult(AnnounceResult.Outcome.UNKNOWN_VIP, vipName, withdraw, List.of());
        }
        log.info("announce: {} {} by the operator", vip.map(v -> "vip " + v).orElse("every vip"),
                withdraw ? "withdrawn" : "announced again");
        daemon.updateAnnouncements();
        List<AnnounceResult.Vip> vips = new ArrayList<>();
        for (VipAnnouncement a : announcer.get().status().values()) {
            if (vipName == null || vipName.equals(a.vip())) {
                vips.add(new AnnounceResult.Vip(a.vip(), view(a)));
            }
        }
        vips.sort(Comparator.comparing(AnnounceResult.Vip::name));
        return new AnnounceResult(AnnounceResult.Outcome.DONE, vipName, withdraw, vips);
    }

    private static StatusView.Announcement view(VipAnnouncement a) {
        return new StatusView.Announcement(a.address(), a.announced(), a.operatorWithdrawn(), a.reason());
    }

    @Override
    public StatusView status() {
        List<StatusView.Vip> vips = new ArrayList<>();
        Map<String, VipAnnouncement> announced = daemon.announcer().map(Announcer::status).orElse(null);
        for (VipRuntime vip : daemon.vips()) {
            ForwardingSnapshot snap = vip.snapshot();
            ActiveFlows active = ActiveFlows.of(vip);
            List<StatusView.Backend> backends = new ArrayList<>();
            for (BackendState b : vip.backends()) {
                Optional<BackendHealth> h = health.health(vip.name(), b.name());
                String lastCheck = h.flatMap(BackendHealth::lastOutcome).map(ControlPlane::describe).orElse(null);
                backends.add(new StatusView.Backend(b.name(), address(b.address()), b.weight(), b.healthy(),
                        b.drained(), snap.slotCount(b.id()),
                        h.map(BackendHealth::lastTransitionReason).orElse("not checked"), lastCheck,
                        active.ofBackend().apply(b.id()),
                        h.map(x -> x.target().describeTarget()).orElse(null)));
            }
            InetSocketAddress listen = vip.forwarder().map(VipForwarder::localAddress).orElse(vip.config().listen());
            vips.add(new StatusView.Vip(vip.name(), address(listen), vip.config().protocol().configName(),
                    vip.config().mode().configName(), snap.generation(), snap.digest(), snap.tableSize(),
                    snap.tableBackends().size(), active.ofVip(), backends, announced == null ? null
                            : Optional.ofNullable(announced.get(vip.name())).map(ControlPlane::view)
                                    .orElse(new StatusView.Announcement(null, false, false, "not updated yet"))));
        }
        String version = Maglevd.class.getPackage().getImplementationVersion();
        Lineage lineage = daemon.lineage();
        return new StatusView(version == null ? "development" : version, ProcessHandle.current().pid(),
                startedAt.toString(), configFile.toString(), lastReload, vips, lineage.generation(),
                lineage.parentPid().isPresent() ? lineage.parentPid().getAsLong() : null,
                lineage.startedAt().toString());
    }

    /**
     * Open TCP connections or UDP flows of a VIP, read once per status request from its forwarder's counters.
     *
     * @param ofVip the VIP's total, null without a forwarder
     * @param ofBackend by backend id; null where the forwarder does not count per backend
     */
    private record ActiveFlows(Long ofVip, IntFunction<Long> ofBackend) {
        static ActiveFlows of(VipRuntime vip) {
            Optional<VipStats> stats = vip.forwarder().map(VipForwarder::stats);
            if (stats.isEmpty()) {
                return new ActiveFlows(null, id -> null);
            }
            VipStats s = stats.get();
            return new ActiveFlows(s.active(), id -> {
                long a = s.active(id);
                return a < 0 ? null : a;
            });
        }
    }

    @Override
    public Optional<TableView> table(String vipName) {
        return daemon.vip(vipName).map(vip -> {
            ForwardingSnapshot s = vip.snapshot();
            List<TableView.Backend> backends = s.tableBackends().stream()
                    .map(b -> new TableView.Backend(b.id(), b.name(), s.slotCount(b.id()))).toList();
            return new TableView(vip.name(), s.generation(), s.digest(), s.tableSize(), backends, s.table());
        });
    }

    /**
     * The live table's choice for the flow and the forwarder's tracking of it. Runs on the admin worker: the
     * snapshot is one volatile read, and the forwarder asks each forwarding thread with a task on it.
     */
    @Override
    public Optional<ExplainView> explain(String vipName, InetSocketAddress client) {
        return daemon.vip(vipName).map(vip -> {
            VipConfig config = vip.config();
            ForwardingSnapshot s = vip.snapshot();
            Optional<VipForwarder> forwarder = vip.forwarder();
            InetSocketAddress destination = forwarder.map(VipForwarder::localAddress).orElse(config.listen());
            FlowPlacement placement = FlowPlacement.of(s, config.hash(), config.protocol(), client, destination);
            ExplainView.Tracking tracking = forwarder.map(f -> tracking(f.trackedBackend(client), s, placement,
                    config.protocol() == Protocol.TCP && config.mode() == ForwardingMode.PROXY)).orElse(null);
            return ExplainView.of(config, placement, client, destination, tracking);
        });
    }

    /** What {@code trackedId} (the forwarder's answer) means against the snapshot {@code s}. */
    private static ExplainView.Tracking tracking(int trackedId, ForwardingSnapshot s, FlowPlacement placement,
            boolean connection) {
        if (trackedId == ForwardingSnapshot.NO_BACKEND) {
            return ExplainView.Tracking.NONE;
        }
        BackendState b = s.backend(trackedId);
        String name = b == null ? "backend id " + trackedId + " (no longer in the VIP)" : b.name();
        String address = b == null ? null : address(b.address());
        // An open proxied connection is tied to its backend socket; a tracked UDP/DSR flow stays while its backend
        // keeps flows, and is placed by the table on its next packet otherwise.
        boolean stays = connection || s.keepsFlows(trackedId);
        boolean differs = placement.backend() == null || placement.backend().id() != trackedId;
        return new ExplainView.Tracking(true, name, address, stays, differs);
    }

    private static String describe(CheckOutcome o) {
        return o.result().label() + ": " + o.detail() + " (" + TimeUnit.NANOSECONDS.toMillis(o.durationNs()) + " ms)";
    }

    private static String address(InetSocketAddress a) {
        return NetUtil.toSocketAddressString(a);
    }

    /** Runs {@code work} on the control thread and waits for it. */
    private <T> T onControl(Callable<T> work) {
        try {
            return control.submit(work).get(CONTROL_CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the control thread", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(cause);
        } catch (TimeoutException e) {
            throw new IllegalStateException("the control thread did not answer within "
                    + CONTROL_CALL_TIMEOUT_SECONDS + " s", e);
        }
    }
}
