package io.maglevlb.core.flow;

/** Which part of a flow picks its backend. */
public enum HashMode {
    /** Protocol, source and destination address and port: flows spread independently. */
    FIVE_TUPLE("5-tuple"),
    /** Source address only: every flow of one client goes to one backend. */
    SOURCE_IP("source-ip");

    private final String configName;

    HashMode(String configName) {
        this.configName = configName;
    }

    /** The spelling in YAML. */
    public String configName() {
        return configName;
    }
}
