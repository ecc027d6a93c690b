package io.maglevlb.core.config;

/**
 * DSR settings of a {@code mode: dsr} VIP.
 *
 * @param method l2, ipip or gue
 * @param interfaceName the interface the engine receives VIP traffic on and sends from
 * @param guePort gue only: the UDP destination port of the encapsulation
 */
public record DsrConfig(DsrMethod method, String interfaceName, int guePort) {
    public static final int DEFAULT_GUE_PORT = 6080;
}
