package io.maglevlb.core.conntrack;

import java.util.EnumMap;
import java.util.Map;

/**
 * The statistics of a VIP's flow tables (one per forwarding thread) summed at one moment, read with the tables'
 * getters from another thread: each value may be a few increments stale (see {@link FlowTable}, "Statistics and
 * threading"). Immutable.
 *
 * @param size flows tracked now
 * @param capacity flows the tables can hold together
 * @param hits lookups that found their flow
 * @param misses lookups that did not
 * @param evictions flows removed, by reason (every reason present, zeros included)
 */
public record FlowTableStats(long size, long capacity, long hits, long misses, Map<EvictionReason, Long> evictions) {
    public FlowTableStats {
        evictions = Map.copyOf(evictions);
    }

    /** Sums {@code tables}' getters; allocates, so for scrapes, not for a forwarding thread. */
    public static FlowTableStats sum(Iterable<FlowTable> tables) {
        long size = 0;
        long capacity = 0;
        long hits = 0;
        long misses = 0;
        long[] evicted = new long[EvictionReason.values().length];
        for (FlowTable t : tables) {
            size += t.size();
            capacity += t.capacity();
            hits += t.hits();
            misses += t.misses();
            for (EvictionReason r : EvictionReason.values()) {
                evicted[r.ordinal()] += t.evictions(r);
            }
        }
        Map<EvictionReason, Long> byReason = new EnumMap<>(EvictionReason.class);
        for (EvictionReason r : EvictionReason.values()) {
            byReason.put(r, evicted[r.ordinal()]);
        }
        return new FlowTableStats(size, capacity, hits, misses, byReason);
    }

    /** Flows removed for {@code reason}. */
    public long evictions(EvictionReason reason) {
        return evictions.getOrDefault(reason, 0L);
    }
}
