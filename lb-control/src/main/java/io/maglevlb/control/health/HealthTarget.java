package io.maglevlb.control.health;

import io.maglevlb.core.config.HealthCheckConfig;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What to check: backend {@code backend} of VIP {@code vip} at {@code address}, with {@code check}.
 */
public record HealthTarget(String vip, String backend, InetSocketAddress address, HealthCheckConfig check) {
    public HealthTarget {
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(check, "check");
    }
}
