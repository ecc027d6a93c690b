package io.maglevlb.core.config;

/**
 * DSR settings of a {@code mode: dsr} VIP.
 *
 * @param method l2, ipip or gue
 * @param interfaceName the interface the engine receives VIP traffic on and sends from
 * @param guePort gue only: the UDP destination port of the encapsulation
 * @param ingressDrop end the VIP's packets in the interface's ingress hook once the engine has its copy, so the
 *     host's IP stack does not also route (and drop or answer) every packet the engine forwards
 * @param io the kernel interface the engine uses: auto, af_xdp or af_packet
 */
public record DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop, DsrIo io) {
    public static final int DEFAULT_GUE_PORT = 6080;
    public static final boolean DEFAULT_INGRESS_DROP = true;
    /**
     * af_packet until {@code auto} is safe to be the default: AF_XDP serves one DSR VIP per interface (see
     * docs/dsr.md), so with several VIPs on one interface {@code auto} would give them different engines.
     */
    public static final DsrIo DEFAULT_IO = DsrIo.AF_PACKET;

    public DsrConfig {
        java.util.Objects.requireNonNull(io, "io");
    }

    /** Settings with the default {@code io}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop) {
        this(method, interfaceName, guePort, ingressDrop, DEFAULT_IO);
    }

    /** Settings with the default {@code ingress_drop}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort) {
        this(method, interfaceName, guePort, DEFAULT_INGRESS_DROP);
    }
}
