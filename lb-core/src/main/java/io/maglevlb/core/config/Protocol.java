package io.maglevlb.core.config;

/** Transport protocol of a VIP. */
public enum Protocol {
    TCP("tcp", 6),
    UDP("udp", 17);

    private final String configName;
    private final int ipProtocol;

    Protocol(String configName, int ipProtocol) {
        this.configName = configName;
        this.ipProtocol = ipProtocol;
    }

    public String configName() {
        return configName;
    }

    /** IANA protocol number, as hashed into 5-tuples. */
    public int ipProtocol() {
        return ipProtocol;
    }
}
