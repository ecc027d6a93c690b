package io.maglevlb.control.reload;

import io.maglevlb.control.admin.ReloadResult;
import io.maglevlb.control.config.ConfigLoadResult;
import io.maglevlb.control.config.YamlConfigLoader;
import io.maglevlb.control.daemon.Maglevd;
import io.maglevlb.control.daemon.VipRuntime;
import io.maglevlb.control.reload.ConfigDiff.VipChange;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.VipBindException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the configuration file into the running daemon (SIGHUP, {@code POST /reload}).
 *
 * <ol>
 *   <li>Parse and validate the whole file. Any error: change nothing, report every error.</li>
 *   <li>Diff against the running configuration VIP by VIP ({@link ConfigDiff}).</li>
 *   <li>Bind the new VIPs first: if one cannot be bound, unbind the others again and change nothing else,
 *       so a failed reload leaves the daemon exactly as it was.</li>
 *   <li>Remove the VIPs that left (listeners close, open connections finish), re-bind the VIPs whose listen
 *       address, protocol, mode or connection settings changed, and apply backend changes in place to the
 *       rest (one table rebuild each). Unchanged VIPs are not touched.</li>
 * </ol>
 * The {@link Listener} (health checks, metrics) hears of every VIP added, removed or changed.
 *
 * <p>Threading: {@link #reload()} runs on the control thread only, one at a time, serialised with health
 * transitions and drains.
 */
public final class Reloader {
    private static final Logger log = LoggerFactory.getLogger(Reloader.class);

    /** What else must follow a VIP's change. Called on the control thread after the daemon changed. */
    public interface Listener {
        void vipAdded(VipRuntime vip);

        void vipRemoved(String vipName);

        /** {@code rebound}: the VIP got a new forwarder (its dataplane counters start again). */
        void vipChanged(VipRuntime vip, VipChange change, boolean rebound);
    }

    private final Path file;
    private final Maglevd daemon;
    private final Listener listener;
    private final YamlConfigLoader loader = new YamlConfigLoader();

    public Reloader(Path file, Maglevd daemon, Listener listener) {
        this.file = Objects.requireNonNull(file, "file");
        this.daemon = Objects.requireNonNull(daemon, "daemon");
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    public Path file() {
        return file;
    }

    /** "vip NAME: problem", without repeating the prefix when the exception's message has it already. */
    private static String vipError(String vip, Exception e) {
        String message = String.valueOf(e.getMessage());
        String prefix = "vip " + vip + ": ";
        return message.startsWith(prefix) ? message : prefix + message;
    }

    /** Loads, validates, diffs and applies the file. Never throws for a bad file: the result says why. */
    public ReloadResult reload() {
        ConfigLoadResult loaded = loader.load(file);
        if (!loaded.isValid()) {
            List<String> errors = loaded.formattedErrors();
            log.error("reload of {} refused, the running configuration is unchanged ({} error{}):", file,
                    errors.size(), errors.size() == 1 ? "" : "s");
            errors.forEach(e -> log.error("  {}", e));
            return ReloadResult.failed(errors);
        }
        loaded.formattedWarnings().forEach(w -> log.warn("reload: {}", w));
        MaglevConfig running = daemon.config();
        MaglevConfig next = loaded.config().orElseThrow();
        ConfigDiff diff = ConfigDiff.between(running, next);

        // 1. Bind new VIPs; on any failure undo and change nothing.
        List<VipRuntime> added = new ArrayList<>();
        for (VipConfig vip : diff.added()) {
            try {
                added.add(daemon.addVip(vip));
            } catch (VipBindException | RuntimeException e) {
                for (VipRuntime undo : added) {
                    daemon.removeVip(undo.name());
                }
                daemon.reapRetired();
                String error = vipError(vip.name(), e);
                log.error("reload of {} refused, the running configuration is unchanged: {}", file, error);
                return ReloadResult.failed(List.of(error));
            }
        }

        // 2. Apply the rest; from here on a failure affects only its VIP.
        List<String> errors = new ArrayList<>();
        for (VipConfig vip : diff.removed()) {
            daemon.removeVip(vip.name());
            listener.vipRemoved(vip.name());
        }
        List<String> changed = new ArrayList<>();
        for (VipChange change : diff.changed()) {
            Optional<VipRuntime> runtime = daemon.vip(change.name());
            if (runtime.isEmpty()) {
                continue;
            }
            VipRuntime vip = runtime.get();
            boolean rebind = change.listenerChanged() || change.settingsChanged();
            try {
                if (rebind) {
                    daemon.rebindVip(vip, change.after());
                } else {
                    vip.applyConfig(change.after());
                }
                log.info("reload: vip {} changed ({})", change.name(), change.summary());
                changed.add(change.name());
            } catch (VipBindException | RuntimeException e) {
                String error = vipError(change.name(), e);
                log.error("reload: {}", error);
                errors.add(error);
                continue;
            }
            listener.vipChanged(vip, change, rebind);
        }
        for (VipRuntime vip : added) {
            listener.vipAdded(vip);
        }
        if (!diff.needsRestart().isEmpty()) {
            log.warn("reload: {} changed but only take effect on restart; running with the old values",
                    String.join(", ", diff.needsRestart()));
        }
        daemon.configApplied(new MaglevConfig(running.admin(), running.workers(), next.shutdownTimeout(),
                running.flowTable(), next.vips(), running.announce()));

        List<String> addedNames = diff.added().stream().map(VipConfig::name).toList();
        List<String> removedNames = diff.removed().stream().map(VipConfig::name).toList();
        List<String> unchangedNames = diff.unchanged().stream().map(VipConfig::name).toList();
        if (errors.isEmpty()) {
            log.info("reload of {} applied: added {}, removed {}, changed {}, unchanged {}", file, addedNames,
                    removedNames, changed, unchangedNames);
            return new ReloadResult(true, List.of(), addedNames, removedNames, changed, unchangedNames);
        }
        return new ReloadResult(false, errors, addedNames, removedNames, changed, unchangedNames);
    }
}
