package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.FlowTable.NOT_INSERTED;
import static io.maglevlb.core.conntrack.TestFlow.UDP;
import static io.maglevlb.core.snapshot.ForwardingSnapshot.NO_BACKEND;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.conntrack.RecordingListener.Change;
import io.maglevlb.core.conntrack.RecordingListener.Eviction;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link FlowTable#resolve}: the forwarding decision against real snapshots. */
class FlowTableResolveTest {
    private static final long LONG_TIMEOUT_NS = 3_600_000_000_000L;
    private static final int TABLE_SIZE = 1009;
    private static final int FLOWS = 3000;

    private static final BackendState A = backend(1, "a");
    private static final BackendState B = backend(2, "b");
    private static final BackendState C = backend(3, "c");

    private final RecordingListener listener = new RecordingListener();
    private final List<TestFlow> flows = new ArrayList<>();

    FlowTableResolveTest() {
        for (int i = 0; i < FLOWS; i++) {
            flows.add(TestFlow.v4(UDP, 0xc613_0000 + i, 20000 + i % 7, 0xc612_0001, 53));
        }
    }

    private static BackendState backend(int id, String name) {
        return new BackendState(id, name, new InetSocketAddress("127.0.0.1", 9000 + id), 1, false, true);
    }

    private static ForwardingSnapshot snapshot(long generation, BackendState... backends) {
        return ForwardingSnapshot.build("vip", generation, TABLE_SIZE, List.of(backends));
    }

    /** Resolves every flow once at {@code now}; returns the backend per flow. */
    private int[] resolveAll(FlowTable t, ForwardingSnapshot s, long now) {
        int[] chosen = new int[flows.size()];
        for (int i = 0; i < flows.size(); i++) {
            chosen[i] = flows.get(i).resolve(t, s, now);
        }
        return chosen;
    }

