package io.maglevlb.core.conntrack;

import java.util.Arrays;

/**
 * Tracked flows taken out of one {@link FlowTable} ({@link FlowTable#exportTo}) to be put into another one
 * ({@link FlowTable#importFrom}), usually in another process: a takeover hands a forwarding thread's flows to the
 * thread of the new process that receives the same socket (see {@link FlowStateCodec}).
 *
 * <p>A record is a flow's tuple, its backend id (as the exporting process numbers its backends) and two ages
 * relative to the export: how long ago the flow was last seen and how long ago it was created. Ages, not clock
 * readings, because each process reads its own clock.
 *
 * <p>Parallel primitive arrays that grow by doubling: no object per record. Not thread-safe; filled by the table's
 * owner thread, then handed over as a whole.
 */
public final class FlowRecords {
    private int size;
    private long[] words = new long[0]; // srcHi, srcLo, dstHi, dstLo, idleNs, ageNs per record
    private long[] keys = new long[0]; // protocol << 32 | srcPort << 16 | dstPort
    private int[] backends = new int[0];

    private static final int WORDS = 6;

    /** Appends one record. */
    public void add(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort,
            int backendId, long idleNs, long ageNs) {
        if (idleNs < 0 || ageNs < idleNs) {
            throw new IllegalArgumentException("a flow's idle time must be >= 0 and <= its age, was idle " + idleNs
                    + " ns, age " + ageNs + " ns");
        }
        if (size == backends.length) {
            int grown = Math.max(16, size * 2);
            words = Arrays.copyOf(words, grown * WORDS);
            keys = Arrays.copyOf(keys, grown);
            backends = Arrays.copyOf(backends, grown);
        }
        int w = size * WORDS;
        words[w] = srcHi;
        words[w + 1] = srcLo;
        words[w + 2] = dstHi;
        words[w + 3] = dstLo;
        words[w + 4] = idleNs;
        words[w + 5] = ageNs;
        keys[size] = ((long) (protocol & 0xff) << 32) | ((long) (srcPort & 0xffff) << 16) | (dstPort & 0xffff);
        backends[size] = backendId;
        size++;
    }

    public int size() {
        return size;
    }

    public int protocol(int i) {
        return (int) (key(i) >>> 32) & 0xff;
    }

    public long srcHi(int i) {
        return words[word(i)];
    }

    public long srcLo(int i) {
        return words[word(i) + 1];
    }

    public int srcPort(int i) {
        return (int) (key(i) >>> 16) & 0xffff;
    }

    public long dstHi(int i) {
        return words[word(i) + 2];
    }

    public long dstLo(int i) {
        return words[word(i) + 3];
    }

    public int dstPort(int i) {
        return (int) key(i) & 0xffff;
    }

    /** The backend id, in the numbering of the process that exported the record. */
    public int backendId(int i) {
        check(i);
        return backends[i];
    }

    /** Nanoseconds between the flow's last packet and the export. */
    public long idleNs(int i) {
        return words[word(i) + 4];
    }

    /** Nanoseconds between the flow's creation and the export. */
    public long ageNs(int i) {
        return words[word(i) + 5];
    }

    private long key(int i) {
        check(i);
        return keys[i];
    }

    private int word(int i) {
        check(i);
        return i * WORDS;
    }

    private void check(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("record " + i + " of " + size);
        }
    }
}
