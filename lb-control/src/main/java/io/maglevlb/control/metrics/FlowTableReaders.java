package io.maglevlb.control.metrics;

import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * How to read flow table (connection tracking) counters from the dataplane's aggregate {@code T}.
 *
 * @param capacity flows the tables of all forwarding threads can hold together
 * @param evictions by reason label (e.g. {@code idle}, {@code capacity}, {@code backend})
 */
public record FlowTableReaders<T>(
        ToDoubleFunction<T> size,
        ToDoubleFunction<T> capacity,
        ToDoubleFunction<T> hits,
        ToDoubleFunction<T> misses,
        Map<String, ToDoubleFunction<T>> evictions) {

    public FlowTableReaders {
        evictions = Map.copyOf(evictions);
    }
}
