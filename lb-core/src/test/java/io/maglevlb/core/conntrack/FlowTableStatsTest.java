package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.TestFlow.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlowTableStatsTest {
    private static final long HOUR_NS = 3_600_000_000_000L;
    private static final int CLIENT = 0xc613_0001; // 198.19.0.1
    private static final int VIP = 0xc612_0001; // 198.18.0.1

    private static TestFlow flow(int i) {
        return TestFlow.v4(UDP, CLIENT, 1024 + i, VIP, 53);
    }

    @Test
    void sumsEveryTablesCounters() {
        FlowTable a = new FlowTable(16, HOUR_NS, 0);
        FlowTable b = new FlowTable(16, HOUR_NS, 0);
        for (int i = 0; i < 3; i++) {
            flow(i).insert(a, 1, 100);
        }
        flow(0).find(a, 200); // hit
        flow(9).find(a, 200); // miss
        int gone = flow(20).insert(b, 2, 100);
        flow(21).insert(b, 2, 100);
        flow(21).find(b, 200); // hit
        b.remove(gone);

        FlowTableStats sum = FlowTableStats.sum(List.of(a, b));

        assertEquals(4, sum.size());
        assertEquals(a.capacity() + b.capacity(), sum.capacity());
        assertEquals(a.hits() + b.hits(), sum.hits());
        assertEquals(2, sum.hits());
        assertEquals(a.misses() + b.misses(), sum.misses());
        assertEquals(1, sum.evictions(EvictionReason.REMOVED));
        assertEquals(0, sum.evictions(EvictionReason.IDLE));
        assertEquals(EvictionReason.values().length, sum.evictions().size(), "every reason, zeros included");
    }

    @Test
    void noTablesSumToZero() {
        FlowTableStats none = FlowTableStats.sum(List.of());
        assertEquals(0, none.size() + none.hits() + none.misses());
        assertEquals(0L, none.evictions().values().stream().mapToLong(Long::longValue).sum());
        assertEquals(0, new FlowTableStats(0, 0, 0, 0, Map.of()).evictions(EvictionReason.CAPACITY));
    }
}
