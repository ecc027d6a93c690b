package io.maglevlb.dataplane.packet;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Big-endian (network order) unaligned accessors over memory segments: how packet headers are read and written. */
final class Bytes {
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Bytes() {}

    static int u8(MemorySegment m, long off) {
        return m.get(ValueLayout.JAVA_BYTE, off) & 0xff;
    }

    static int u16(MemorySegment m, long off) {
        return m.get(U16, off) & 0xffff;
    }

    static int u32(MemorySegment m, long off) {
        return m.get(U32, off);
    }

    static long u64(MemorySegment m, long off) {
        return m.get(U64, off);
    }

    static void put8(MemorySegment m, long off, int v) {
        m.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    static void put16(MemorySegment m, long off, int v) {
        m.set(U16, off, (short) v);
    }

    static void put32(MemorySegment m, long off, int v) {
        m.set(U32, off, v);
    }

    static void put64(MemorySegment m, long off, long v) {
        m.set(U64, off, v);
    }

    /** Writes the 48-bit MAC in the low bits of {@code mac} at {@code off}. */
    static void putMac(MemorySegment m, long off, long mac) {
        m.set(U32, off, (int) (mac >>> 16));
        m.set(U16, off + 4, (short) mac);
    }

    /** Reads a 48-bit MAC into the low bits of a long. */
    static long mac(MemorySegment m, long off) {
        return ((m.get(U32, off) & 0xffff_ffffL) << 16) | (m.get(U16, off + 4) & 0xffffL);
    }
}
