package io.maglevlb.core.snapshot;

import java.util.BitSet;

/**
 * Hands out dense backend ids (Katran style): the lowest free id first, id 0 reserved for "no backend".
 * Ids stay with a backend while it is in the VIP, so flow tables can keep them across table rebuilds;
 * a freed id is reused only by a later backend.
 *
 * <p>Not thread-safe: owned by the control plane thread that rebuilds the VIP.
 */
public final class BackendIds {
    private final BitSet used = new BitSet();

    public BackendIds() {
        used.set(0);
    }

    public int allocate() {
        int id = used.nextClearBit(1);
        used.set(id);
        return id;
    }

    public void release(int id) {
        if (id > 0) {
            used.clear(id);
        }
    }

    /** Marks {@code id} used (when restoring ids kept across a reload). */
    public void reserve(int id) {
        if (id > 0) {
            used.set(id);
        }
    }
}
