package io.maglevlb.core.config;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * One backend of a VIP as configured.
 *
 * @param name unique within the VIP; the Maglev hash key, so keep it when re-addressing a backend
 * @param address IP literal and port
 * @param weight share of the table relative to the VIP's other backends; 0 = drained
 * @param healthTarget this backend's {@code health_check.target}, overriding the VIP's
 */
public record BackendConfig(String name, InetSocketAddress address, int weight,
        Optional<HealthCheckTarget> healthTarget) {
    public static final int DEFAULT_WEIGHT = 1;

    public BackendConfig(String name, InetSocketAddress address, int weight) {
        this(name, address, weight, Optional.empty());
    }

    /** Where this backend is probed: its own setting, else the VIP's. */
    public HealthCheckTarget healthTarget(HealthCheckConfig vipCheck) {
        return healthTarget.orElse(vipCheck.target());
    }
}
