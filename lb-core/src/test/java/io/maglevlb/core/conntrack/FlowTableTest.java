package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.FlowTable.NOT_INSERTED;
import static io.maglevlb.core.conntrack.FlowTable.NO_ENTRY;
import static io.maglevlb.core.conntrack.TestFlow.TCP;
import static io.maglevlb.core.conntrack.TestFlow.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.conntrack.RecordingListener.Eviction;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FlowTableTest {
    private static final long SECOND_NS = 1_000_000_000L;
    private static final long LONG_TIMEOUT_NS = 3600 * SECOND_NS;
    private static final int CLIENT = 0xc613_0001; // 198.19.0.1
    private static final int VIP = 0xc612_0001; // 198.18.0.1

    private final RecordingListener listener = new RecordingListener();

    private static TestFlow client(int i) {
        return TestFlow.v4(UDP, CLIENT + (i >>> 14), 1024 + (i & 0x3fff), VIP, 53);
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "2, 2", "3, 4", "1000, 1024", "65536, 65536", "65537, 131072"})
    void roundsCapacityUpToAPowerOfTwo(int requested, int expected) {
        assertEquals(expected, new FlowTable(requested, SECOND_NS, 0).capacity());
    }

    @Test
    void rejectsBadSettingsWithTheirValues() {
        var zero = assertThrows(IllegalArgumentException.class, () -> new FlowTable(0, SECOND_NS, 0));
        assertTrue(zero.getMessage().contains("was 0"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new FlowTable(FlowTable.MAX_CAPACITY + 1, 1, 0));
        var timeout = assertThrows(IllegalArgumentException.class, () -> new FlowTable(8, 0, 0));
        assertTrue(timeout.getMessage().contains("idle timeout"), timeout.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new FlowTable(8, SECOND_NS, -1));
        FlowTable t = new FlowTable(8, SECOND_NS, 0);
        assertThrows(IllegalArgumentException.class, () -> t.setIdleTimeoutNs(-5));
        assertThrows(IllegalArgumentException.class, () -> t.setFloodThresholdPerSec(-1));
        assertThrows(IllegalArgumentException.class, () -> t.expire(0, -1));
        assertThrows(NullPointerException.class, () -> t.setListener(null));
        TestFlow f = client(1);
        assertThrows(IllegalArgumentException.class, () -> f.insert(t, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> f.insert(t, FlowTable.MAX_BACKEND_ID + 1, 0));
    }

    @Test
    void buildsFromConfig() {
        FlowTable t = FlowTable.of(new FlowTableConfig(3000, 77), 5 * SECOND_NS, EvictionListener.NONE);
        assertEquals(4096, t.capacity());
        assertEquals(77, t.floodThresholdPerSec());
        assertEquals(5 * SECOND_NS, t.idleTimeoutNs());
    }

    @Test
    void peekFindsALiveFlowWithoutRefreshingCountingOrExpiringIt() {
        FlowTable t = RecordingListener.table(listener, 16, SECOND_NS, 0);
        TestFlow f = TestFlow.v4(UDP, CLIENT, 40000, VIP, 53);
        assertEquals(NO_ENTRY, f.peek(t, 0));
        int id = f.insert(t, 5, 100);

        assertEquals(id, f.peek(t, 100 + SECOND_NS));
        assertEquals(5, t.backendId(id));
        assertEquals(100, t.lastSeenNs(id), "peek does not refresh");
        assertEquals(0, t.hits());
        assertEquals(0, t.misses());
        assertEquals(NO_ENTRY, TestFlow.v4(UDP, CLIENT, 40001, VIP, 53).peek(t, 200));
        assertEquals(NO_ENTRY, TestFlow.v4(UDP, CLIENT, 40000, VIP, 54).peek(t, 200));
        assertEquals(0, t.misses());

        // Idle past the timeout: not tracked as far as peek says, but left for the owner's sweep to remove.
        assertEquals(NO_ENTRY, f.peek(t, 101 + SECOND_NS));
        assertEquals(1, t.size());
        assertTrue(t.isLive(id));
        assertEquals(0, t.evictions());
    }

    @Test
    void insertsAndFindsAnIpv4Flow() {
        FlowTable t = RecordingListener.table(listener, 16, LONG_TIMEOUT_NS, 0);
        TestFlow f = TestFlow.v4(TCP, CLIENT, 40000, VIP, 443);

        assertEquals(NO_ENTRY, f.find(t, 100));
        int id = f.insert(t, 7, 100);
        assertTrue(id >= 0 && id < t.capacity());
        assertEquals(id, f.find(t, 250));
        assertEquals(7, t.backendId(id));
        assertEquals(100, t.createdNs(id));
        assertEquals(250, t.lastSeenNs(id));
        assertEquals(1, t.size());
        assertEquals(1, t.hits());
        assertEquals(1, t.misses());
        assertEquals(1, t.inserts());
        // Another port, another protocol, or the reverse direction is another flow.
        assertEquals(NO_ENTRY, TestFlow.v4(TCP, CLIENT, 40001, VIP, 443).find(t, 300));
        assertEquals(NO_ENTRY, TestFlow.v4(UDP, CLIENT, 40000, VIP, 443).find(t, 300));
        assertEquals(NO_ENTRY, TestFlow.v4(TCP, VIP, 443, CLIENT, 40000).find(t, 300));
    }

    @Test
    void insertsAndFindsIpv6FlowsApartFromTheirIpv4Lookalikes() {
        FlowTable t = RecordingListener.table(listener, 16, LONG_TIMEOUT_NS, 0);
        long docHi = 0x2001_0db8_0000_0000L;
        TestFlow v4 = TestFlow.v4(UDP, CLIENT, 5000, VIP, 53);
        // Same low 64 address bits as the IPv4-mapped flow, different high bits; forced onto the same hash.
        TestFlow v6 = TestFlow.v6(UDP, docHi, v4.srcLo(), 5000, docHi, v4.dstLo(), 53).withHash(v4.hash());
        TestFlow v6OnlySrc = TestFlow.v6(UDP, docHi, v4.srcLo(), 5000, 0, v4.dstLo(), 53).withHash(v4.hash());

        int a = v4.insert(t, 1, 10);
        assertEquals(NO_ENTRY, v6.find(t, 15));
        assertEquals(NO_ENTRY, v6OnlySrc.find(t, 15));
        int b = v6.insert(t, 2, 10);
        int c = v6OnlySrc.insert(t, 3, 10);
        assertEquals(3, Set.of(a, b, c).size());
        assertEquals(a, v4.find(t, 20));
        assertEquals(b, v6.find(t, 20));
        assertEquals(c, v6OnlySrc.find(t, 20));
        assertEquals(1, t.backendId(a));
        assertEquals(2, t.backendId(b));
        assertEquals(3, t.backendId(c));

        TestFlow realV6 = TestFlow.v6(TCP, docHi, 0x1L, 40000, docHi, 0x2L, 443);
        int d = realV6.insert(t, 4, 30);
        assertEquals(d, realV6.find(t, 40));
        assertEquals(NO_ENTRY, TestFlow.v6(TCP, docHi, 0x1L, 40000, docHi, 0x3L, 443).find(t, 40));
    }

    @Test
    void verifiesTheWholeTupleWhenHashesCollide() {
        FlowTable t = RecordingListener.table(listener, 64, LONG_TIMEOUT_NS, 0);
        long hash = 0x1234_5678_9abc_def0L;
        TestFlow base = new TestFlow(UDP, 1, 2, 3, 4, 5, 6, hash);
        // Each differs from base in exactly one field; all share the public hash. (The index is keyed by the
        // table's secret, so they rarely share a home slot any more: FlowTableHashFloodTest covers that side.)
        List<TestFlow> flows = List.of(base,
                new TestFlow(TCP, 1, 2, 3, 4, 5, 6, hash),
                new TestFlow(UDP, 9, 2, 3, 4, 5, 6, hash),
                new TestFlow(UDP, 1, 9, 3, 4, 5, 6, hash),
                new TestFlow(UDP, 1, 2, 9, 4, 5, 6, hash),
                new TestFlow(UDP, 1, 2, 3, 9, 5, 6, hash),
                new TestFlow(UDP, 1, 2, 3, 4, 9, 6, hash),
                new TestFlow(UDP, 1, 2, 3, 4, 5, 9, hash));
        Map<TestFlow, Integer> ids = new HashMap<>();
        for (int i = 0; i < flows.size(); i++) {
            ids.put(flows.get(i), flows.get(i).insert(t, i + 1, 0));
        }
        assertEquals(flows.size(), new HashSet<>(ids.values()).size(), "distinct entries");
        for (int i = 0; i < flows.size(); i++) {
            int id = flows.get(i).find(t, 1);
            assertEquals(ids.get(flows.get(i)), id);
            assertEquals(i + 1, t.backendId(id));
        }
        assertEquals(NO_ENTRY, new TestFlow(UDP, 1, 2, 3, 4, 5, 7, hash).find(t, 1));

        // Removing from the middle of the collision cluster keeps the rest reachable with their ids.
        assertTrue(t.remove(ids.get(flows.get(3))));
        assertTrue(t.remove(ids.get(flows.get(0))));
        t.verifyInvariants();
        for (int i = 0; i < flows.size(); i++) {
            int expected = i == 0 || i == 3 ? NO_ENTRY : ids.get(flows.get(i));
            assertEquals(expected, flows.get(i).find(t, 2));
        }
    }

    @Test
    void insertingATrackedFlowUpdatesItInPlace() {
        FlowTable t = RecordingListener.table(listener, 16, LONG_TIMEOUT_NS, 0);
        TestFlow f = client(1);
        int id = f.insert(t, 3, 10);
        assertEquals(id, f.insert(t, 4, 20));
        assertEquals(4, t.backendId(id));
        assertEquals(10, t.createdNs(id));
        assertEquals(20, t.lastSeenNs(id));
        assertEquals(1, t.inserts());
        assertEquals(1, t.size());
        assertTrue(listener.changes.isEmpty(), "the caller set the backend itself");
    }

    @Test
    void expiresIdleFlowsLazilyOnLookup() {
        FlowTable t = RecordingListener.table(listener, 16, 100, 0);
        TestFlow f = client(1);
        int id = f.insert(t, 5, 0);
        assertEquals(id, f.find(t, 100), "idle for exactly the timeout: still live");
        assertEquals(NO_ENTRY, f.find(t, 201), "idle for longer than the timeout");
        assertEquals(List.of(new Eviction(id, 5, EvictionReason.IDLE)), listener.take());
        assertEquals(0, t.size());
        assertEquals(1, t.evictions(EvictionReason.IDLE));
        assertEquals(1, t.hits());
        assertEquals(1, t.misses());
        assertFalse(t.isLive(id));

        // An insert over an expired flow reclaims it and creates a fresh entry.
        int again = f.insert(t, 6, 300);
        assertEquals(300, t.createdNs(again));
        int replaced = f.insert(t, 8, 500);
        assertEquals(List.of(new Eviction(again, 6, EvictionReason.IDLE)), listener.take());
        assertEquals(500, t.createdNs(replaced));
        assertEquals(8, t.backendId(replaced));
        assertEquals(1, t.size());
        assertEquals(2, t.evictions(EvictionReason.IDLE));
        assertEquals(3, t.inserts());
    }

    @Test
    void sweepRemovesOnlyIdleFlowsInBoundedSteps() {
        FlowTable t = RecordingListener.table(listener, 1024, 1000, 0);
        Set<Integer> oldIds = new HashSet<>();
        Set<Integer> newIds = new HashSet<>();
        for (int i = 0; i < 300; i++) {
            oldIds.add(client(i).insert(t, 1, 0));
        }
        for (int i = 300; i < 600; i++) {
            newIds.add(client(i).insert(t, 2, 1500));
        }
        int removed = 0;
        int calls = 0;
        while (removed < 300) {
            int step = t.expire(2000, 100);
            assertTrue(step <= 100, "at most maxEntriesToScan removals per call");
            removed += step;
            calls++;
            assertTrue(calls <= t.capacity() / 100 + 1, "the cursor resumes instead of starting over");
        }
        assertEquals(300, removed);
        assertEquals(300, t.size());
        Set<Integer> evicted = new HashSet<>();
        for (Eviction e : listener.take()) {
            assertEquals(EvictionReason.IDLE, e.reason());
            assertEquals(1, e.backendId());
            evicted.add(e.entryId());
        }
        assertEquals(oldIds, evicted);
        for (int id : newIds) {
            assertTrue(t.isLive(id));
        }
        assertEquals(0, t.expire(2000, t.capacity()));
        assertEquals(0, t.expire(2000, 0));
        t.verifyInvariants();
    }

    @Test
    void sweepFollowsAChangedIdleTimeout() {
        FlowTable t = RecordingListener.table(listener, 64, LONG_TIMEOUT_NS, 0);
        client(1).insert(t, 1, 0);
        assertEquals(0, t.expire(10 * SECOND_NS, 64));
        t.setIdleTimeoutNs(SECOND_NS);
        assertEquals(1, t.expire(10 * SECOND_NS, 64));
    }

    @Test
    void fullTableReplacesTheOldestFlowsInInsertionOrder() {
        int capacity = 64;
        FlowTable t = RecordingListener.table(listener, capacity, LONG_TIMEOUT_NS, 0);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < capacity; i++) {
            ids.add(client(i).insert(t, 1, 1 + i));
        }
        for (int i = 0; i < capacity / 2; i++) {
            int id = client(1000 + i).insert(t, 2, 1000);
            assertNotEquals(NOT_INSERTED, id);
        }
        List<Eviction> evicted = listener.take();
        assertEquals(capacity / 2, evicted.size());
        for (int i = 0; i < capacity / 2; i++) {
            assertEquals(new Eviction(ids.get(i), 1, EvictionReason.CAPACITY), evicted.get(i), "oldest first");
        }
        for (int i = 0; i < capacity; i++) {
            boolean old = i < capacity / 2;
            assertEquals(old, client(i).find(t, 2000) == NO_ENTRY, "flow " + i);
        }
        for (int i = 0; i < capacity / 2; i++) {
            assertNotEquals(NO_ENTRY, client(1000 + i).find(t, 2000), "new flow " + i + " kept");
        }
        assertEquals(capacity, t.size());
        assertEquals(capacity / 2, t.evictions(EvictionReason.CAPACITY));
        assertEquals(0, t.insertFailures());
        t.verifyInvariants();
    }

    @Test
    void replacementSparesRecentlySeenFlowsOfTheSample() {
        FlowTable t = RecordingListener.table(listener, 16, LONG_TIMEOUT_NS, 0);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            ids.add(client(i).insert(t, 1, 1 + i));
        }
        for (int i = 0; i < 4; i++) {
            client(i).find(t, 100); // the four oldest are active again
        }
        client(99).insert(t, 2, 200);
        assertEquals(List.of(new Eviction(ids.get(4), 1, EvictionReason.CAPACITY)), listener.take());
        for (int i = 0; i < 4; i++) {
            assertNotEquals(NO_ENTRY, client(i).find(t, 300));
        }
    }

    @Test
    void fullTableOfFlowsSeenThisBatchRefusesInsteadOfThrashing() {
        FlowTable t = RecordingListener.table(listener, 8, LONG_TIMEOUT_NS, 0);
        for (int i = 0; i < 8; i++) {
            client(i).insert(t, 1, 50);
        }
        assertEquals(NOT_INSERTED, client(8).insert(t, 1, 50));
        assertEquals(1, t.insertFailures());
        assertEquals(8, t.size());
        assertTrue(listener.take().isEmpty());
        // Next batch: the same flow gets in by replacing one.
        assertNotEquals(NOT_INSERTED, client(8).insert(t, 1, 51));
        assertEquals(EvictionReason.CAPACITY, listener.take().getFirst().reason());
    }

    @Test
    void aFullTableVictimThatIsIdleCountsAsIdle() {
        FlowTable t = RecordingListener.table(listener, 8, 100, 0);
        for (int i = 0; i < 8; i++) {
            client(i).insert(t, 1, 0);
        }
        assertNotEquals(NOT_INSERTED, client(8).insert(t, 1, 1000));
        assertEquals(EvictionReason.IDLE, listener.take().getFirst().reason());
        assertEquals(1, t.evictions(EvictionReason.IDLE));
        assertEquals(0, t.evictions(EvictionReason.CAPACITY));
    }

    /**
     * Property: under a stream of new flows mixed with hits on random tracked flows, a replacement never takes a
     * flow seen in the current batch, and never a flow inserted within the last capacity/8 - 1 inserts (the
     * clock hand must pass every other entry first). Every insert succeeds because time moves each step.
     */
    @Test
    void replacementNeverTakesRecentlyInsertedFlows() {
        int capacity = 256;
        FlowTable t = RecordingListener.table(listener, capacity, LONG_TIMEOUT_NS, 0);
        var random = new java.util.SplittableRandom(42);
        Map<Integer, Integer> insertedAt = new HashMap<>(); // entry id -> insert number
        List<TestFlow> live = new ArrayList<>();
        Map<Integer, TestFlow> byId = new HashMap<>();
        long now = 1;
        for (int n = 0; n < 20_000; n++) {
            now++;
            for (int hit = 0; hit < 3 && !live.isEmpty(); hit++) {
                TestFlow f = live.get(random.nextInt(live.size()));
                assertNotEquals(NO_ENTRY, f.find(t, now));
            }
            TestFlow fresh = client(n);
            int id = fresh.insert(t, 1, now);
            assertNotEquals(NOT_INSERTED, id);
            for (Eviction e : listener.take()) {
                assertEquals(EvictionReason.CAPACITY, e.reason());
                assertTrue(n - insertedAt.get(e.entryId()) >= capacity / FlowTable.EVICTION_SAMPLE - 1,
                        "victim inserted at " + insertedAt.get(e.entryId()) + ", now insert " + n);
                TestFlow gone = byId.remove(e.entryId());
                live.remove(gone);
            }
            insertedAt.put(id, n);
            byId.put(id, fresh);
            live.add(fresh);
        }
        assertEquals(capacity, t.size());
        t.verifyInvariants();
    }

    @Test
    void floodModeStopsInsertsForTheRestOfTheSecond() {
        FlowTable t = RecordingListener.table(listener, 1024, LONG_TIMEOUT_NS, 10);
        long start = 5 * SECOND_NS;
        for (int i = 0; i < 10; i++) {
            assertNotEquals(NOT_INSERTED, client(i).insert(t, 1, start + i));
        }
        assertFalse(t.inFloodMode());
        assertEquals(NOT_INSERTED, client(10).insert(t, 1, start + 10));
        assertTrue(t.inFloodMode());
        assertEquals(NOT_INSERTED, client(11).insert(t, 1, start + SECOND_NS - 1));
        assertEquals(2, t.floodSkips());
        assertEquals(1, t.floodActivations());
        // Tracked flows are still found and updated in flood mode.
        assertNotEquals(NO_ENTRY, client(3).find(t, start + 20));
        assertNotEquals(NOT_INSERTED, client(3).insert(t, 2, start + 21));
        // The next window inserts again.
        assertNotEquals(NOT_INSERTED, client(12).insert(t, 1, start + SECOND_NS));
        assertFalse(t.inFloodMode());
        assertEquals(11, t.inserts());
        assertEquals(11, t.size());
    }

    @Test
    void sweepEndsAFinishedFloodWindow() {
        FlowTable t = RecordingListener.table(listener, 64, LONG_TIMEOUT_NS, 1);
        client(0).insert(t, 1, 0);
        client(1).insert(t, 1, 1);
        assertTrue(t.inFloodMode());
        t.expire(SECOND_NS / 2, 8);
        assertTrue(t.inFloodMode());
        t.expire(SECOND_NS, 8);
        assertFalse(t.inFloodMode());
    }

    @Test
    void floodModeOffInsertsEverything() {
        FlowTable t = RecordingListener.table(listener, 16384, LONG_TIMEOUT_NS, 0);
        for (int i = 0; i < 10_000; i++) {
            assertNotEquals(NOT_INSERTED, client(i).insert(t, 1, 7));
        }
        assertFalse(t.inFloodMode());
        assertEquals(0, t.floodSkips());
        assertEquals(10_000, t.size());
    }

    @Test
    void turningFloodProtectionOffEndsFloodMode() {
        FlowTable t = RecordingListener.table(listener, 64, LONG_TIMEOUT_NS, 1);
        client(0).insert(t, 1, 0);
        assertEquals(NOT_INSERTED, client(1).insert(t, 1, 0));
        t.setFloodThresholdPerSec(0);
        assertFalse(t.inFloodMode());
        assertNotEquals(NOT_INSERTED, client(1).insert(t, 1, 0));
    }

    @Test
    void listenerHearsEveryRemovalWithItsReason() {
        FlowTable t = RecordingListener.table(listener, 8, 100, 0);
        int a = client(0).insert(t, 1, 0);
        int b = client(1).insert(t, 2, 0);
        int c = client(2).insert(t, 3, 0);
        int d = client(3).insert(t, 3, 0);

        assertTrue(t.remove(a));
        assertFalse(t.remove(a), "already free");
        assertEquals(List.of(new Eviction(a, 1, EvictionReason.REMOVED)), listener.take());

        assertEquals(2, t.removeBackend(3));
        assertEquals(Set.of(new Eviction(c, 3, EvictionReason.BACKEND_GONE),
                new Eviction(d, 3, EvictionReason.BACKEND_GONE)), Set.copyOf(listener.take()));

        assertEquals(NO_ENTRY, client(1).find(t, 500));
        assertEquals(List.of(new Eviction(b, 2, EvictionReason.IDLE)), listener.take());

        int e = client(4).insert(t, 4, 600);
        int f = client(5).insert(t, 5, 600);
        t.clear();
        assertEquals(Set.of(new Eviction(e, 4, EvictionReason.REMOVED), new Eviction(f, 5, EvictionReason.REMOVED)),
                Set.copyOf(listener.take()));
        assertEquals(0, t.size());
        assertEquals(4, t.evictions(EvictionReason.REMOVED) + t.evictions(EvictionReason.IDLE));
        assertEquals(3, t.evictions(EvictionReason.REMOVED));
        assertEquals(2, t.evictions(EvictionReason.BACKEND_GONE));
        assertEquals(6, t.evictions());
        t.verifyInvariants();
    }

    @Test
    void entryGettersRejectFreeAndOutOfRangeIds() {
        FlowTable t = new FlowTable(8, SECOND_NS, 0);
        assertThrows(IllegalArgumentException.class, () -> t.backendId(0));
        assertThrows(IllegalArgumentException.class, () -> t.setBackend(0, 1));
        assertThrows(IllegalArgumentException.class, () -> t.touch(0, 1));
        assertThrows(IllegalArgumentException.class, () -> t.remove(8));
        assertThrows(IllegalArgumentException.class, () -> t.isLive(-1));
        int id = client(0).insert(t, 1, 0);
        t.setBackend(id, 9);
        assertEquals(9, t.backendId(id));
        t.touch(id, 77);
        assertEquals(77, t.lastSeenNs(id));
        assertThrows(IllegalArgumentException.class, () -> t.setBackend(id, -1));
    }

    @Test
    void countsStatistics() {
        FlowTable t = new FlowTable(4, SECOND_NS, 0);
        for (int i = 0; i < 4; i++) {
            client(i).insert(t, 1, 10);
        }
        client(0).find(t, 20);
        client(1).find(t, 20);
        client(9).find(t, 20);
        // Full: replaces one of the two flows last seen at 10.
        assertNotEquals(NOT_INSERTED, client(9).insert(t, 1, 20));
        assertEquals(2, t.hits());
        assertEquals(1, t.misses());
        assertEquals(5, t.inserts());
        assertEquals(1, t.evictions(EvictionReason.CAPACITY));
        assertEquals(0, t.insertFailures());
        assertEquals(4, t.size());
    }
}
