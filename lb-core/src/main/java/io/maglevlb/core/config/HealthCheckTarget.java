package io.maglevlb.core.config;

/** Where a health check probes a backend ({@code health_check.target}). */
public enum HealthCheckTarget {
    /**
     * At the VIP's address and port, delivered to the backend the way a client's packet is (DSR only): checks
     * what clients use, VIP on the backend's loopback included.
     */
    VIP("vip"),
    /** At the backend's own {@code address}, as proxy-mode VIPs always do. */
    BACKEND("backend");

    private final String configName;

    HealthCheckTarget(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
