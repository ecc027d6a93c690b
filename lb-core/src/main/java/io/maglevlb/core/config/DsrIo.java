package io.maglevlb.core.config;

/** The kernel interface a DSR VIP's packet engine moves frames through ({@code dsr.io}). */
public enum DsrIo {
    /** AF_XDP where the kernel, the driver and the interface allow it, else AF_PACKET, with a log line saying why. */
    AUTO("auto"),
    /** AF_XDP sockets fed by an XDP program; the engine fails to start when that is not possible. */
    AF_XDP("af_xdp"),
    /** AF_PACKET sockets (TPACKET_V3 rings, fanout): works on every interface. */
    AF_PACKET("af_packet");

    private final String configName;

    DsrIo(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }
}
