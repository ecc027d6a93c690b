package io.maglevlb.core.maglev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input fails at build time with a message that says what is wrong and what would be valid. */
class MaglevBadInputTest {
    private static final List<MaglevBackend> THREE =
            List.of(new MaglevBackend("a", 1), new MaglevBackend("b", 1), new MaglevBackend("c", 1));

    @Test
    void nonPrimeSizeNamesTheNextPrime() {
        assertMessage("table size must be prime, was 65536 (next prime: 65537)", () -> MaglevTable.build(THREE, 65536));
        assertMessage("table size must be prime, was 100 (next prime: 101)", () -> MaglevTable.build(THREE, 100));
        assertMessage("table size must be prime, was 9 (next prime: 11)", () -> MaglevTable.checkSize(9, 1));
    }

    @Test
    void sizeOutOfRange() {
        for (long size : new long[] {-7, 0, 1}) {
            assertMessage("table size must be a prime between 2 and 16777213, was " + size,
                    () -> MaglevTable.checkSize(size, 0));
        }
        assertMessage("table size must be a prime between 2 and 16777213, was 16777259",
                () -> MaglevTable.build(THREE, 16_777_259)); // prime, but above MAX_SIZE
        assertMessage("table size must be a prime between 2 and 16777213, was 4294967311",
                () -> MaglevTable.checkSize(4_294_967_311L, 1));
    }

    @Test
    void sizeSmallerThanTheNumberOfBackends() {
        assertMessage("table size 2 is smaller than the number of backends (3): every backend needs a slot",
                () -> MaglevTable.build(THREE, 2));
    }

    @Test
    void duplicateNames() {
        assertMessage("duplicate backend name 'b'", () -> MaglevTable.build(
                List.of(new MaglevBackend("b", 1), new MaglevBackend("a", 1), new MaglevBackend("b", 2)), 7));
    }

    @Test
    void negativeOrMissingBackendFields() {
        assertMessage("backend web-1: weight must be >= 0, was -1", () -> new MaglevBackend("web-1", -1));
        assertMessage("backend name must not be empty", () -> new MaglevBackend("", 1));
        NullPointerException npe = assertThrows(NullPointerException.class, () -> new MaglevBackend(null, 1));
        assertEquals("name", npe.getMessage());
    }

    @Test
    void populateChecksItsArguments() {
        int[] one = {1};
        assertMessage("weight must be >= 0, was -3 (backend 0)",
                () -> MaglevTable.populate(new int[] {0}, one, new int[] {-3}, 7));
        assertMessage("offsets, skips and weights differ in length (2, 1, 1)",
                () -> MaglevTable.populate(new int[] {0, 1}, one, one, 7));
        assertMessage("table size must be a prime between 2 and 16777213, was 8",
                () -> MaglevTable.populate(new int[] {0}, one, one, 8));
        assertMessage("offset must be in [0, 7), was 7 (backend 0)",
                () -> MaglevTable.populate(new int[] {7}, one, one, 7));
        assertMessage("skip must be in [1, 6], was 0 (backend 0)",
                () -> MaglevTable.populate(new int[] {0}, new int[] {0}, one, 7));
        assertMessage("skip must be in [1, 6], was 7 (backend 0)",
                () -> MaglevTable.populate(new int[] {0}, new int[] {7}, one, 7));
    }

    private static void assertMessage(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertEquals(expected, e.getMessage());
    }
}
