package io.maglevlb.control.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.core.snapshot.SlotMoves;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link VipRuntime#slotsMoved()} (maglev_table_slots_moved_total): the sum of every rebuild's moved slots. */
class VipRuntimeSlotsMovedTest {
    @Test
    void eachRebuildAddsTheSlotsThatChangedOwner() {
        List<BackendConfig> backends = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            backends.add(new BackendConfig("b" + i, new InetSocketAddress("127.0.0.1", 9000 + i), 1));
        }
        VipRuntime v = new VipRuntime(TestConfigs.tcpVip("web", new InetSocketAddress("127.0.0.1", 8080), backends));
        assertEquals(0, v.slotsMoved(), "the first table moves nothing");

        ForwardingSnapshot s1 = v.snapshot();
        v.setHealthy("b2", false, "test");
        ForwardingSnapshot s2 = v.snapshot();
        int down = SlotMoves.count(s1, s2);
        int b2 = v.backend("b2").orElseThrow().id();
        assertTrue(down >= s1.slotCount(b2), "b2's slots move (and Maglev moves a few more)");
        assertTrue(down < s1.tableSize() / 2, "but not half the table: " + down);
        assertEquals(down, v.slotsMoved());

        v.setDrained("b3", true);
        int drained = SlotMoves.count(s2, v.snapshot());
        assertTrue(drained > 0);
        assertEquals(down + drained, v.slotsMoved());

        assertTrue(!v.setDrained("b3", true), "no change, no rebuild");
        assertEquals(down + drained, v.slotsMoved());
    }
}
