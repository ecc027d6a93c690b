package io.maglevlb.core.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Announcing VIPs to the host's routing daemon through a kernel routing table (docs/fleet.md, DESIGN §8):
 * maglevd puts {@code VIP/32} ({@code /128}) routes {@code dev device} into {@code table} while it serves a VIP.
 *
 * @param table kernel routing table the routes go into (not 253 default, 254 main or 255 local)
 * @param device name of the TUN device maglevd creates for its lifetime and points the routes at
 * @param withdrawGrace on SIGTERM, how long maglevd keeps forwarding after withdrawing its routes, so the routers
 *     move the flows before it stops answering
 */
public record AnnounceConfig(int table, String device, Duration withdrawGrace) {
    public static final String DEFAULT_DEVICE = "maglev0";
    public static final Duration DEFAULT_WITHDRAW_GRACE = Duration.ofSeconds(2);
    /** The kernel's own tables (default, main, local): never ours to write VIP routes into. */
    public static final int FIRST_RESERVED_TABLE = 253;
    public static final int LAST_RESERVED_TABLE = 255;

    public AnnounceConfig {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(withdrawGrace, "withdrawGrace");
    }
}
