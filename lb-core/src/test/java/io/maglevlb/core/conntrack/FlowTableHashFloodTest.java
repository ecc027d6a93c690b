package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.TestFlow.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.flow.FlowHash;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hash flooding: a sender who picks source tuples so that they collide under the public, fixed-seed flow hash
 * must not get long probe chains, because the table indexes with its own secret. Each test would see chains as
 * long as the number of keys if the table indexed by the public hash.
 */
class FlowTableHashFloodTest {
    private static final int CAPACITY = 4096; // 8192 index slots
    private static final int KEYS = 1000;
    private static final long NOW = 1;
    private static final long LONG_TIMEOUT_NS = Long.MAX_VALUE;
    /**
     * Longest probe allowed. Random placement of 1000 keys in 8192 slots (load 0.12) gives a longest probe of
     * about 4; 24 leaves room for any seed (the chance of a run that long is below 1e-15) and is far below the
     * 1000 of a flood that worked.
     */
    private static final int MAX_PROBE = 24;

    private static final int VIP = 0xc612_0001; // 198.18.0.1
    private static final int VIP_PORT = 53;

    @Test
    void flowsWithOneFullPublicHashStayShortChains() {
        // The worst case: every flow has exactly the same 64-bit public hash (the public fold has such sets:
        // e.g. IPv6 sources whose high half equals its key). The tuples all differ.
        long sameHash = 0x0123_4567_89ab_cdefL;
        List<TestFlow> flows = new ArrayList<>();
        for (int i = 0; i < KEYS; i++) {
            flows.add(TestFlow.v6(UDP, 0x2001_0db8_0000_0000L, 0x1000L + i, 1024 + i, 0, FlowHash.v4Lo(VIP), VIP_PORT)
                    .withHash(sameHash));
        }
        assertShortChains(flows, new FlowTable(CAPACITY, LONG_TIMEOUT_NS, 0));
    }

    @Test
    void ipv4FlowsChosenForOneHomeSlotUnderThePublicHashStayShortChains() {
        // What an attacker with spoofed IPv4 sources does: search tuples whose public hash has the same low bits
        // (the bits a table indexed by it would use for the home slot). About 8192 tries per key.
        FlowTable table = new FlowTable(CAPACITY, LONG_TIMEOUT_NS, 0);
        int mask = table.indexSlots() - 1;
        long wantedHome = -1;
        List<TestFlow> flows = new ArrayList<>();
        int keys = KEYS / 2;
        for (int ip = 0x0a00_0000; flows.size() < keys; ip++) {
            for (int port = 1024; port < 1024 + 64 && flows.size() < keys; port++) {
                TestFlow f = TestFlow.v4(UDP, ip, port, VIP, VIP_PORT);
                long home = f.hash() & mask;
                if (wantedHome < 0) {
                    wantedHome = home;
                }
                if (home == wantedHome) {
                    flows.add(f);
                }
            }
        }
        assertShortChains(flows, table);
    }

    @Test
    void theSeedDecidesTheLayout() {
        // Keys chosen to collide under one known seed do collide there (so the seed is what places them), and
        // are spread under any other seed: what an attacker who does not know the seed gets.
        long seed = 42;
        FlowTable known = new FlowTable(CAPACITY, LONG_TIMEOUT_NS, 0, EvictionListener.NONE, seed);
        int mask = known.indexSlots() - 1;
        List<TestFlow> flows = new ArrayList<>();
        long wantedHome = -1;
        for (int ip = 0x0a00_0000; flows.size() < 200; ip++) {
            TestFlow f = TestFlow.v4(UDP, ip, 4000, VIP, VIP_PORT);
            long home = known.indexHashOf(f.protocol(), f.srcHi(), f.srcLo(), f.srcPort(), f.dstHi(), f.dstLo(),
                    f.dstPort()) & mask;
            if (wantedHome < 0) {
                wantedHome = home;
            }
            if (home == wantedHome) {
                flows.add(f);
            }
        }
        for (TestFlow f : flows) {
            assertNotEquals(FlowTable.NOT_INSERTED, f.insert(known, 1, NOW));
        }
        assertEquals(200, known.longestProbe(), "one cluster under the seed they were chosen for");
        known.verifyInvariants();
        for (TestFlow f : flows) {
            assertNotEquals(FlowTable.NO_ENTRY, f.find(known, NOW), "every colliding flow is still found");
        }

        FlowTable same = new FlowTable(CAPACITY, LONG_TIMEOUT_NS, 0, EvictionListener.NONE, seed);
        FlowTable other = new FlowTable(CAPACITY, LONG_TIMEOUT_NS, 0, EvictionListener.NONE, seed + 1);
        TestFlow probe = flows.getFirst();
        assertEquals(known.indexHashOf(UDP, probe.srcHi(), probe.srcLo(), probe.srcPort(), probe.dstHi(), probe.dstLo(),
                VIP_PORT), same.indexHashOf(UDP, probe.srcHi(), probe.srcLo(), probe.srcPort(), probe.dstHi(),
                probe.dstLo(), VIP_PORT), "same seed, same index");
        assertShortChains(flows, other);
    }

    @Test
    void tablesMadeWithoutASeedDrawDifferentSecrets() {
        TestFlow f = TestFlow.v4(UDP, 0x0a00_0001, 4000, VIP, VIP_PORT);
        long first = new FlowTable(16, LONG_TIMEOUT_NS, 0).indexHashOf(UDP, f.srcHi(), f.srcLo(), f.srcPort(),
                f.dstHi(), f.dstLo(), VIP_PORT);
        boolean differs = false;
        // Two 64-bit secrets from SecureRandom agree with probability 2^-64; three tries make a flake impossible.
        for (int i = 0; i < 3 && !differs; i++) {
            differs = first != new FlowTable(16, LONG_TIMEOUT_NS, 0).indexHashOf(UDP, f.srcHi(), f.srcLo(),
                    f.srcPort(), f.dstHi(), f.dstLo(), VIP_PORT);
        }
        assertTrue(differs, "each table has its own secret");
    }

    private static void assertShortChains(List<TestFlow> flows, FlowTable table) {
        for (TestFlow f : flows) {
            assertNotEquals(FlowTable.NOT_INSERTED, f.insert(table, 1, NOW));
        }
        assertEquals(flows.size(), table.size());
        table.verifyInvariants();
        int longest = table.longestProbe();
        assertTrue(longest <= MAX_PROBE, "longest probe " + longest + " for " + flows.size() + " colliding flows");
        for (TestFlow f : flows) {
            assertNotEquals(FlowTable.NO_ENTRY, f.find(table, NOW));
        }
    }
}
