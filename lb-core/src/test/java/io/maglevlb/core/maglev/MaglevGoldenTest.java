package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Golden vectors: fixed backend sets whose tables must never change between versions. Two maglevd hosts
 * behind ECMP on different versions must still compute the same table, so any change to the hashes, the
 * sort order, the weight scheme or the population loop has to show up here and be made on purpose.
 *
 * <p>Each table is pinned twice: by {@link ForwardingSnapshot#digest} (the digest operators compare across
 * hosts) and by a SHA-256 computed here over the owner name of every slot, one per line, which does not
 * depend on the digest's own encoding. The sets cover the code paths of the population loop: equal and
 * unequal weights, weight 0, small and large N and M, and more backends than fit a 16-bit index.
 */
class MaglevGoldenTest {

    @Test
    void tenEqualBackends() {
        assertGolden(equalBackends("backend-%04d", 10), 65537,
                "ef645753f0a5fe1d17e19a86f457a5cc810c6361f43e5af08ab910293177fe5b",
                "25b0613b4b400e6df9b9e9f6186df415e0b3a0ec2a07abb742a8f3f78e10a49d");
    }

    @Test
    void weightedBackendsWithADrainedOne() {
        List<MaglevBackend> backends = List.of(new MaglevBackend("web-a", 1), new MaglevBackend("web-b", 2),
                new MaglevBackend("web-c", 3), new MaglevBackend("web-d", 10), new MaglevBackend("web-e", 0),
                new MaglevBackend("web-f", 7));
        assertGolden(backends, 65537, "ca7c45cedf662a0f25f467acd4ae330a0e7b01347f6bfef4c22ee1ffbb5fb09f",
                "40b02e1e8d54137ccae273b448e95b908312646a7f92d491564cdb58e9d6d4ba");
    }

    @Test
    void thousandEqualBackendsInTheLargeTable() {
        assertGolden(equalBackends("backend-%04d", 1000), 655373,
                "815b20c4f230e1b1e0d56b5640105dbdc7dd06272f54ae7aa25ddb514d34a869",
                "d61127f6a0ba0d1c58949b7adad646058fa159f718c65879dbbcdd01a8ddf1fb");
    }

    @Test
    void thousandWeightedBackends() {
        List<MaglevBackend> backends = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            backends.add(new MaglevBackend(String.format("backend-%04d", i), i % 7 + 1));
        }
        assertGolden(backends, 65537, "800ff52113120803021ed27106906b38dad27112cb84987a0a21fb023286b77e",
                "863c61615e7bc1e71d61f85ee224dea80e6f12c35d05fbd86583fccdcb94580b");
    }

    @Test
    void moreBackendsThanA16BitIndexHolds() {
        assertGolden(equalBackends("b%05d", 70000), 131071,
                "07b6d260ebc20ea8142703c9a41e888da3653b913604d2b4c85f415a41c3a272",
                "aba312e6488becf5889e95906e9418ee6119f6cbbf259d1aceeb0c509514e1b3");
    }

    @Test
    void smallTableSlotBySlot() {
        MaglevTable table = MaglevTable.build(List.of(new MaglevBackend("gamma", 1), new MaglevBackend("alpha", 1),
                new MaglevBackend("beta", 1)), 7);
        // indices into the name-sorted list: alpha = 0, beta = 1, gamma = 2
        assertArrayEquals(new int[] {0, 1, 2, 0, 1, 0, 2}, table.slots());
    }

    @Test
    void offsetAndSkipOfFixedNames() {
        assertEquals(56645, MaglevTable.offset("backend-0000", 65537));
        assertEquals(7099, MaglevTable.skip("backend-0000", 65537));
        assertEquals(278834, MaglevTable.offset("backend-0000", 655373));
        assertEquals(343747, MaglevTable.skip("backend-0000", 655373));
        assertEquals(50391, MaglevTable.offset("web-a", 65537));
        assertEquals(48534, MaglevTable.skip("web-a", 65537));
        assertEquals(471729, MaglevTable.offset("b", 655373));
        assertEquals(580728, MaglevTable.skip("b", 655373));
    }

    static List<MaglevBackend> equalBackends(String format, int count) {
        List<MaglevBackend> backends = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            backends.add(new MaglevBackend(String.format(format, i), 1));
        }
        return backends;
    }

    private static void assertGolden(List<MaglevBackend> backends, int size, String digest, String slotNamesSha256) {
        MaglevTable table = MaglevTable.build(backends, size);
        assertEquals(digest, ForwardingSnapshot.digest(table), "ForwardingSnapshot.digest");
        assertEquals(slotNamesSha256, slotNamesSha256(table), "SHA-256 of the slot owners' names");
    }

    /** SHA-256 over the owner name of every slot ("-" for no backend), each followed by a newline. */
    static String slotNamesSha256(MaglevTable table) {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            for (int s = 0; s < table.size(); s++) {
                int index = table.slot(s);
                String name = index == MaglevTable.NO_BACKEND ? "-" : table.backends().get(index).name();
                sha256.update(name.getBytes(StandardCharsets.UTF_8));
                sha256.update((byte) '\n');
            }
            return HexFormat.of().formatHex(sha256.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
