package io.maglevlb.control.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.FlowPlacement;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.Locale;

/**
 * Where one client's flow goes, and why: {@code GET /vips/{vip}/explain?client=IP:PORT} (the live table and the
 * forwarder's flow tracking) and {@code maglevd explain} (offline, from the configuration; no tracking).
 *
 * @param client the flow's source address and port as the load balancer sees it
 * @param destination the VIP address and port hashed as the flow's destination (a wildcard listen hashes as
 *     {@code 0.0.0.0} / {@code ::}); with {@code hashMode} source-ip neither port counts
 * @param flowHash the 64-bit flow hash, 16 hex digits
 * @param slot the table slot the hash selects, in [0, tableSize)
 * @param generation the table's generation (offline: 1)
 * @param digest the table's digest: equal on every host with the same configuration and live backends
 * @param tableBackend the name of the backend the table gives the flow, or null when every backend is down or
 *     drained (a new flow is refused)
 * @param tracking what the forwarder tracks for this flow; null offline
 * @param backend where the flow's next packet (new connection) goes: the tracked backend when the flow is tracked
 *     and may stay there, else {@code tableBackend}
 */
public record ExplainView(String vip, String protocol, String mode, String hashMode, String client,
        String destination, String flowHash, int slot, int tableSize, long generation, String digest,
        String tableBackend, String tableBackendAddress, Tracking tracking, String backend) {

    /** The JSON writer of the admin API (indented), for the CLI's {@code --format json}. */
    public static final ObjectMapper JSON = Reply.JSON;

    /**
     * The forwarder's flow tracking for the flow: for a TCP proxy VIP the open connection from the client's
     * address and port, for UDP and DSR the flow table entry.
     *
     * @param tracked a forwarding thread tracks the flow now
     * @param backend the backend it is tracked on, or null when not tracked
     * @param stays the flow stays on {@code backend}: always for an open TCP proxy connection, and for a tracked
     *     UDP/DSR flow while that backend is up and in the VIP (a drained one keeps its flows)
     * @param differsFromTable tracked on another backend than the table's choice: a flow kept across a table change
     */
    public record Tracking(boolean tracked, String backend, String backendAddress, boolean stays,
            boolean differsFromTable) {
        public static final Tracking NONE = new Tracking(false, null, null, false, false);
    }

    /** The explanation of {@code placement} for {@code vip}; {@code tracking} null when not asked (offline). */
    public static ExplainView of(VipConfig vip, FlowPlacement placement, InetSocketAddress client,
            InetSocketAddress destination, Tracking tracking) {
        BackendState b = placement.backend();
        String tableBackend = b == null ? null : b.name();
        String backend = tracking != null && tracking.tracked() && tracking.stays() ? tracking.backend() : tableBackend;
        return new ExplainView(vip.name(), vip.protocol().configName(), vip.mode().configName(),
                vip.hash().configName(), ConfigValues.formatSocketAddress(client),
                ConfigValues.formatSocketAddress(destination), placement.hashHex(), placement.slot(),
                placement.snapshot().tableSize(), placement.snapshot().generation(), placement.snapshot().digest(),
                tableBackend, b == null ? null : ConfigValues.formatSocketAddress(b.address()), tracking, backend);
    }

    /** The human-readable form ({@code maglevd explain} without {@code --format json}). */
    public void print(PrintWriter out) {
        out.printf(Locale.ROOT, "vip:         %s (%s %s, mode %s, hash %s)%n", vip, protocol, destination, mode,
                hashMode);
        out.printf(Locale.ROOT, "flow:        %s %s -> %s%n", protocol, client, destination);
        out.printf(Locale.ROOT, "flow hash:   %s%n", flowHash);
        out.printf(Locale.ROOT, "slot:        %d of %d%n", slot, tableSize);
        out.printf(Locale.ROOT, "table:       generation %d, digest %s%n", generation, digest);
        out.printf(Locale.ROOT, "table says:  %s%n", tableBackend == null
                ? "no backend (every backend is down or drained: a new flow is refused)"
                : tableBackend + " (" + tableBackendAddress + ")");
        if (tracking != null) {
            if (!tracking.tracked()) {
                out.println("tracked:     no (a new flow from this address and port goes where the table says)");
            } else {
                String how = !tracking.differsFromTable() ? ""
                        : tracking.stays() ? ": kept across a table change"
                        : ": moves by the table on its next packet";
                out.printf(Locale.ROOT, "tracked:     yes, on %s (%s)%s%n", tracking.backend(),
                        tracking.backendAddress(), how);
            }
        }
        out.printf(Locale.ROOT, "backend:     %s%n", backend == null ? "none" : backend);
    }
}
