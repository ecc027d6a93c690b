package io.maglevlb.core.snapshot;

import java.util.Objects;

/**
 * How many table slots changed owner between two snapshots of one VIP, compared by backend name (ids are
 * per-process and may be reused; names are the Maglev keys). Logged with every rebuild: Maglev's promise
 * is that this stays near the removed or added backend's share of the table.
 */
public final class SlotMoves {
    private SlotMoves() {}

    /**
     * @return slots whose owner differs ("no backend" counts as an owner); every slot when the table sizes
     *     differ or there was no table before
     */
    public static int count(ForwardingSnapshot before, ForwardingSnapshot after) {
        Objects.requireNonNull(after, "after");
        if (before == null || before.tableSize() != after.tableSize()) {
            return after.tableSize();
        }
        int moved = 0;
        for (int slot = 0; slot < after.tableSize(); slot++) {
            if (!Objects.equals(ownerName(before, before.slotOwner(slot)), ownerName(after, after.slotOwner(slot)))) {
                moved++;
            }
        }
        return moved;
    }

    private static String ownerName(ForwardingSnapshot s, int id) {
        if (id == ForwardingSnapshot.NO_BACKEND) {
            return null;
        }
        BackendState b = s.backend(id);
        return b == null ? null : b.name();
    }
}
