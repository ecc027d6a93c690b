package io.maglevlb.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ForwardingSnapshotTest {
    private static final int M = 65537;

    @Test
    void slotsHoldTheIdsOfTheMaglevTableBackends() {
        List<BackendState> backends = backends(10, 100); // ids 100..109, names b-00..b-09
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 3, M, backends);
        MaglevTable names = MaglevTable.build(maglev(backends), M);
        for (int s = 0; s < M; s++) {
            String expectedName = names.backends().get(names.slot(s)).name();
            assertEquals(expectedName, snapshot.backend(snapshot.slotOwner(s)).name(), "slot " + s);
        }
        int[] table = snapshot.table();
        for (BackendState b : backends) {
            int count = 0;
            for (int id : table) {
                count += id == b.id() ? 1 : 0;
            }
            assertEquals(count, snapshot.slotCount(b.id()));
            assertTrue(count == M / 10 || count == M / 10 + 1);
            assertEquals(b, snapshot.backend(b.id()));
        }
        assertEquals("web", snapshot.vip());
        assertEquals(3, snapshot.generation());
        assertEquals(M, snapshot.tableSize());
        assertEquals(110, snapshot.idLimit());
        assertNull(snapshot.backend(0));
        assertNull(snapshot.backend(99));
        assertNull(snapshot.backend(110));
        assertEquals(0, snapshot.slotCount(ForwardingSnapshot.NO_BACKEND));
        assertFalse(snapshot.isEmpty());
    }

    @Test
    void backendForIsTheSlotOfTheHash() {
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends(7, 1));
        SplittableRandom random = new SplittableRandom(31);
        for (int i = 0; i < 10_000; i++) {
            long hash = random.nextLong();
            assertEquals(snapshot.slotOwner(MaglevTable.slotIndex(hash, M)), snapshot.backendFor(hash));
        }
    }

    @Test
    void unhealthyAndDrainedBackendsGetNoSlots() {
        List<BackendState> backends = new ArrayList<>(backends(6, 1));
        BackendState down = backends.get(1).withHealthy(false);
        BackendState drained = backends.get(2).withDrained(true);
        BackendState zeroWeight = new BackendState(backends.get(3).id(), backends.get(3).name(),
                backends.get(3).address(), 0, false, true);
        backends.set(1, down);
        backends.set(2, drained);
        backends.set(3, zeroWeight);
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends);
        for (BackendState b : List.of(down, drained, zeroWeight)) {
            assertEquals(0, snapshot.slotCount(b.id()), b.name());
            assertEquals(b, snapshot.backend(b.id()), "still known to the snapshot");
        }
        assertEquals(List.of(backends.get(0), backends.get(4), backends.get(5)), snapshot.tableBackends());
        assertEquals(6, snapshot.backends().size());
        for (int id : snapshot.table()) {
            assertTrue(id == backends.get(0).id() || id == backends.get(4).id() || id == backends.get(5).id());
        }
        // Drained (by operator or by weight 0): no new flows, existing flows stay. Unhealthy: flows move.
        assertTrue(snapshot.keepsFlows(drained.id()));
        assertTrue(snapshot.keepsFlows(zeroWeight.id()));
        assertFalse(snapshot.keepsFlows(down.id()));
        assertTrue(snapshot.keepsFlows(backends.get(0).id()));
        assertFalse(snapshot.keepsFlows(0));
        assertFalse(snapshot.keepsFlows(-1));
        assertFalse(snapshot.keepsFlows(1000));
        // The table equals the table of the participating backends alone.
        ForwardingSnapshot alone = ForwardingSnapshot.build("web", 1, M,
                List.of(backends.get(0), backends.get(4), backends.get(5)));
        assertArrayEquals(alone.table(), snapshot.table());
        assertEquals(alone.digest(), snapshot.digest());
    }

    @Test
    void allDownGivesNoBackendEverywhere() {
        List<BackendState> backends = new ArrayList<>();
        for (BackendState b : backends(4, 1)) {
            backends.add(b.withHealthy(false));
        }
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends);
        assertTrue(snapshot.isEmpty());
        assertEquals(M, snapshot.slotCount(ForwardingSnapshot.NO_BACKEND));
        assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.backendFor(0x0123_4567_89ab_cdefL));
        for (int id : snapshot.table()) {
            assertEquals(ForwardingSnapshot.NO_BACKEND, id);
        }
        assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(42, 1, 1));
        ForwardingSnapshot none = ForwardingSnapshot.build("web", 1, 7, List.of());
        assertTrue(none.isEmpty());
        assertEquals(ForwardingSnapshot.NO_BACKEND, none.backendFor(-1L));
    }

    @Test
    void fallbackIsDeterministicDistinctAndNeverTheFailedBackend() {
        List<BackendState> backends = backends(8, 1);
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends);
        ForwardingSnapshot again = ForwardingSnapshot.build("web", 2, M, backends);
        SplittableRandom random = new SplittableRandom(32);
        for (int i = 0; i < 2000; i++) {
            long hash = random.nextLong();
            int failed = snapshot.backendFor(hash);
            Set<Integer> seen = new HashSet<>();
            for (int attempt = 1; attempt <= 7; attempt++) {
                int id = snapshot.fallback(hash, failed, attempt);
                assertNotEquals(failed, id);
                assertNotEquals(ForwardingSnapshot.NO_BACKEND, id);
                assertTrue(seen.add(id), "attempt " + attempt + " repeats " + id);
                assertEquals(id, again.fallback(hash, failed, attempt), "same answer from an equal snapshot");
            }
            assertEquals(7, seen.size(), "attempts 1..n-1 visit every other backend");
            assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(hash, failed, 8));
            assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(hash, failed, 0));
        }
    }

    @Test
    void fallbackForABackendNotInTheTableMayUseEveryTableBackend() {
        List<BackendState> backends = new ArrayList<>(backends(4, 1));
        backends.set(0, backends.get(0).withHealthy(false)); // id 1 was the flow's backend, now down
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends);
        Set<Integer> seen = new HashSet<>();
        for (int attempt = 1; attempt <= 3; attempt++) {
            seen.add(snapshot.fallback(77, 1, attempt));
        }
        assertEquals(Set.of(2, 3, 4), seen);
        assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(77, 1, 4));
        assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(77, 999, 4), "unknown id: 3 others");
    }

    @Test
    void oneBackendHasNoFallback() {
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends(1, 5));
        assertEquals(ForwardingSnapshot.NO_BACKEND, snapshot.fallback(123, 5, 1));
    }

    @Test
    void aDeadBackendsFlowsSpreadOverAllOthers() {
        int n = 10;
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends(n, 1));
        int failed = 4;
        int[] firstFallback = new int[n + 1];
        SplittableRandom random = new SplittableRandom(33);
        int flows = 0;
        while (flows < 90_000) {
            long hash = random.nextLong();
            if (snapshot.backendFor(hash) == failed) {
                firstFallback[snapshot.fallback(hash, failed, 1)]++;
                flows++;
            }
        }
        double expected = flows / (n - 1.0);
        for (int id = 1; id <= n; id++) {
            if (id == failed) {
                assertEquals(0, firstFallback[id]);
            } else {
                double deviation = Math.abs(firstFallback[id] - expected) / expected;
                assertTrue(deviation < 0.05, "id " + id + " got " + firstFallback[id] + " of " + flows);
            }
        }
    }

    @Test
    void digestDependsOnNamesNotIdsAndMatchesTheTableDigest() {
        List<BackendState> backends = backends(10, 1);
        ForwardingSnapshot snapshot = ForwardingSnapshot.build("web", 1, M, backends);
        // Same names, other ids, other order, another VIP name and generation: same table, same digest.
        List<BackendState> renumbered = new ArrayList<>();
        for (BackendState b : backends) {
            renumbered.add(new BackendState(b.id() * 7 + 3, b.name(), address(200 + b.id()), b.weight(), false, true));
        }
        Collections.shuffle(renumbered, new Random(34));
        ForwardingSnapshot other = ForwardingSnapshot.build("other-vip", 9, M, renumbered);
        assertEquals(snapshot.digest(), other.digest());
        assertEquals(ForwardingSnapshot.digest(MaglevTable.build(maglev(backends), M)), snapshot.digest());
        // golden: the table digest of ten backends b-00..b-09 (equal weights) at M=65537
        assertEquals(GOLDEN_TEN_DIGEST, snapshot.digest());
        for (int s = 0; s < M; s++) {
            assertEquals(snapshot.backend(snapshot.slotOwner(s)).name(), other.backend(other.slotOwner(s)).name());
        }
        // A different set or weight gives a different digest.
        assertNotEquals(snapshot.digest(), ForwardingSnapshot.build("web", 1, M, backends.subList(0, 9)).digest());
        List<BackendState> reweighted = new ArrayList<>(backends);
        BackendState first = reweighted.get(0);
        reweighted.set(0, new BackendState(first.id(), first.name(), first.address(), 2, false, true));
        assertNotEquals(snapshot.digest(), ForwardingSnapshot.build("web", 1, M, reweighted).digest());
    }

    private static final String GOLDEN_TEN_DIGEST =
            "86c25d5408178eac97ab65e6f2a220a8d8e0b16ab522aa978531f30a8d8aacad";

    @Test
    void rejectsDuplicatesAndBadSizes() {
        List<BackendState> backends = new ArrayList<>(backends(2, 1));
        backends.add(new BackendState(9, "b-00", address(9), 1, false, true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ForwardingSnapshot.build("web", 1, M, backends));
        assertEquals("vip web: duplicate backend name 'b-00'", e.getMessage());
        List<BackendState> sameId = List.of(backends.get(0), new BackendState(1, "other", address(3), 1, false, true));
        e = assertThrows(IllegalArgumentException.class, () -> ForwardingSnapshot.build("web", 1, M, sameId));
        assertEquals("vip web: duplicate backend id 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ForwardingSnapshot.build("web", 1, 65536, backends(2, 1)));
        assertEquals("table size must be prime, was 65536 (next prime: 65537)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ForwardingSnapshot.build("web", 1, 2, backends(3, 1)));
        assertEquals("table size 2 is smaller than the number of backends (3): every backend needs a slot",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new BackendState(0, "x", address(1), 1, false, true));
        assertEquals("backend id must be > 0 (0 means no backend), was 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new BackendState(1, "x", address(1), -2, false, true));
        assertEquals("weight must be >= 0, was -2", e.getMessage());
    }

    static List<BackendState> backends(int n, int firstId) {
        List<BackendState> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new BackendState(firstId + i, String.format("b-%02d", i), address(firstId + i), 1, false, true));
        }
        return list;
    }

    static List<MaglevBackend> maglev(List<BackendState> backends) {
        return backends.stream().filter(b -> b.effectiveWeight() > 0)
                .map(b -> new MaglevBackend(b.name(), b.effectiveWeight())).toList();
    }

    /** An address in 198.18.0.0/15 (RFC 2544): only a record field, nothing connects to it. */
    static InetSocketAddress address(int i) {
        try {
            return new InetSocketAddress(InetAddress.getByAddress(new byte[] {(byte) 198, 18, (byte) (i >> 8),
                (byte) i}), 8080);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
