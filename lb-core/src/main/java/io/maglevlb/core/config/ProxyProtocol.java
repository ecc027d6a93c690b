package io.maglevlb.core.config;

/** Header sent to TCP backends ahead of the client's bytes so they see the client address. */
public enum ProxyProtocol {
    NONE("none"),
    V2("v2");

    private final String configName;

    ProxyProtocol(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
