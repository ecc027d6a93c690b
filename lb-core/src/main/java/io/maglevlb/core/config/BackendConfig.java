package io.maglevlb.core.config;

import java.net.InetSocketAddress;

/**
 * One backend of a VIP as configured.
 *
 * @param name unique within the VIP; the Maglev hash key, so keep it when re-addressing a backend
 * @param address IP literal and port
 * @param weight share of the table relative to the VIP's other backends; 0 = drained
 */
public record BackendConfig(String name, InetSocketAddress address, int weight) {
    public static final int DEFAULT_WEIGHT = 1;
}
