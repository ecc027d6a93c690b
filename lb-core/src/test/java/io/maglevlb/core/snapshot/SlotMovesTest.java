package io.maglevlb.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SlotMovesTest {
    private static final InetSocketAddress ADDR = new InetSocketAddress("127.0.0.1", 1);
    private static final int M = 65537;

    private static List<BackendState> backends(int n) {
        List<BackendState> out = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            out.add(new BackendState(i, "backend-" + i, ADDR, 1, false, true));
        }
        return out;
    }

    @Test
    void sameTableMovesNothing() {
        ForwardingSnapshot a = ForwardingSnapshot.build("v", 1, M, backends(5));
        assertEquals(0, SlotMoves.count(a, ForwardingSnapshot.build("v", 2, M, backends(5))));
    }

    @Test
    void oneBackendDownMovesAboutItsShare() {
        List<BackendState> all = backends(10);
        ForwardingSnapshot before = ForwardingSnapshot.build("v", 1, M, all);
        List<BackendState> oneDown = new ArrayList<>(all);
        oneDown.set(3, all.get(3).withHealthy(false));
        ForwardingSnapshot after = ForwardingSnapshot.build("v", 2, M, oneDown);
        int moved = SlotMoves.count(before, after);
        int share = before.slotCount(4);
        assertTrue(moved >= share, "at least the dead backend's slots move: " + moved + " < " + share);
        assertTrue(moved < share * 2, "Maglev moves little else: " + moved + " vs share " + share);
    }

    @Test
    void idsDoNotMatterOnlyNames() {
        List<BackendState> a = List.of(new BackendState(1, "x", ADDR, 1, false, true),
                new BackendState(2, "y", ADDR, 1, false, true));
        List<BackendState> b = List.of(new BackendState(7, "x", ADDR, 1, false, true),
                new BackendState(3, "y", ADDR, 1, false, true));
        assertEquals(0, SlotMoves.count(ForwardingSnapshot.build("v", 1, 101, a), ForwardingSnapshot.build("v", 2, 101, b)));
    }

    @Test
    void allDownMovesEverySlotToNoBackendAndANewSizeMovesAll() {
        List<BackendState> one = List.of(new BackendState(1, "x", ADDR, 1, false, true));
        ForwardingSnapshot up = ForwardingSnapshot.build("v", 1, 101, one);
        ForwardingSnapshot down = ForwardingSnapshot.build("v", 2, 101, List.of(one.getFirst().withHealthy(false)));
        assertEquals(101, SlotMoves.count(up, down));
        assertEquals(103, SlotMoves.count(up, ForwardingSnapshot.build("v", 3, 103, one)));
        assertEquals(101, SlotMoves.count(null, up));
    }
}
