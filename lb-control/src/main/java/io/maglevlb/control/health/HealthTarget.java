package io.maglevlb.control.health;

import io.maglevlb.core.config.HealthCheckConfig;
import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What to check: backend {@code backend} of VIP {@code vip} at {@code address}, with {@code check}.
 *
 * @param route null: probe the backend's own {@code address}; else probe the VIP through the backend (DSR)
 */
public record HealthTarget(String vip, String backend, InetSocketAddress address, HealthCheckConfig check,
        ProbeRoute route) {
    public HealthTarget {
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(check, "check");
    }

    /** A check of the backend's own address. */
    public HealthTarget(String vip, String backend, InetSocketAddress address, HealthCheckConfig check) {
        this(vip, backend, address, check, null);
    }

    /** The address probe sockets connect or send to: the VIP's for a DSR route, else the backend's. */
    public InetSocketAddress probeAddress() {
        return route == null ? address : route.destination();
    }

    /** What the probes target, for /status: "backend 198.18.0.11:80" or the route's description. */
    public String describeTarget() {
        return route == null ? "backend " + NetUtil.toSocketAddressString(address) : route.description();
    }
}
