package io.maglevlb.core.conntrack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

/**
 * Records every callback, and checks at each call the listener contract: the entry is still in the table and
 * its backend is the one reported.
 */
final class RecordingListener implements EvictionListener {
    record Eviction(int entryId, int backendId, EvictionReason reason) {}

    record Change(int entryId, int oldBackendId, int newBackendId) {}

    final List<Eviction> evictions = new ArrayList<>();
    final List<Change> changes = new ArrayList<>();
    FlowTable table;

    @Override
    public void evicted(int entryId, int backendId, EvictionReason reason) {
        assertTrue(table.isLive(entryId), "evicted entry must still be live during the callback");
        assertEquals(backendId, table.backendId(entryId), "reported backend");
        evictions.add(new Eviction(entryId, backendId, reason));
    }

    @Override
    public void backendChanged(int entryId, int oldBackendId, int newBackendId) {
        changes.add(new Change(entryId, oldBackendId, newBackendId));
    }

    List<Eviction> take() {
        List<Eviction> copy = List.copyOf(evictions);
        evictions.clear();
        return copy;
    }

    static FlowTable table(RecordingListener listener, int capacity, long idleTimeoutNs, int floodPerSec) {
        FlowTable t = new FlowTable(capacity, idleTimeoutNs, floodPerSec, listener);
        listener.table = t;
        return t;
    }
}
