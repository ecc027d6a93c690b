package io.maglevlb.control.admin;

import java.util.List;

/**
 * {@code GET /status}.
 *
 * @param version maglevd version
 * @param pid process id
 * @param startedAt ISO-8601 instant the daemon started
 * @param configFile the configuration file reloads read
 * @param lastReload ISO-8601 instant and result of the last reload, or null when there was none
 * @param vips the VIPs in configuration order
 * @param generation 1 for a process started with {@code run}, plus one per takeover
 * @param parentPid the process this one took over from; null for generation 1
 * @param processStartedAt ISO-8601 instant the process (JVM) started
 */
public record StatusView(String version, long pid, String startedAt, String configFile, String lastReload,
        List<Vip> vips, long generation, Long parentPid, String processStartedAt) {

    public StatusView {
        vips = List.copyOf(vips);
    }

    /** A process of generation 1 (no takeover). */
    public StatusView(String version, long pid, String startedAt, String configFile, String lastReload,
            List<Vip> vips) {
        this(version, pid, startedAt, configFile, lastReload, vips, 1, null, startedAt);
    }

    /**
     * One VIP.
     *
     * @param generation table generation: bumps with every published table
     * @param digest table digest, equal on every host with the same config and live backends
     * @param backendsInTable backends that own slots (up, not drained, weight > 0)
     * @param activeFlows TCP connections or UDP flows open now (DSR: flows tracked); null when the VIP has no
     *     forwarder
     * @param announce whether the VIP is announced to the routing daemon; null when {@code announce} is not
     *     configured
     */
    public record Vip(String name, String listen, String protocol, String mode, long generation, String digest,
            int tableSize, int backendsInTable, Long activeFlows, List<Backend> backends, Announcement announce) {
        public Vip {
            backends = List.copyOf(backends);
        }
    }

    /**
     * A VIP's announcement (docs/operations.md, "Announcing VIPs").
     *
     * @param address the announced prefix, e.g. 198.18.0.10/32; null for a wildcard listen address
     * @param announced its route is in the announce table now
     * @param operatorWithdrawn withdrawn with {@code maglevd ctl withdraw}; survives reloads
     * @param reason why it is not announced (or why it is, for another VIP on the same address); null when it
     *     is announced for itself
     */
    public record Announcement(String address, boolean announced, boolean operatorWithdrawn, String reason) {}

    /**
     * One backend of a VIP.
     *
     * @param healthy last health verdict
     * @param drained drained through the admin API
     * @param weight configured weight (0 = drained by configuration)
     * @param slots table slots owned now
     * @param health why it is in its health state
     * @param lastCheck the last check's result and detail, or null before the first check
     * @param activeFlows TCP connections or UDP flows open to the backend now; null when not counted per backend
     *     (DSR) or the VIP has no forwarder
     * @param healthTarget what the health checks probe: "backend ADDRESS:PORT", or for DSR backends checked at the
     *     VIP "VIP ADDRESS:PORT via BACKEND (METHOD on INTERFACE, mark M)"; null when not checked
     */
    public record Backend(String name, String address, int weight, boolean healthy, boolean drained, int slots,
            String health, String lastCheck, Long activeFlows, String healthTarget) {}
}
