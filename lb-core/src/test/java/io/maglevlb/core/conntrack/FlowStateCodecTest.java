package io.maglevlb.core.conntrack;

import static io.maglevlb.core.conntrack.TestFlow.TCP;
import static io.maglevlb.core.conntrack.TestFlow.UDP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * The flow state a takeover carries from one process to the next: a table exported, encoded, decoded and imported
 * into another table (with other backend ids) tracks the same flows on the same backends, and whatever else the
 * decoder is given (cut short, damaged, another version, too many flows, crafted lengths with a valid checksum)
 * it rejects with a message that names the problem.
 */
class FlowStateCodecTest {
    private static final long SECOND_NS = 1_000_000_000L;
    private static final long IDLE_NS = 60 * SECOND_NS;
    private static final int VIP = 0xc612_0164; // 198.18.1.100

    private static BackendState backend(int id, String name, String address) {
        return new BackendState(id, name, new InetSocketAddress(InetAddress.ofLiteral(address), 80), 1, false, true);
    }

    /** The exporting process numbers b1, b2, b3 as 1, 2, 3. */
    private static final ForwardingSnapshot EXPORTER = ForwardingSnapshot.build("v", 1, 251, List.of(
            backend(1, "b1", "198.18.0.11"), backend(2, "b2", "198.18.0.12"), backend(3, "b3", "198.18.0.13")));
    /** The importing one met them in another order, and b9 only it has. */
    private static final ForwardingSnapshot IMPORTER = ForwardingSnapshot.build("v", 1, 251, List.of(
            backend(5, "b3", "198.18.0.13"), backend(1, "b9", "198.18.0.19"), backend(2, "b1", "198.18.0.11"),
            backend(4, "b2", "198.18.0.12")));

    private static TestFlow flow(int i) {
        return TestFlow.v4(i % 2 == 0 ? UDP : TCP, 0xc613_0000 + i, 1024 + i, VIP, 80);
    }

    private static TestFlow v6Flow(int i) {
        return TestFlow.v6(UDP, 0x2001_0db8_0000_0000L, i, 5000 + i, 0x2001_0db8_0000_0001L, 1, 53);
    }

    @Test
    void aTableMovesToAnotherTableWithTheSameFlowsOnTheSameBackendsByName() throws Exception {
        FlowTable[] old = {new FlowTable(1024, IDLE_NS, 0), new FlowTable(1024, IDLE_NS, 0)};
        long t0 = 1_000 * SECOND_NS;
        List<TestFlow> flows = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            TestFlow f = i % 10 == 9 ? v6Flow(i) : flow(i);
            flows.add(f);
            f.insert(old[i % 2], 1 + i % 3, t0 + i * 1_000_000L);
        }
        long exportNs = t0 + 5 * SECOND_NS;
        List<FlowRecords> groups = new ArrayList<>();
        for (FlowTable t : old) {
            FlowRecords r = new FlowRecords();
            assertEquals(150, t.exportTo(r, exportNs));
            groups.add(r);
        }
        byte[] bytes = FlowStateCodec.encode(groups, EXPORTER);
        assertEquals(8 + 4 + 4 + 4 * 2 + 4 + 300 * FlowStateCodec.FLOW_BYTES + 3 * (4 + 2 + 2 + 1 + 4 + 2), bytes.length,
                "size: header, 3 backends, 2 groups, 300 flows, checksum");

