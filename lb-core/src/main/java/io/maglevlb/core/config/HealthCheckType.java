package io.maglevlb.core.config;

/** How a backend's health is probed. */
public enum HealthCheckType {
    /** A TCP connect that completes within the timeout. */
    TCP("tcp"),
    /** An HTTP/1.1 GET of a path whose status falls in the expected range. */
    HTTP("http"),
    /**
     * One datagram to the backend: fails on an ICMP port or host unreachable, and with an expected reply also
     * when no matching reply arrives within the timeout (keepalived's UDP_CHECK).
     */
    UDP("udp"),
    /** No probing: backends are always up. */
    NONE("none");

    private final String configName;

    HealthCheckType(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