    @Test
    void newFlowsFollowTheMaglevTableAndHitsReuseTheirEntry() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        ForwardingSnapshot s = snapshot(1, A, B, C);
        int[] entries = new int[FLOWS];
        for (int i = 0; i < FLOWS; i++) {
            TestFlow f = flows.get(i);
            assertEquals(s.backendFor(f.hash()), f.resolve(t, s, 10));
            entries[i] = t.lastResolvedEntry();
            assertNotEquals(NOT_INSERTED, entries[i]);
            assertEquals(s.backendFor(f.hash()), t.backendId(entries[i]));
        }
        for (int i = 0; i < FLOWS; i++) {
            TestFlow f = flows.get(i);
            assertEquals(s.backendFor(f.hash()), f.resolve(t, s, 20));
            assertEquals(entries[i], t.lastResolvedEntry(), "same entry on a hit");
            assertEquals(20, t.lastSeenNs(entries[i]));
        }
        assertEquals(FLOWS, t.inserts());
        assertEquals(FLOWS, t.misses());
        assertEquals(FLOWS, t.hits());
        assertEquals(0, t.backendChanges());
    }

    @Test
    void flowsStayOnTheirBackendWhenANewBackendTakesTheirSlot() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        ForwardingSnapshot before = snapshot(1, A, B);
        int[] first = resolveAll(t, before, 10);
        ForwardingSnapshot after = snapshot(2, A, B, C);
        int movedInTable = 0;
        for (int i = 0; i < FLOWS; i++) {
            TestFlow f = flows.get(i);
            if (after.backendFor(f.hash()) != first[i]) {
                movedInTable++;
            }
            assertEquals(first[i], f.resolve(t, after, 20), "tracked flow " + i + " keeps its backend");
        }
        assertTrue(movedInTable > FLOWS / 5, "the new table moves a third of the slots to c: " + movedInTable);
        assertEquals(0, t.backendChanges());
        assertTrue(listener.changes.isEmpty());
    }

    @Test
    void flowsOfAnUnhealthyBackendMoveInPlaceAndTheRestStay() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        ForwardingSnapshot before = snapshot(1, A, B, C);
        int[] first = resolveAll(t, before, 10);
        int[] entries = new int[FLOWS];
        for (int i = 0; i < FLOWS; i++) {
            entries[i] = flows.get(i).find(t, 11);
        }
        ForwardingSnapshot bDown = snapshot(2, A, B.withHealthy(false), C);
        Set<Change> expectedChanges = new HashSet<>();
        for (int i = 0; i < FLOWS; i++) {
            TestFlow f = flows.get(i);
            int got = f.resolve(t, bDown, 20);
            assertEquals(entries[i], t.lastResolvedEntry(), "entry id kept");
            if (first[i] == B.id()) {
                assertEquals(bDown.backendFor(f.hash()), got);
                assertNotEquals(B.id(), got);
                expectedChanges.add(new Change(entries[i], B.id(), got));
            } else {
                assertEquals(first[i], got);
            }
            assertEquals(got, t.backendId(entries[i]));
        }
        assertTrue(expectedChanges.size() > FLOWS / 5, "about a third of the flows were on b");
        assertEquals(expectedChanges, Set.copyOf(listener.changes));
        assertEquals(expectedChanges.size(), listener.changes.size());
        assertEquals(expectedChanges.size(), t.backendChanges());
        assertTrue(listener.take().isEmpty(), "moving a flow removes nothing");

        // Once moved, a flow stays on its new backend even after b recovers.
        ForwardingSnapshot bUp = snapshot(3, A, B, C);
        for (Change c : expectedChanges) {
            int i = indexOfEntry(entries, c.entryId());
            assertEquals(c.newBackendId(), flows.get(i).resolve(t, bUp, 30));
        }
    }

    private static int indexOfEntry(int[] entries, int entry) {
        for (int i = 0; i < entries.length; i++) {
            if (entries[i] == entry) {
                return i;
            }
        }
        throw new AssertionError("no flow has entry " + entry);
    }

    @Test
    void flowsOfARemovedBackendMove() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        int[] first = resolveAll(t, snapshot(1, A, B, C), 10);
        ForwardingSnapshot withoutC = snapshot(2, A, B);
        int moved = 0;
        for (int i = 0; i < FLOWS; i++) {
            int got = flows.get(i).resolve(t, withoutC, 20);
            if (first[i] == C.id()) {
                moved++;
                assertEquals(withoutC.backendFor(flows.get(i).hash()), got);
            } else {
                assertEquals(first[i], got);
            }
        }
        assertTrue(moved > 0);
        assertEquals(moved, t.backendChanges());
    }

    @Test
    void flowsOfADrainedBackendStayButNewFlowsAvoidIt() {
        FlowTable t = RecordingListener.table(listener, 8192, LONG_TIMEOUT_NS, 0);
        List<TestFlow> tracked = flows.subList(0, FLOWS / 2);
        List<TestFlow> later = flows.subList(FLOWS / 2, FLOWS);
        ForwardingSnapshot before = snapshot(1, A, B, C);
        int onA = 0;
        int[] first = new int[tracked.size()];
        for (int i = 0; i < tracked.size(); i++) {
            first[i] = tracked.get(i).resolve(t, before, 10);
            onA += first[i] == A.id() ? 1 : 0;
        }
        assertTrue(onA > 0);
        ForwardingSnapshot aDrained = snapshot(2, A.withDrained(true), B, C);
        for (int i = 0; i < tracked.size(); i++) {
            assertEquals(first[i], tracked.get(i).resolve(t, aDrained, 20));
        }
        for (TestFlow f : later) {
            assertNotEquals(A.id(), f.resolve(t, aDrained, 20), "a drained backend takes no new flows");
        }
        assertEquals(0, t.backendChanges());
    }

    @Test
    void whenNoBackendIsLeftTrackedFlowsAreDroppedAndNewOnesNotTracked() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        resolveAll(t, snapshot(1, A, B), 10);
        ForwardingSnapshot allDown = snapshot(2, A.withHealthy(false), B.withHealthy(false));
        for (TestFlow f : flows) {
            assertEquals(NO_BACKEND, f.resolve(t, allDown, 20));
            assertEquals(NOT_INSERTED, t.lastResolvedEntry());
        }
        assertEquals(0, t.size());
        List<Eviction> evicted = listener.take();
        assertEquals(FLOWS, evicted.size());
        assertTrue(evicted.stream().allMatch(e -> e.reason() == EvictionReason.BACKEND_GONE));
        assertEquals(FLOWS, t.evictions(EvictionReason.BACKEND_GONE));
        assertEquals(NO_BACKEND, flows.getFirst().resolve(t, allDown, 30));
        assertEquals(0, t.size());
        assertEquals(FLOWS, t.inserts());
    }

    @Test
    void removeBackendDropsOnlyThatBackendsFlows() {
        FlowTable t = RecordingListener.table(listener, 4096, LONG_TIMEOUT_NS, 0);
        int[] first = resolveAll(t, snapshot(1, A, B, C), 10);
        int onC = 0;
        for (int b : first) {
            onC += b == C.id() ? 1 : 0;
        }
        assertEquals(onC, t.removeBackend(C.id()));
        assertEquals(FLOWS - onC, t.size());
        List<Eviction> evicted = listener.take();
        assertEquals(onC, evicted.size());
        assertTrue(evicted.stream().allMatch(e -> e.backendId() == C.id()
                && e.reason() == EvictionReason.BACKEND_GONE));
        t.verifyInvariants();
    }

    @Test
    void aFullTableInFloodModeStillAnswersByMaglev() {
        FlowTable t = RecordingListener.table(listener, 64, LONG_TIMEOUT_NS, 32);
        ForwardingSnapshot s = snapshot(1, A, B, C);
        long now = 5;
        int tracked = 0;
        for (TestFlow f : flows) {
            assertEquals(s.backendFor(f.hash()), f.resolve(t, s, now));
            tracked += t.lastResolvedEntry() == NOT_INSERTED ? 0 : 1;
        }
        assertEquals(32, tracked, "flood threshold reached inside one second");
        assertTrue(t.inFloodMode());
        assertEquals(FLOWS - 32, t.floodSkips());

        // Full table (every entry seen this batch) without flood protection: refuses, still answers.
        FlowTable full = RecordingListener.table(new RecordingListener(), 64, LONG_TIMEOUT_NS, 0);
        for (TestFlow f : flows) {
            assertEquals(s.backendFor(f.hash()), f.resolve(full, s, now));
        }
        assertEquals(64, full.size());
        assertEquals(FLOWS - 64, full.insertFailures());
        assertEquals(0, full.evictions());
    }
}