        FlowStateCodec.Decoded decoded = FlowStateCodec.decode(bytes, 2048);
        assertEquals(300, decoded.flows());
        int[] map = decoded.backendMap(IMPORTER);
        assertEquals(2, map[1]); // b1
        assertEquals(4, map[2]); // b2
        assertEquals(5, map[3]); // b3
        long importNs = 77 * SECOND_NS; // another process, another clock
        FlowTable[] fresh = {new FlowTable(1024, IDLE_NS, 0), new FlowTable(1024, IDLE_NS, 0)};
        for (int g = 0; g < 2; g++) {
            assertEquals(150, fresh[g].importFrom(decoded.groups().get(g), map, importNs));
            fresh[g].verifyInvariants();
        }
        int[] newId = {0, 2, 4, 5};
        for (int i = 0; i < flows.size(); i++) {
            FlowTable t = fresh[i % 2];
            int entry = flows.get(i).peek(t, importNs);
            assertTrue(entry >= 0, "flow " + i + " tracked after the import");
            assertEquals(newId[1 + i % 3], t.backendId(entry), "flow " + i + " on its backend");
            long idleThere = exportNs - (t0 + i * 1_000_000L);
            assertEquals(importNs - idleThere, t.lastSeenNs(entry), "flow " + i + " last seen as long ago as there");
            assertEquals(-1, flows.get(i).peek(fresh[1 - i % 2], importNs), "flow " + i + " only in its group");
        }
        assertEquals(0, fresh[0].inserts(), "an import is not counted as new flows");
        // It expires here when it would have there: the oldest flow 60 s after its last packet.
        assertEquals(-1, flows.get(0).peek(fresh[0], importNs + IDLE_NS - 5 * SECOND_NS + 1));
    }

    @Test
    void flowsOnABackendTheImporterLacksOrThatIsGoneAreLeftToTheTable() throws Exception {
        FlowTable old = new FlowTable(64, IDLE_NS, 0);
        flow(1).insert(old, 1, 0);
        flow(2).insert(old, 2, 0);
        flow(3).insert(old, 7, 0); // 7: no longer in the exporter's snapshot: has no name, is not encoded
        FlowRecords r = new FlowRecords();
        old.exportTo(r, 0);
        byte[] bytes = FlowStateCodec.encode(List.of(r), EXPORTER);
        FlowStateCodec.Decoded decoded = FlowStateCodec.decode(bytes, 64);
        assertEquals(2, decoded.flows());
        ForwardingSnapshot onlyB2 = ForwardingSnapshot.build("v", 1, 251, List.of(backend(3, "b2", "198.18.0.12"),
                backend(1, "b1", "198.18.0.99"))); // b1 re-addressed: not the same backend
        FlowTable fresh = new FlowTable(64, IDLE_NS, 0);
        assertEquals(1, fresh.importFrom(decoded.groups().getFirst(), decoded.backendMap(onlyB2), 0));
        assertEquals(3, fresh.backendId(flow(2).peek(fresh, 0)));
        assertEquals(-1, flow(1).peek(fresh, 0));
    }

    @Test
    void importNeverEvictsAndKeepsAFlowTrackedAlready() throws Exception {
        FlowTable old = new FlowTable(64, IDLE_NS, 0);
        for (int i = 0; i < 40; i++) {
            flow(i).insert(old, 1, 0);
        }
        FlowRecords r = new FlowRecords();
        old.exportTo(r, 0);
        FlowTable small = new FlowTable(16, IDLE_NS, 0);
        flow(0).insert(small, 2, 0);
        assertEquals(15, small.importFrom(r, new int[] {0, 3}, 0), "only the free entries");
        assertEquals(16, small.size());
        assertEquals(2, small.backendId(flow(0).peek(small, 0)), "the flow tracked already keeps its backend");
        assertEquals(0, small.evictions());
        small.verifyInvariants();
    }

    @Test
    void exportLeavesOutExpiredFlowsAndChangesNothing() {
        FlowTable t = new FlowTable(64, 10 * SECOND_NS, 0);
        flow(1).insert(t, 1, 0);
        flow(2).insert(t, 1, 15 * SECOND_NS);
        long hits = t.hits();
        FlowRecords r = new FlowRecords();
        assertEquals(1, t.exportTo(r, 20 * SECOND_NS));
        assertEquals(flow(2).srcPort(), r.srcPort(0));
        assertEquals(5 * SECOND_NS, r.idleNs(0));
        assertEquals(2, t.size());
        assertEquals(hits, t.hits());
    }

    // ------------------------------------------------------------------ what the decoder refuses

    private static byte[] sample() {
        FlowTable t = new FlowTable(64, IDLE_NS, 0);
        for (int i = 0; i < 5; i++) {
            flow(i).insert(t, 1 + i % 3, 0);
        }
        FlowRecords r = new FlowRecords();
        t.exportTo(r, SECOND_NS);
        return FlowStateCodec.encode(List.of(r, new FlowRecords()), EXPORTER);
    }

    private static String rejected(byte[] bytes, int maxFlows) {
        return assertThrows(FlowStateException.class, () -> FlowStateCodec.decode(bytes, maxFlows)).getMessage();
    }

    /** Rewrites the trailing checksum, so a crafted body reaches the structural checks. */
    private static byte[] resealed(byte[] bytes) {
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - 4);
        ByteBuffer.wrap(bytes).putInt(bytes.length - 4, (int) crc.getValue());
        return bytes;
    }

    @Test
    void rejectsEveryTruncation() {
        byte[] bytes = sample();
        for (int n = 0; n < bytes.length; n++) {
            String m = rejected(Arrays.copyOf(bytes, n), 64);
            assertTrue(m.contains("shorter than its header") || m.contains("cut short") || m.contains("magic"), n + ": " + m);
        }
    }

    @Test
    void rejectsAnotherVersionAndUnknownFlagsAndForeignBytes() {
        byte[] v2 = sample();
        v2[5] = 2;
        assertEquals("flow state version 2 is not supported (this maglevd reads version 1)", rejected(v2, 64));
        byte[] flags = sample();
        flags[7] = 1;
        assertEquals("flow state has unknown flags 0x0001", rejected(flags, 64));
        byte[] foreign = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(rejected(foreign, 64).startsWith("not flow state: magic 0x47455420"));
    }

    @Test
    void rejectsDamageAnywhere() {
        byte[] bytes = sample();
        SplittableRandom random = new SplittableRandom(16);
        for (int k = 0; k < 2_000; k++) {
            byte[] damaged = bytes.clone();
            int at = 8 + random.nextInt(bytes.length - 8);
            damaged[at] ^= (byte) (1 + random.nextInt(255));
            String m = rejected(damaged, 64);
            assertTrue(m.contains("checksum mismatch"), at + ": " + m);
        }
    }

    @Test
    void rejectsMoreFlowsThanTheReaderTracks() {
        assertTrue(rejected(sample(), 4).contains("more than 4 flows"));
    }

    @Test
    void rejectsCraftedCountsAndReferencesBeforeAllocating() {
        byte[] bytes = sample();
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int backendsAt = 8;
        byte[] manyBackends = bytes.clone();
        ByteBuffer.wrap(manyBackends).putInt(backendsAt, 1_000_000);
        assertTrue(rejected(resealed(manyBackends), 64).contains("1000000 backends at byte 8 but only"));
        // Group count sits after the three backend records (13 + 2-byte name each).
        int groupsAt = backendsAt + 4 + 3 * (4 + 2 + 2 + 1 + 4 + 2);
        assertEquals(2, b.getInt(groupsAt));
        byte[] manyGroups = bytes.clone();
        ByteBuffer.wrap(manyGroups).putInt(groupsAt, 5000);
        assertTrue(rejected(resealed(manyGroups), 1 << 20).contains("5000 groups"));
        byte[] manyFlows = bytes.clone();
        ByteBuffer.wrap(manyFlows).putInt(groupsAt + 4, -1); // 4 billion
        assertTrue(rejected(resealed(manyFlows), Integer.MAX_VALUE).contains("flows of group 0"));
        byte[] unknownBackend = bytes.clone();
        int firstFlowBackend = groupsAt + 8 + 1 + 2 + 2 + 32;
        ByteBuffer.wrap(unknownBackend).putInt(firstFlowBackend, 42);
        assertTrue(rejected(resealed(unknownBackend), 64).contains("backend id 42, which the flow state does not list"));
        byte[] badAge = bytes.clone();
        ByteBuffer.wrap(badAge).putLong(firstFlowBackend + 4, Long.MAX_VALUE);
        assertTrue(rejected(resealed(badAge), 64).contains("need 0 <= idle <= age"));
        byte[] trailing = Arrays.copyOf(bytes, bytes.length + 3);
        System.arraycopy(bytes, bytes.length - 4, trailing, bytes.length - 1, 4); // body + 3 bytes, then a checksum
        assertTrue(rejected(resealed(trailing), 64).contains("bytes after its last flow"));
        byte[] badAddress = bytes.clone();
        int firstAddressLength = backendsAt + 4 + 4 + 2 + 2;
        badAddress[firstAddressLength] = 5;
        assertTrue(rejected(resealed(badAddress), 64).contains("address of 5 bytes"));
    }

    @Test
    void anEmptyStateRoundTrips() throws Exception {
        byte[] bytes = FlowStateCodec.encode(List.of(), null);
        FlowStateCodec.Decoded d = FlowStateCodec.decode(bytes, 0);
        assertEquals(0, d.groups().size());
        assertArrayEquals(new int[0], d.backendMap(EXPORTER));
    }
}
