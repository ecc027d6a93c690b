package io.maglevlb.core.config;

/** How the packet engine hands a packet to a backend in DSR mode. */
public enum DsrMethod {
    /** Rewrite the Ethernet destination to the backend's MAC; backend on the same L2 segment. */
    L2("l2"),
    /** IP-in-IP encapsulation (RFC 2003). */
    IPIP("ipip"),
    /** Generic UDP Encapsulation. */
    GUE("gue");

    private final String configName;

    DsrMethod(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
