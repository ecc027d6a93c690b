package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.FlowTable.NOT_INSERTED;
import static io.maglevlb.core.conntrack.FlowTable.NO_ENTRY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Model-based property test: 100k seeded random operations against the table and a {@link HashMap} reference
 * of what it should hold. Checks after every operation that lookups answer like the reference, that an entry's
 * id never changes while it lives and is reused only after the listener heard of its removal, that every
 * removal is reported once with the right reason and backend, and that size and internal invariants hold.
 * Half the flows share a few hashes (some homed at the end of the index, so clusters wrap) to drive long
 * collision chains through backward-shift deletion.
 */
class FlowTableModelTest {
    private static final int CAPACITY = 512;
    private static final int UNIVERSE = 1600;
    private static final int OPS = 100_000;
    private static final long TIMEOUT_NS = 5000;
    private static final int BACKENDS = 6;
    private static final long[] COLLIDING_HASHES = {
        0x3ffL, 0x3feL, 0x3fdL, 0x0L, 0x1L, 0x200L, 0x7_0000_0200L, 0x5_0000_03ffL};

    /** The reference's record of one tracked flow. */
    private static final class Expected {
        final int id;
        int backend;
        long lastSeenNs;
        final long createdNs;

        Expected(int id, int backend, long nowNs) {
            this.id = id;
            this.backend = backend;
            this.lastSeenNs = nowNs;
            this.createdNs = nowNs;
        }
    }

    private record Removal(int id, EvictionReason reason) {}

    private final Map<TestFlow, Expected> byFlow = new HashMap<>();
    private final Map<Integer, TestFlow> byId = new HashMap<>();
    private final List<Removal> removals = new ArrayList<>();
    private FlowTable table;
    private long now;

    private boolean expired(Expected e) {
        return now - e.lastSeenNs > TIMEOUT_NS;
    }

    /** Checks each callback against the reference and applies it there. */
    private final EvictionListener listener = (entryId, backendId, reason) -> {
        TestFlow flow = byId.get(entryId);
        assertNotNull(flow, "removal of entry " + entryId + " which the reference does not hold");
        Expected e = byFlow.get(flow);
        assertTrue(table.isLive(entryId));
        assertEquals(e.backend, backendId, "backend reported for entry " + entryId);
        switch (reason) {
            case IDLE -> assertTrue(expired(e), "IDLE removal of a flow seen " + (now - e.lastSeenNs) + " ns ago");
            case CAPACITY -> {
                assertEquals(CAPACITY, byFlow.size(), "replacement only when full");
                assertFalse(expired(e), "an idle victim is reported as IDLE");
                assertTrue(now - e.lastSeenNs > 0, "victim seen in the current batch");
            }
            case BACKEND_GONE, REMOVED -> {}
        }
        byFlow.remove(flow);
        byId.remove(entryId);
        removals.add(new Removal(entryId, reason));
    };

    @ParameterizedTest
    @ValueSource(longs = {1, 20260511})
    void behavesLikeTheReference(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        table = new FlowTable(CAPACITY, TIMEOUT_NS, 0, listener);
        List<TestFlow> universe = new ArrayList<>();
        for (int i = 0; i < UNIVERSE; i++) {
            TestFlow f = TestFlow.v4(TestFlow.UDP, 0xc613_0000 + i / 3, 1000 + i % 3, 0xc612_0001, 53);
            universe.add(i % 2 == 0 ? f : f.withHash(COLLIDING_HASHES[(i / 2) % COLLIDING_HASHES.length]));
        }
        now = 1_000;
        long capacityEvictions = 0;
        for (int op = 0; op < OPS; op++) {
            now += random.nextInt(3);
            removals.clear();
            int dice = random.nextInt(10_000);
            if (dice < 3500) {
                capacityEvictions += insert(universe.get(random.nextInt(UNIVERSE)), random.nextInt(BACKENDS));
            } else if (dice < 3800) {
                remove(random);
            } else if (dice < 4300) {
                sweep(random.nextInt(8) == 0 ? CAPACITY : random.nextInt(64));
            } else if (dice < 4900) {
                setBackend(random, random.nextInt(BACKENDS));
            } else if (dice < 5800) {
                touch(random);
            } else if (dice < 5805) {
                removeBackend(random.nextInt(BACKENDS));
            } else if (dice < 5810) {
                now += TIMEOUT_NS / 2 + random.nextInt((int) TIMEOUT_NS); // a quiet spell: many flows go idle
            } else if (dice < 5811) {
                clear();
            } else {
                find(universe.get(random.nextInt(UNIVERSE)));
            }
            assertEquals(byFlow.size(), table.size(), "size after op " + op);
            if (op % 2000 == 0 || op == OPS - 1) {
                checkEverything();
            }
        }
        assertTrue(capacityEvictions > 1000, "the run filled the table: " + capacityEvictions);
        assertEquals(capacityEvictions, table.evictions(EvictionReason.CAPACITY));
        for (EvictionReason reason : EvictionReason.values()) {
            assertTrue(table.evictions(reason) > 100, reason + " removals exercised: " + table.evictions(reason));
        }
    }

