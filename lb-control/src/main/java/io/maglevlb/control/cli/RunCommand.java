package io.maglevlb.control.cli;

import io.maglevlb.control.daemon.DaemonOptions;
import io.maglevlb.control.daemon.DaemonStartException;
import io.maglevlb.control.daemon.InheritedSockets;
import io.maglevlb.control.daemon.Lineage;
import io.maglevlb.control.daemon.Maglevd;
import io.maglevlb.control.daemon.TerminationSignals;
import io.maglevlb.control.demo.DemoBackends;
import io.maglevlb.control.plane.ControlPlane;
import io.maglevlb.control.takeover.TakeoverClient;
import io.maglevlb.control.takeover.UpgradeServer;
import io.maglevlb.core.config.MaglevConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code maglevd run --config FILE}: starts the daemon and runs until SIGTERM or SIGINT, then stops accepting,
 * lets open connections finish for up to {@code shutdown_timeout}, closes the rest and exits 0. A second
 * signal stops the wait. Exits 78 when the configuration file is missing, unreadable or invalid (after its
 * errors), 1 when the daemon cannot start otherwise (e.g. a VIP address is in use), after one line saying why.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {
            "Start maglevd and forward traffic until SIGTERM or Ctrl-C (SIGINT).",
            "On the signal it stops accepting, lets open connections finish for up to shutdown_timeout, "
                    + "closes the rest and exits 0; a second signal closes them at once.",
            "Exits 78 when the configuration file is missing or invalid (every error on stderr), 1 with one "
                    + "line when the daemon cannot start otherwise (a VIP cannot be bound, for example)."
        })
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

    @Mixin
    ConfigFileOption config;

    @Option(names = "--demo-backends",
            description = "Also start, in this process, a tiny HTTP server on every TCP backend address and a UDP "
                    + "echo server on every UDP backend address, each answering with the backend's name (try it "
                    + "with config/demo.yaml, curl and nc -u).")
    boolean demoBackends;

    @Option(names = "--admin", paramLabel = "ADDR",
            description = "Listen for the admin API on ADDR (IP:port) instead of admin.listen, e.g. to run the "
                    + "demo next to another maglevd. The environment variable " + AdminAddress.ENV
                    + " does the same (this option wins); maglevd ctl reads it too.")
    String admin;

    @Option(names = "--takeover",
            description = "Take over from the maglevd running with the same upgrade_socket: receive its listening "
                    + "sockets, serve, then let it finish its connections and exit. Exits 1, and the running "
                    + "maglevd serves on, when the configuration cannot serve what it hands over.")
    boolean takeover;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        AdminAddress adminOverride;
        try {
            adminOverride = AdminAddress.override(admin, System.getenv(AdminAddress.ENV));
        } catch (IllegalArgumentException e) {
            err.println("maglevd run: " + e.getMessage());
            err.flush();
            return MaglevdMain.EXIT_USAGE;
        }
        Optional<MaglevConfig> loaded = config.loadReporting(err);
        err.flush();
        if (loaded.isEmpty()) {
            return MaglevdMain.EXIT_CONFIG;
        }
        MaglevConfig cfg = loaded.get();
        DaemonOptions options;
        try {
            options = DaemonOptions.fromSystemProperties();
        } catch (IllegalArgumentException | IllegalStateException e) {
            LOG.error("maglevd: cannot start: {}", e.getMessage());
            return MaglevdMain.EXIT_FAILURE;
        }

        DemoBackends demo = null;
        if (demoBackends) {
            try {
                demo = DemoBackends.start(cfg, options.transport());
            } catch (IOException e) {
                LOG.error("maglevd: cannot start: {}", e.getMessage());
                LOG.debug("demo backend start failure", e);
                return MaglevdMain.EXIT_FAILURE;
            }
        }
        try {
            return runDaemon(cfg, options, adminOverride);
        } finally {
            if (demo != null) {
                demo.close();
            }
        }
    }

    private int runDaemon(MaglevConfig cfg, DaemonOptions options, AdminAddress adminOverride) {
        Maglevd daemon = new Maglevd(cfg, options);
        // Health checks, admin API, metrics, reload (SIGHUP / POST /reload) and drain.
        ControlPlane control = adminOverride == null ? new ControlPlane(config.file())
                : new ControlPlane(config.file(), adminOverride.address(), adminOverride.source());
        daemon.addService(control);
        TakeoverClient client = null;
        if (takeover) {
            LOG.info("takeover: connecting to the running maglevd on {}", cfg.upgradeSocket());
            try {
                client = TakeoverClient.connect(cfg.upgradeSocket());
            } catch (TakeoverClient.TakeoverException e) {
                LOG.error("maglevd: takeover failed: {}; the running maglevd serves on", e.getMessage());
                return MaglevdMain.EXIT_FAILURE;
            }
            daemon.lineage(Lineage.successorOf(client.parentGeneration(), client.parentPid()));
            InetSocketAddress adminAt = adminOverride != null ? adminOverride.address() : cfg.admin().listen();
            client.takeAdminListener(adminAt).ifPresent(control::adoptAdminListener);
        }
        CountDownLatch stop = new CountDownLatch(1);
        AtomicInteger signals = new AtomicInteger();
        boolean handled = TerminationSignals.install(signal -> {
            if (signals.incrementAndGet() == 1) {
                LOG.info("received SIG{}: shutting down (send it again to close open connections at once)", signal);
                stop.countDown();
            } else {
                LOG.warn("received SIG{} again: closing open connections now", signal);
                daemon.stopWaitingForConnections();
            }
        });
        if (!handled) {
            // Without our own handlers the JVM exits on the signal: shut down from a hook and keep exit code 0.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                LOG.info("shutting down");
                daemon.shutdown(cfg.shutdownTimeout());
                Runtime.getRuntime().halt(MaglevdMain.EXIT_OK);
            }, "maglevd-shutdown"));
        }
        try {
            daemon.start(client != null ? client : InheritedSockets.NONE);
        } catch (DaemonStartException e) {
            if (client != null) {
                client.abort(e.getMessage());
                client.close();
                LOG.error("maglevd: takeover aborted: {}; the running maglevd serves on", e.getMessage());
            } else {
                LOG.error("maglevd: cannot start: {}", e.getMessage());
            }
            LOG.debug("start failure", e);
            return MaglevdMain.EXIT_FAILURE;
        }
        if (client != null) {
            try {
                if (client.serving()) {
                    LOG.info("takeover: serving in place of pid {} (generation {}), which finishes its connections",
                            client.parentPid(), daemon.lineage().generation());
                } else {
                    LOG.warn("takeover: pid {} closed the connection without acknowledging (it exited?); serving",
                            client.parentPid());
                }
                daemon.predecessorReleased();
            } catch (TakeoverClient.TakeoverException e) {
                LOG.error("maglevd: takeover aborted: {}; the running maglevd serves on, this process stops",
                        e.getMessage());
                client.close();
                daemon.shutdown(cfg.shutdownTimeout());
                return MaglevdMain.EXIT_FAILURE;
            }
            client.close();
            TakeoverClient.notifySystemd();
        }
        UpgradeServer upgrade = null;
        try {
            upgrade = UpgradeServer.start(cfg.upgradeSocket(), client != null, daemon, control, stop::countDown);
            control.upgrader(upgrade::spawnSuccessor);
        } catch (IOException | RuntimeException e) {
            LOG.warn("takeover: cannot listen on upgrade_socket {}: {}; this process cannot be taken over",
                    cfg.upgradeSocket(), e.getMessage());
        }
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (upgrade != null) {
            upgrade.close();
        }
        daemon.shutdown(cfg.shutdownTimeout());
        return MaglevdMain.EXIT_OK;
    }
}
