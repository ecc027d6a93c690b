package io.maglevlb.core.config;

/**
 * Connection tracking of each forwarding thread.
 *
 * @param capacity flows each forwarding thread tracks at most (rounded up to a power of two)
 * @param floodThreshold new flows per second per thread above which flows stop being inserted and are
 *     forwarded by the Maglev table alone; 0 = never
 */
public record FlowTableConfig(int capacity, int floodThreshold) {
    public static final int DEFAULT_CAPACITY = 65536;
    public static final int DEFAULT_FLOOD_THRESHOLD = 0;

    public static FlowTableConfig defaults() {
        return new FlowTableConfig(DEFAULT_CAPACITY, DEFAULT_FLOOD_THRESHOLD);
    }
}
