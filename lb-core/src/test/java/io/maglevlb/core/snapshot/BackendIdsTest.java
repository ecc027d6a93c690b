package io.maglevlb.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BackendIdsTest {

    @Test
    void handsOutTheLowestFreeIdFromOne() {
        BackendIds ids = new BackendIds();
        assertEquals(1, ids.allocate());
        assertEquals(2, ids.allocate());
        assertEquals(3, ids.allocate());
        ids.release(2);
        assertEquals(2, ids.allocate(), "a freed id is reused");
        assertEquals(4, ids.allocate());
    }

    @Test
    void zeroStaysReservedAndReservedIdsAreSkipped() {
        BackendIds ids = new BackendIds();
        ids.release(0); // no effect: 0 means "no backend"
        ids.reserve(1);
        ids.reserve(3);
        assertEquals(2, ids.allocate());
        assertEquals(4, ids.allocate());
    }
}
