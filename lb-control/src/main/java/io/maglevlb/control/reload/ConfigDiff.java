package io.maglevlb.control.reload;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a reload changes, VIP by VIP (matched by name). A pure function of two validated configurations.
 *
 * @param added VIPs only in the new configuration: bind and start
 * @param removed VIPs only in the old one: stop accepting, let connections drain
 * @param changed VIPs in both that differ (see {@link VipChange} for how)
 * @param unchanged VIPs in both and equal: keep listeners, connections, table and health state as they are
 * @param needsRestart process-wide settings that differ but cannot change in a running daemon (admin
 *     listener, token file, worker count, flow table size, announce); a reload keeps the running values and warns
 */
public record ConfigDiff(List<VipConfig> added, List<VipConfig> removed, List<VipChange> changed,
        List<VipConfig> unchanged, List<String> needsRestart) {

    public ConfigDiff {
        added = List.copyOf(added);
        removed = List.copyOf(removed);
        changed = List.copyOf(changed);
        unchanged = List.copyOf(unchanged);
        needsRestart = List.copyOf(needsRestart);
    }

    public static ConfigDiff between(MaglevConfig before, MaglevConfig after) {
        Map<String, VipConfig> old = new LinkedHashMap<>();
        before.vips().forEach(v -> old.put(v.name(), v));
        List<VipConfig> added = new ArrayList<>();
        List<VipChange> changed = new ArrayList<>();
        List<VipConfig> unchanged = new ArrayList<>();
        for (VipConfig next : after.vips()) {
            VipConfig prev = old.remove(next.name());
            if (prev == null) {
                added.add(next);
            } else if (prev.equals(next)) {
                unchanged.add(next);
            } else {
                changed.add(VipChange.of(prev, next));
            }
        }
        List<VipConfig> removed = new ArrayList<>(old.values());
        List<String> needsRestart = new ArrayList<>();
        if (!Objects.equals(before.admin(), after.admin())) {
            needsRestart.add("admin");
        }
        if (before.workers() != after.workers()) {
            needsRestart.add("workers");
        }
        if (!Objects.equals(before.flowTable(), after.flowTable())) {
            needsRestart.add("flow_table");
        }
        if (!Objects.equals(before.announce(), after.announce())) {
            needsRestart.add("announce"); // the device and the table are the process's for its life
        }
        return new ConfigDiff(added, removed, changed, unchanged, needsRestart);
    }

    /** True when the reload changes nothing at all. */
    public boolean isEmpty() {
        return added.isEmpty() && removed.isEmpty() && changed.isEmpty() && needsRestart.isEmpty();
    }

    /**
     * How one VIP changed.
     *
     * @param listenerChanged listen address, protocol, mode or DSR settings differ: the VIP needs new sockets (or
     *     a packet engine); the new ones are bound before the old ones stop, and the old ones drain what they had
     *     queued (docs/operations.md, "Reload")
     * @param tableChanged the table's inputs differ (size, or a backend added, removed or re-weighted): rebuild
     * @param healthCheckChanged the health check differs: re-create the watches (health state carried over)
     * @param settingsChanged per-connection settings differ (hash mode, limits, timeouts, retries, PROXY
     *     protocol, delayed ACKs): apply to new connections
     * @param backends backend by backend
     */
    public record VipChange(VipConfig before, VipConfig after, boolean listenerChanged, boolean tableChanged,
            boolean healthCheckChanged, boolean settingsChanged, BackendDiff backends) {

        static VipChange of(VipConfig before, VipConfig after) {
            boolean listener = !before.listen().equals(after.listen())
                    || before.protocol() != after.protocol()
                    || before.mode() != after.mode()
                    || !before.dsr().equals(after.dsr());
            BackendDiff backends = BackendDiff.between(before.backends(), after.backends());
            boolean table = before.tableSize() != after.tableSize() || backends.changesTable();
            boolean health = !before.healthCheck().equals(after.healthCheck());
            boolean settings = before.hash() != after.hash()
                    || before.maxConnections() != after.maxConnections()
                    || !before.connectTimeout().equals(after.connectTimeout())
                    || before.connectRetries() != after.connectRetries()
                    || !before.idleTimeout().equals(after.idleTimeout())
                    || before.proxyProtocol() != after.proxyProtocol()
                    || before.delayedAck() != after.delayedAck();
            return new VipChange(before, after, listener, table, health, settings, backends);
        }

        public String name() {
            return after.name();
        }

        /** One line for the log: what changed. */
        public String summary() {
            List<String> parts = new ArrayList<>();
            if (listenerChanged) {
                parts.add("listener");
            }
            if (tableChanged) {
                parts.add("table");
            }
            if (healthCheckChanged) {
                parts.add("health check");
            }
            if (settingsChanged) {
                parts.add("settings");
            }
            if (!backends.added().isEmpty()) {
                parts.add("+" + backends.added().stream().map(BackendConfig::name).toList());
            }
            if (!backends.removed().isEmpty()) {
                parts.add("-" + backends.removed().stream().map(BackendConfig::name).toList());
            }
            long modified = backends.kept().stream().filter(k -> !k.before().equals(k.after())).count();
            if (modified > 0) {
                parts.add(modified + " backend(s) modified");
            }
            return String.join(", ", parts);
        }
    }

    /**
     * Backends of one VIP, matched by name (the Maglev key, kept when a backend is re-addressed).
     *
     * @param kept in both; {@code before} and {@code after} may differ in address or weight
     */
    public record BackendDiff(List<BackendConfig> added, List<BackendConfig> removed, List<Kept> kept) {

        public BackendDiff {
            added = List.copyOf(added);
            removed = List.copyOf(removed);
            kept = List.copyOf(kept);
        }

        public record Kept(BackendConfig before, BackendConfig after) {
            public boolean addressChanged() {
                return !before.address().equals(after.address());
            }

            public boolean weightChanged() {
                return before.weight() != after.weight();
            }
        }

        static BackendDiff between(List<BackendConfig> before, List<BackendConfig> after) {
            Map<String, BackendConfig> old = new LinkedHashMap<>();
            before.forEach(b -> old.put(b.name(), b));
            List<BackendConfig> added = new ArrayList<>();
            List<Kept> kept = new ArrayList<>();
            for (BackendConfig next : after) {
                BackendConfig prev = old.remove(next.name());
                if (prev == null) {
                    added.add(next);
                } else {
                    kept.add(new Kept(prev, next));
                }
            }
            return new BackendDiff(added, new ArrayList<>(old.values()), kept);
        }

        /** Whether the Maglev table's inputs (names and weights) differ. An address change alone does not. */
        public boolean changesTable() {
            return !added.isEmpty() || !removed.isEmpty() || kept.stream().anyMatch(Kept::weightChanged);
        }
    }
}
