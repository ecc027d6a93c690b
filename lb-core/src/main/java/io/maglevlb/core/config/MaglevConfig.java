package io.maglevlb.core.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole validated configuration of a maglevd instance. Immutable.
 *
 * @param admin the admin API
 * @param workers forwarding event loops; 0 = one per core
 * @param shutdownTimeout on SIGTERM, how long active connections may finish before they are closed
 * @param flowTable per-thread connection tracking
 * @param vips the virtual services, in file order
 * @param announce announcing the VIPs through a kernel routing table; empty = maglevd announces nothing
 * @param dsrHealth marks and tables for health probes of DSR VIPs at the VIP
 * @param upgradeSocket the Unix socket a successor process connects to for a takeover ({@code run --takeover})
 */
public record MaglevConfig(AdminConfig admin, int workers, Duration shutdownTimeout, FlowTableConfig flowTable,
        List<VipConfig> vips, Optional<AnnounceConfig> announce, DsrHealthConfig dsrHealth, Path upgradeSocket) {

    /** 0 = one forwarding event loop per core. */
    public static final int DEFAULT_WORKERS = 0;
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /** Where {@code upgrade_socket} is unless configured. */
    public static final Path DEFAULT_UPGRADE_SOCKET = Path.of("/run/maglevd/upgrade.sock");
    /** Longest {@code upgrade_socket} path in bytes: sun_path holds 108 with the terminating NUL. */
    public static final int MAX_UPGRADE_SOCKET_BYTES = 107;

    public MaglevConfig {
        vips = List.copyOf(vips);
        Objects.requireNonNull(announce, "announce");
        Objects.requireNonNull(dsrHealth, "dsrHealth");
        Objects.requireNonNull(upgradeSocket, "upgradeSocket");
    }

    /** With the default {@code upgrade_socket}. */
    public MaglevConfig(AdminConfig admin, int workers, Duration shutdownTimeout, FlowTableConfig flowTable,
            List<VipConfig> vips, Optional<AnnounceConfig> announce, DsrHealthConfig dsrHealth) {
        this(admin, workers, shutdownTimeout, flowTable, vips, announce, dsrHealth, DEFAULT_UPGRADE_SOCKET);
    }

    /** A configuration that announces nothing, with the default {@code dsr_health} ranges. */
    public MaglevConfig(AdminConfig admin, int workers, Duration shutdownTimeout, FlowTableConfig flowTable,
            List<VipConfig> vips) {
        this(admin, workers, shutdownTimeout, flowTable, vips, Optional.empty());
    }

    /** With the default {@code dsr_health} ranges. */
    public MaglevConfig(AdminConfig admin, int workers, Duration shutdownTimeout, FlowTableConfig flowTable,
            List<VipConfig> vips, Optional<AnnounceConfig> announce) {
        this(admin, workers, shutdownTimeout, flowTable, vips, announce, DsrHealthConfig.defaults());
    }

    public Optional<VipConfig> vip(String name) {
        return vips.stream().filter(v -> v.name().equals(name)).findFirst();
    }

    /** Forwarding event loops to start: {@code workers}, or the number of cores when it is 0. */
    public int effectiveWorkers() {
        return workers > 0 ? workers : Runtime.getRuntime().availableProcessors();
    }
}
