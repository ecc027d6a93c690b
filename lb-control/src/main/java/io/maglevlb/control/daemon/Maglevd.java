package io.maglevlb.control.daemon;

import io.maglevlb.control.announce.AnnounceCandidate;
import io.maglevlb.control.announce.AnnounceException;
import io.maglevlb.control.announce.Announcer;
import io.maglevlb.core.config.AnnounceConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.packet.DsrEngine;
import io.maglevlb.dataplane.packet.DsrVip;
import io.maglevlb.dataplane.packet.PacketEngineException;
import io.maglevlb.dataplane.tcp.TcpProxyVip;
import io.maglevlb.dataplane.udp.UdpForwarder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running daemon: the forwarding event loops, one {@link VipRuntime} per configured VIP, the forwarders
 * of the VIPs it serves, and the {@link DaemonService}s (health checks, admin API, metrics) plugged into it.
 *
 * <p>Lifecycle: construct (builds every VIP's first table, all backends healthy), {@link #addService} the
 * services, {@link #start()} (creates the announce device when {@code announce} is configured, binds every
 * forwarded VIP, then starts the services and announces; on any failure undoes what it did and throws),
 * {@link #shutdown(Duration)} (withdraw the announced routes and keep forwarding for
 * {@code announce.withdraw_grace}, then stop accepting, let open connections finish until the deadline, close
 * the rest, stop the services and the event loops).
 *
 * <p>Forwarded: {@code tcp}/{@code proxy} VIPs (the TCP proxy), {@code udp}/{@code proxy} VIPs (the UDP
 * forwarder) and {@code dsr} VIPs (the packet engine, {@link DsrVip}).
 *
 * <p>Reloads change the running daemon through {@link #addVip}, {@link #removeVip} and {@link #rebindVip} (and
 * {@link VipRuntime#applyConfig} for VIPs whose forwarder carries on); forwarders they take out of service
 * stop accepting and are kept until their connections end ({@link #reapRetired}).
 *
 * <p>Threading: start and shutdown are called by the control thread (e.g. the CLI's main thread or the
 * shutdown hook); reload primitives by the control plane's thread; the accessors are safe from any thread.
 */
public final class Maglevd {
    private static final Logger LOG = LoggerFactory.getLogger(Maglevd.class);
    /** Prefix of the forwarding threads' names. */
    public static final String WORKER_THREAD_PREFIX = "maglev-worker";

    private enum State { NEW, STARTING, RUNNING, STOPPED }

    private volatile MaglevConfig config;
    private final DaemonOptions options;
    // Copy-on-write: changed only by start and reloads (control thread), read from anywhere.
    private final List<VipRuntime> vips;
    private final List<DaemonService> services = new CopyOnWriteArrayList<>();
    private final List<DaemonService> startedServices = new ArrayList<>();
    private final List<VipForwarder> forwarders = new CopyOnWriteArrayList<>();
    // Forwarders a reload took out of service (VIP removed or re-bound): no longer accepting, their open
    // connections finish; dropped once empty (reapRetired), closed at shutdown.
    private final List<VipForwarder> retired = new CopyOnWriteArrayList<>();
    private volatile MultiThreadIoEventLoopGroup workers;
    private volatile boolean stopWaiting;
    // Created by start() when announce is configured, closed at the end of shutdown (or when start fails).
    private volatile Announcer announcer;
    private State state = State.NEW;
    private volatile Lineage lineage = Lineage.first();
    /** Set once a successor process serves in this one's place (takeover): shutdown then only drains. */
    private volatile boolean handedOver;

    public Maglevd(MaglevConfig config, DaemonOptions options) {
        this.config = Objects.requireNonNull(config, "config");
        this.options = Objects.requireNonNull(options, "options");
        List<VipRuntime> runtimes = new ArrayList<>();
        for (VipConfig vip : config.vips()) {
            runtimes.add(new VipRuntime(vip));
        }
        this.vips = new CopyOnWriteArrayList<>(runtimes);
    }

    /** Adds a service to start with the daemon. Before {@link #start()} only. */
    public synchronized void addService(DaemonService service) {
        if (state != State.NEW) {
            throw new IllegalStateException("services must be added before start(), the daemon is " + state);
        }
        services.add(Objects.requireNonNull(service, "service"));
    }

    /**
     * Starts the event loops, binds every forwarded VIP, then starts the services.
     *
     * @throws DaemonStartException with a one-line reason (e.g. a VIP's address is in use); everything
     *     started so far is stopped again
     */
    public synchronized void start() throws DaemonStartException {
        start(InheritedSockets.NONE);
    }

    /**
     * As {@link #start()}, taking over the sockets a predecessor process handed over ({@code run --takeover}): a
     * VIP the predecessor serves on the same protocol and address starts on its sockets; any other VIP binds its
     * own.
     *
     * @throws DaemonStartException also when a VIP cannot use what was handed over for its address
     */
    public synchronized void start(InheritedSockets inherited) throws DaemonStartException {
        if (state != State.NEW) {
            throw new IllegalStateException("start() may be called once, the daemon is " + state);
        }
        state = State.STARTING;
        if (inherited == InheritedSockets.NONE) {
            // Not at a takeover: the predecessor is alive then, and its filters are its own.
            removeStaleIngressFilters();
        }
        openAnnouncer();
        Transport transport = options.transport();
        int workerCount = config.effectiveWorkers();
        workers = transport.newEventLoopGroup(workerCount, WORKER_THREAD_PREFIX);
        List<VipForwarder> adopted = new ArrayList<>();
        try {
            for (VipRuntime vip : vips) {
                Optional<VipForwarder> forwarder = forwarderFor(vip.config());
                if (forwarder.isEmpty()) {
                    continue;
                }
                VipForwarder f = forwarder.get();
                Optional<List<HandoverSection>> handed = inherited.take(vip.config());
                if (handed.isPresent()) {
                    if (!f.startFromHandover(handed.get())) {
                        throw new DaemonStartException("vip " + vip.name() + ": cannot serve the sockets the running "
                                + "maglevd handed over for " + listenKey(vip.name()) + " (" + handed.get() + ")", null);
                    }
                    forwarders.add(f);
                    adopted.add(f);
                    vip.attach(f);
                    LOG.info("vip {}: took over the running maglevd's sockets: {}", vip.name(), f.describe());
                    continue;
                }
                f.start();
                forwarders.add(f);
                vip.attach(f);
                LOG.info("vip {}: {}", vip.name(), f.describe());
            }
            for (DaemonService service : services) {
                try {
                    service.start(this);
                } catch (Exception e) {
                    throw new DaemonStartException("cannot start " + service.name() + ": " + e.getMessage(), e);
                }
                startedServices.add(service);
            }
            List<String> notAnnounced = updateAnnouncements();
            if (!notAnnounced.isEmpty()) {
                throw new DaemonStartException("announce: " + String.join("; ", notAnnounced), null);
            }
            if (!adopted.isEmpty()) {
                // Everything else started: only now take connections and datagrams from the handed-over sockets,
                // so a start that failed before this point has taken nothing from the running process.
                for (VipForwarder f : adopted) {
                    f.serveHandedOver();
                }
                LOG.info("takeover: accepting and reading on the handed-over sockets of {} VIP{}", adopted.size(),
                        adopted.size() == 1 ? "" : "s");
            }
        } catch (VipBindException e) {
            abortStart();
            throw new DaemonStartException(e.describe(listenKey(e.vip())), e);
        } catch (DaemonStartException | RuntimeException e) {
            abortStart();
            throw e;
        }
        state = State.RUNNING;
        LOG.info("maglevd running: {} of {} VIPs forwarding, {} workers ({})", forwarders.size(), vips.size(),
                workerCount, transport.name());
    }

    /** Where this process stands in a chain of takeovers. Set before {@link #start} by a takeover. */
    public void lineage(Lineage value) {
        this.lineage = Objects.requireNonNull(value, "value");
    }

    public Lineage lineage() {
        return lineage;
    }

    /**
     * Takeover, old process: every forwarded VIP with what its forwarder hands over (see
     * {@link VipForwarder#handOverSections()}). Control thread; the daemon must be running.
     */
    public synchronized List<Map.Entry<VipConfig, List<HandoverSection>>> handOverInventory() {
        requireRunning();
        List<Map.Entry<VipConfig, List<HandoverSection>>> out = new ArrayList<>();
        for (VipRuntime vip : vips) {
            Optional<VipForwarder> f = vip.forwarder();
            if (f.isPresent()) {
                out.add(Map.entry(vip.config(), f.get().handOverSections()));
            }
        }
        return out;
    }

    /**
     * Takeover, old process, once the successor serves: every forwarder stops accepting and reading on the sockets
     * it shares with the successor (open connections and tracked flows go on), and the services let go of theirs
     * (the admin API's listener). A {@link #shutdown} after this drains only. Control thread.
     */
    public synchronized void releaseAfterHandover() {
        requireRunning();
        handedOver = true;
        for (VipForwarder f : forwarders) {
            f.releaseAfterHandover();
        }
        for (DaemonService service : startedServices) {
            try {
                service.releaseAfterHandover();
            } catch (RuntimeException e) {
                LOG.warn("{}: letting go of its sockets after the takeover failed: {}", service.name(), e.toString());
            }
        }
        int open = activeConnections();
        LOG.info("takeover: stopped accepting on every VIP; {} open connection{} and flow{} finish here", open,
                open == 1 ? "" : "s", open == 1 ? "" : "s");
    }

    /**
     * Takeover, new process: the predecessor acknowledged that it let go of the sockets (or is gone); forwarders
     * that cannot read beside it (DSR: one packet ring has one reader) start now. Control thread.
     */
    public synchronized void predecessorReleased() {
        for (VipForwarder f : forwarders) {
            try {
                f.predecessorReleased();
            } catch (RuntimeException e) {
                LOG.error("vip {}: cannot start forwarding after the takeover: {}", f.name(), e.toString());
            }
        }
    }

    /** Whether a successor process serves in this one's place. */
    public boolean handedOver() {
        return handedOver;
    }

    /** The configuration key of a VIP's listen address, e.g. {@code vips[0].listen}, for messages. */
    private String listenKey(String vip) {
        for (int i = 0; i < config.vips().size(); i++) {
            if (config.vips().get(i).name().equals(vip)) {
                return "vips[" + i + "].listen";
            }
        }
        return "listen of vip " + vip;
    }

    /** Creates the announce device and checks the table before anything is bound: a clear error early. */
    private void openAnnouncer() throws DaemonStartException {
        Optional<AnnounceConfig> announce = config.announce();
        if (announce.isEmpty()) {
            return;
        }
        List<InetAddress> addresses = vips.stream().map(v -> v.config().listen().getAddress()).toList();
        try {
            announcer = Announcer.open(announce.get(), addresses);
        } catch (AnnounceException e) {
            state = State.STOPPED;
            throw new DaemonStartException(e.getMessage(), e);
        }
    }

    /**
     * Brings the announced routes in line with the VIPs' state (forwarded, a backend up, the operator's switch).
     * Called after every change that can affect them (health, drain, reload, the switch) and periodically by
     * the control plane. No-op without {@code announce}. Any control thread.
     *
     * @return why routes that should be in the table are not, one line each (the start fails on any)
     */
    public List<String> updateAnnouncements() {
        Announcer a = announcer;
        if (a == null) {
            return List.of();
        }
        List<AnnounceCandidate> candidates = new ArrayList<>();
        for (VipRuntime vip : vips) {
            candidates.add(new AnnounceCandidate(vip.name(), vip.config().listen().getAddress(),
                    vip.forwarder().isPresent(), !vip.snapshot().isEmpty()));
        }
        return a.update(candidates);
    }

    /** The announcer, when {@code announce} is configured, from {@link #start()} on. */
    public Optional<Announcer> announcer() {
        return Optional.ofNullable(announcer);
    }

    /** A killed predecessor's DSR ingress filters would go on ending packets of VIPs nobody forwards now. */
    private static void removeStaleIngressFilters() {
        try {
            DsrEngine.removeStaleIngressFilters();
        } catch (PacketEngineException | RuntimeException e) {
            LOG.warn("could not check for ingress drop filters left by a previous maglevd: {}", e.getMessage());
        }
    }

    private Optional<VipForwarder> forwarderFor(VipConfig vip) {
        return newForwarder(vip, vip(vip.name()).orElseThrow());
    }

    private Optional<VipForwarder> newForwarder(VipConfig vip, VipRuntime runtime) {
        if (vip.mode() == ForwardingMode.DSR) {
            // the packet engine: AF_PACKET threads of its own, fed from the same snapshot holder
            return Optional.of(new DsrVip(vip, runtime.snapshots(), config.flowTable(), config.effectiveWorkers()));
        }
        if (vip.protocol() == Protocol.UDP) {
            return Optional.of(new UdpForwarder(vip, runtime.snapshots(), workers, options.transport(),
                    config.flowTable(), options.udp()));
        }
        return Optional.of(new TcpProxyVip(vip, runtime.snapshots(), workers, options.transport(), options.tcp()));
    }

    private void abortStart() {
        stopServices();
        for (VipForwarder f : forwarders) {
            f.stopAccepting();
            f.closeConnections();
        }
        forwarders.clear();
        stopWorkers();
        closeAnnouncer();
        state = State.STOPPED;
    }

    private void closeAnnouncer() {
        Announcer a = announcer;
        if (a != null) {
            a.close();
            LOG.info("announce: device {} removed", a.deviceName());
        }
    }

    /**
     * Stops the daemon: withdraws the announced routes and forwards on for {@code announce.withdraw_grace} (with
     * {@code announce}), stops accepting without resetting anyone ({@link VipForwarder#drainListeners}: what waits in
     * the accept queues is accepted and served), lets open connections finish for up to {@code drainTimeout},
     * closes what is still open, then stops the services and the event loops, and removes the announce device. Idempotent; returns at once
     * when the daemon is not running.
     *
     * @return true when every connection finished by itself within the deadline
     */
    public boolean shutdown(Duration drainTimeout) {
        synchronized (this) {
            if (state != State.RUNNING) {
                return true;
            }
            state = State.STOPPED;
        }
        int open;
        if (handedOver) {
            // The successor serves the addresses (and announces nothing of ours): only drain.
            open = activeConnections();
            LOG.info("handed over: waiting up to {} for {} open connection{} and flow{} to finish",
                    format(drainTimeout), open, open == 1 ? "" : "s", open == 1 ? "" : "s");
        } else {
            withdrawBeforeStopping();
            // Drain, not close: closing a listening socket resets every connection in its accept queue (clients
            // whose handshake the kernel completed, request maybe sent). Each listener stops new handshakes, accepts
            // what is queued and closes once quiet, as a reload's retired listeners do; awaitDrained waits for both.
            for (VipForwarder f : forwarders) {
                f.drainListeners();
            }
            open = activeConnections();
            LOG.info("shutting down: no new connections, queued ones accepted; waiting up to {} for {} open "
                    + "connection{}", format(drainTimeout), open, open == 1 ? "" : "s");
        }
        boolean drained = awaitDrained(drainTimeout);
        if (!drained) {
            int left = activeConnections();
            if (stopWaiting) {
                LOG.warn("second signal: closing {} connection{} still open", left, left == 1 ? "" : "s");
            } else {
                LOG.warn("shutdown timeout ({}) reached: closing {} connection{} still open", format(drainTimeout),
                        left, left == 1 ? "" : "s");
            }
        }
        for (VipForwarder f : forwarders) {
            f.closeConnections();
        }
        for (VipForwarder f : retired) {
            f.closeConnections();
        }
        stopServices();
        stopWorkers();
        closeAnnouncer();
        LOG.info("maglevd stopped");
        return drained;
    }

    /**
     * Routes first: the routers move the flows elsewhere while this host still forwards whatever arrives, for
     * {@code announce.withdraw_grace} (cut short by a second signal, {@link #stopWaitingForConnections}).
     */
    private void withdrawBeforeStopping() {
        Announcer a = announcer;
        if (a == null) {
            return;
        }
        int withdrawn = a.withdrawAll();
        Duration grace = a.config().withdrawGrace();
        LOG.info("shutting down: {} announced route{} withdrawn; forwarding on for {} so the routers move the flows",
                withdrawn, withdrawn == 1 ? "" : "s", format(grace));
        long deadline = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() - deadline < 0 && !stopWaiting) {
            try {
                Thread.sleep(Math.max(1, Math.min(20, (deadline - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Waits until no connection is open and no listener still drains its queue, or the deadline. */
    private boolean awaitDrained(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (activeConnections() > 0 || anyListening()) {
            if (System.nanoTime() - deadline >= 0 || stopWaiting) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return activeConnections() == 0 && !anyListening();
            }
        }
        return true;
    }

    /** Whether a forwarder (current or retired) still drains a listener: connections may still arrive from it. */
    private boolean anyListening() {
        for (VipForwarder f : forwarders) {
            if (f.listening()) {
                return true;
            }
        }
        for (VipForwarder f : retired) {
            if (f.listening()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Makes a {@link #shutdown} in progress stop waiting for open connections and close them now (an
     * operator's second SIGTERM or Ctrl-C). Any thread.
     */
    public void stopWaitingForConnections() {
        stopWaiting = true;
    }

    private void stopServices() {
        for (int i = startedServices.size() - 1; i >= 0; i--) {
            DaemonService service = startedServices.get(i);
            try {
                service.stop();
            } catch (RuntimeException e) {
                LOG.warn("stopping {} failed: {}", service.name(), e.toString());
                LOG.debug("stopping {} failed", service.name(), e);
            }
        }
        startedServices.clear();
    }

    private void stopWorkers() {
        MultiThreadIoEventLoopGroup group = workers;
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    private static String format(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    /** Open connections and tracked UDP flows over every forwarded VIP. Any thread. */
    public int activeConnections() {
        int sum = 0;
        for (VipForwarder f : forwarders) {
            sum += f.activeConnections();
        }
        for (VipForwarder f : retired) {
            sum += f.activeConnections();
        }
        return sum;
    }

    /** Every configured VIP, in file order, forwarded or not. An unmodifiable snapshot. */
    public List<VipRuntime> vips() {
        return List.copyOf(vips);
    }

    // ---- reload primitives: called by the control plane's thread while running ----

    /**
     * Adds a VIP to the running daemon and, when it is a forwarded kind, binds it.
     *
     * @throws VipBindException when its address cannot be bound; the daemon is then unchanged
     * @throws IllegalStateException when the daemon is not running or a VIP of that name exists
     */
    public synchronized VipRuntime addVip(VipConfig vip) throws VipBindException {
        requireRunning();
        if (vip(vip.name()).isPresent()) {
            throw new IllegalStateException("vip " + vip.name() + " exists already");
        }
        VipRuntime runtime = new VipRuntime(vip);
        Optional<VipForwarder> forwarder = newForwarder(vip, runtime);
        if (forwarder.isPresent()) {
            VipForwarder f = forwarder.get();
            Optional<VipForwarder> draining = drainingOnPortOf(vip);
            if (draining.isPresent()) {
                f.startBeside(draining.get());
            } else {
                f.start();
            }
            forwarders.add(f);
            runtime.attach(f);
            LOG.info("vip {}: {}", vip.name(), f.describe());
        }
        vips.add(runtime);
        return runtime;
    }

    /**
     * Removes a VIP: its listeners stop taking new connections at once and drain what was queued
     * ({@link VipForwarder#drainListeners}); its open connections finish on their own (or are closed at
     * shutdown). Returns the removed runtime, if there was one.
     */
    public synchronized Optional<VipRuntime> removeVip(String name) {
        requireRunning();
        Optional<VipRuntime> runtime = vip(name);
        runtime.ifPresent(r -> {
            vips.remove(r);
            r.forwarder().ifPresent(this::retire);
            LOG.info("vip {}: removed; listeners draining, {} open connection(s) left to finish", name,
                    r.forwarder().map(VipForwarder::activeConnections).orElse(0));
            r.detach();
        });
        return runtime;
    }

    /**
     * Gives a VIP a new forwarder for {@code next} (new listen address, protocol, mode or per-connection
     * settings) and applies {@code next} to its runtime, keeping backend ids, health and drain state. Open
     * connections stay on the old forwarder until they end. On a new address the new listeners are bound
     * before the old ones stop ({@link VipForwarder#startBeside}, also beside an overlapping wildcard or specific
     * address on the same port), and the old ones drain ({@link VipForwarder#drainListeners}): what waits in
     * their queues is served, not reset. On the same address the new forwarder takes over the old one's sockets
     * ({@link VipForwarder#startInPlaceOf}) where it can (TCP and UDP proxies): nothing is refused, reset or
     * dropped. Where it cannot, the old sockets close first, so new clients may be refused for the moment in
     * between. A forwarder that cannot drain beside its successor (DSR) is closed at once.
     *
     * @throws VipBindException when the new listeners cannot be bound; on a new address the VIP then keeps
     *     its old forwarder and configuration, on the same address (only where the sockets cannot be handed
     *     over) it is left without listeners
     */
    public synchronized void rebindVip(VipRuntime runtime, VipConfig next) throws VipBindException {
        requireRunning();
        Optional<VipForwarder> old = runtime.forwarder();
        boolean sameAddress = old.isPresent() && old.get().localAddress().equals(next.listen());
        Optional<VipForwarder> created = newForwarder(next, runtime);
        boolean handedOver = sameAddress && created.isPresent() && created.get().startInPlaceOf(old.get());
        if (handedOver) {
            retire(old.get()); // it listens no more; its open connections finish
        } else if (sameAddress) {
            if (old.get().drainsBesideSuccessor()) {
                retire(old.get());
            } else {
                old.get().stopAccepting();
                old.get().closeConnections();
                forwarders.remove(old.get());
            }
            runtime.detach();
        }
        if (created.isPresent() && !handedOver) {
            if (!sameAddress && old.isPresent()) {
                // bound before the old address stops accepting; beside listeners of its own that still drain on the
                // new address (moved away and back within a drain) if there are any
                created.get().startBeside(drainingOnPortOf(next)
                        .filter(f -> f.localAddress().equals(next.listen())).orElse(old.get()));
            } else {
                created.get().start();
            }
        }
        if (!sameAddress && old.isPresent()) {
            retire(old.get());
        }
        runtime.applyConfig(next);
        if (created.isPresent()) {
            forwarders.add(created.get());
            runtime.attach(created.get());
            LOG.info("vip {}: re-bound{}: {}", next.name(), handedOver ? " (listening sockets handed over)" : "",
                    created.get().describe());
        } else {
            runtime.detach();
        }
    }

    /** A retired forwarder whose listeners still drain on {@code vip}'s port, which the VIP's new ones bind beside. */
    private Optional<VipForwarder> drainingOnPortOf(VipConfig vip) {
        return retired.stream().filter(f -> f.listening() && f.localAddress().getPort() == vip.listen().getPort())
                .findFirst();
    }

    /** Out of service: it takes no new connections, serves what its sockets had queued, and finishes its own. */
    private void retire(VipForwarder f) {
        f.drainListeners();
        forwarders.remove(f);
        retired.add(f);
    }

    /** Drops retired forwarders whose connections have all ended. Returns how many are left. */
    public int reapRetired() {
        for (VipForwarder f : retired) {
            if (f.activeConnections() == 0 && !f.listening()) {
                f.closeConnections(); // stops its idle sweeps
                retired.remove(f);
            }
        }
        return retired.size();
    }

    /** Records the configuration a reload applied (what {@link #config()} returns from then on). */
    public void configApplied(MaglevConfig applied) {
        this.config = Objects.requireNonNull(applied, "applied");
    }

    private void requireRunning() {
        if (state != State.RUNNING) {
            throw new IllegalStateException("the daemon is " + state);
        }
    }

    public Optional<VipRuntime> vip(String name) {
        return vips.stream().filter(v -> v.name().equals(name)).findFirst();
    }

    public MaglevConfig config() {
        return config;
    }

    public DaemonOptions options() {
        return options;
    }

    /** Forwarding event loops. */
    public int workerCount() {
        return config.effectiveWorkers();
    }

    public synchronized boolean isRunning() {
        return state == State.RUNNING;
    }
}
