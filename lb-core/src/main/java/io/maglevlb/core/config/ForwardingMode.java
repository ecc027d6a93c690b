package io.maglevlb.core.config;

/** How a VIP's traffic reaches its backends. */
public enum ForwardingMode {
    /** Terminate the flow and open one toward the backend (TCP relay, UDP session). */
    PROXY("proxy"),
    /** Direct server return through the packet engine: backends answer clients directly. */
    DSR("dsr");

    private final String configName;

    ForwardingMode(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
