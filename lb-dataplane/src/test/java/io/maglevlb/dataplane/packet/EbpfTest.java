package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The assembler's encoding against bytes written out by hand from the kernel's instruction-set document. */
class EbpfTest {
    private static String hex(Ebpf a) {
        return HexFormat.of().formatHex(a.build());
    }

    @Test
    void encodesMovesLoadsStoresAndExit() {
        assertEquals("b700000002000000" + "9500000000000000", hex(Ebpf.assembler().mov(Ebpf.Reg.R0, 2).exit()));
        // r6 = r1; r7 = *(u32 *)(r6 + 4); *(u16 *)(r10 - 8) = r5; *(u64 *)(r10 - 24) = 0
        assertEquals("bf16000000000000" + "6167040000000000" + "6b5af8ff00000000" + "7a0ae8ff00000000",
                hex(Ebpf.assembler().mov(Ebpf.Reg.R6, Ebpf.Reg.R1).ldxw(Ebpf.Reg.R7, Ebpf.Reg.R6, 4)
                        .stxh(Ebpf.Reg.R10, -8, Ebpf.Reg.R5).stdw(Ebpf.Reg.R10, -24, 0)));
    }

    @Test
    void mapFdLoadIsTwoSlotsWithThePseudoSource() {
        assertEquals("1811000007000000" + "0000000000000000", hex(Ebpf.assembler().loadMapFd(Ebpf.Reg.R1, 7)));
    }

    @Test
    void jumpsResolveLabelsToForwardDistances() {
        Ebpf a = Ebpf.assembler()
                .jumpIf(Ebpf.Cond.GT, Ebpf.Reg.R2, Ebpf.Reg.R8, "out") // 0: +2
                .jumpIf(Ebpf.Cond.EQ, Ebpf.Reg.R3, 8, "out")           // 1: +1
                .call(Ebpf.Helper.REDIRECT_MAP)                        // 2
                .label("out").exit();                                  // 3
        assertEquals("2d82020000000000" + "1503010008000000" + "8500000033000000" + "9500000000000000", hex(a));
    }

    @Test
    void refusesUndefinedTwiceDefinedAndBackwardLabels() {
        assertThrows(IllegalStateException.class, () -> Ebpf.assembler().jump("nowhere").build());
        assertThrows(IllegalStateException.class, () -> Ebpf.assembler().label("a").label("a"));
        assertThrows(IllegalStateException.class, () -> Ebpf.assembler().label("a").exit().jump("a").build());
    }
}
