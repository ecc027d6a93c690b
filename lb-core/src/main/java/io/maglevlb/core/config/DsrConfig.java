package io.maglevlb.core.config;

/**
 * DSR settings of a {@code mode: dsr} VIP.
 *
 * @param method l2, ipip or gue
 * @param interfaceName the interface the engine receives VIP traffic on and sends from
 * @param guePort gue only: the UDP destination port of the encapsulation
 * @param ingressDrop end the VIP's packets in the interface's ingress hook once the engine has its copy, so the
 *     host's IP stack does not also route (and drop or answer) every packet the engine forwards
 */
public record DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop) {
    public static final int DEFAULT_GUE_PORT = 6080;
    public static final boolean DEFAULT_INGRESS_DROP = true;

    /** Settings with the default {@code ingress_drop}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort) {
        this(method, interfaceName, guePort, DEFAULT_INGRESS_DROP);
    }
}
