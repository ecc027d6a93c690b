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
 */
public record StatusView(String version, long pid, String startedAt, String configFile, String lastReload,
        List<Vip> vips) {

    public StatusView {
        vips = List.copyOf(vips);
    }

    /**
     * One VIP.
     *
     * @param generation table generation: bumps with every published table
     * @param digest table digest, equal on every host with the same config and live backends
     * @param backendsInTable backends that own slots (up, not drained, weight > 0)
     */
    public record Vip(String name, String listen, String protocol, String mode, long generation, String digest,
            int tableSize, int backendsInTable, List<Backend> backends) {
        public Vip {
            backends = List.copyOf(backends);
        }
    }

    /**
     * One backend of a VIP.
     *
     * @param healthy last health verdict
     * @param drained drained through the admin API
     * @param weight configured weight (0 = drained by configuration)
     * @param slots table slots owned now
     * @param health why it is in its health state
     * @param lastCheck the last check's result and detail, or null before the first check
     */
    public record Backend(String name, String address, int weight, boolean healthy, boolean drained, int slots,
            String health, String lastCheck) {}
}