    private void find(TestFlow flow) {
        Expected e = byFlow.get(flow);
        int id = flow.find(table, now);
        if (e == null) {
            assertEquals(NO_ENTRY, id);
            assertEquals(List.of(), removals);
        } else if (!expired(e)) {
            assertEquals(e.id, id, "a live flow keeps its entry id");
            assertEquals(List.of(), removals);
            e.lastSeenNs = now;
        } else {
            assertEquals(NO_ENTRY, id);
            assertEquals(List.of(new Removal(e.id, EvictionReason.IDLE)), removals);
        }
    }

    /** Returns the number of capacity replacements it caused. */
    private int insert(TestFlow flow, int backend) {
        Expected e = byFlow.get(flow);
        boolean live = e != null && !expired(e);
        int sizeWithoutExpired = byFlow.size() - (e != null && !live ? 1 : 0);
        int id = flow.insert(table, backend, now);
        if (live) {
            assertEquals(e.id, id);
            assertEquals(List.of(), removals);
            e.backend = backend;
            e.lastSeenNs = now;
            return 0;
        }
        List<Removal> expectedFirst = e == null ? List.of() : List.of(new Removal(e.id, EvictionReason.IDLE));
        assertEquals(expectedFirst, removals.subList(0, expectedFirst.size()));
        List<Removal> replacements = removals.subList(expectedFirst.size(), removals.size());
        if (id == NOT_INSERTED) {
            assertEquals(CAPACITY, sizeWithoutExpired, "only a full table refuses");
            assertEquals(List.of(), replacements);
            return 0;
        }
        assertEquals(sizeWithoutExpired == CAPACITY ? 1 : 0, replacements.size(), "replacements " + replacements);
        assertNull(byId.get(id), "entry id " + id + " given out while still in use");
        Expected fresh = new Expected(id, backend, now);
        byFlow.put(flow, fresh);
        byId.put(id, flow);
        return (int) replacements.stream().filter(r -> r.reason() == EvictionReason.CAPACITY).count();
    }

    private void remove(SplittableRandom random) {
        int id = random.nextInt(CAPACITY);
        boolean held = byId.containsKey(id);
        assertEquals(held, table.remove(id));
        assertEquals(held ? List.of(new Removal(id, EvictionReason.REMOVED)) : List.of(), removals);
    }

    private void sweep(int maxScan) {
        int removed = table.expire(now, maxScan);
        assertEquals(removed, removals.size());
        assertTrue(removed <= maxScan);
        assertTrue(removals.stream().allMatch(r -> r.reason() == EvictionReason.IDLE));
        if (maxScan == CAPACITY) {
            assertTrue(byFlow.values().stream().noneMatch(this::expired), "a full sweep leaves no idle flow");
        }
    }

    private void setBackend(SplittableRandom random, int backend) {
        int id = random.nextInt(CAPACITY);
        if (byId.containsKey(id)) {
            table.setBackend(id, backend);
            byFlow.get(byId.get(id)).backend = backend;
        }
    }

    private void touch(SplittableRandom random) {
        int id = random.nextInt(CAPACITY);
        if (byId.containsKey(id)) {
            table.touch(id, now);
            byFlow.get(byId.get(id)).lastSeenNs = now;
        }
    }

    private void removeBackend(int backend) {
        long expected = byFlow.values().stream().filter(e -> e.backend == backend).count();
        assertEquals(expected, table.removeBackend(backend));
        assertTrue(removals.stream().allMatch(r -> r.reason() == EvictionReason.BACKEND_GONE));
        assertTrue(byFlow.values().stream().noneMatch(e -> e.backend == backend));
    }

    private void clear() {
        int before = byFlow.size();
        table.clear();
        assertEquals(before, removals.size());
        assertTrue(byFlow.isEmpty());
    }

    private void checkEverything() {
        table.verifyInvariants();
        int live = 0;
        for (int id = 0; id < CAPACITY; id++) {
            assertEquals(byId.containsKey(id), table.isLive(id), "entry " + id);
            live += table.isLive(id) ? 1 : 0;
        }
        assertEquals(byFlow.size(), live);
        for (Map.Entry<TestFlow, Expected> entry : byFlow.entrySet()) {
            Expected e = entry.getValue();
            assertEquals(e.backend, table.backendId(e.id));
            assertEquals(e.lastSeenNs, table.lastSeenNs(e.id));
            assertEquals(e.createdNs, table.createdNs(e.id));
        }
    }
}
