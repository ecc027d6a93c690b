package io.maglevlb.core.snapshot;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.Hasher;
import com.google.common.hash.Hashing;
import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything a forwarding thread needs to place a new flow of one VIP: the Maglev table (slot -> backend
 * id), the backends by id, and which ids may keep their existing flows. Immutable; built by the control
 * plane off the forwarding threads and published with one volatile store.
 *
 * <p>Forwarding threads read the VIP's current snapshot once per new flow into a local and use only that
 * local for the flow's decision, so a swap in the middle of a decision cannot mix two tables.
 */
public final class ForwardingSnapshot {
    /** Backend id meaning "no backend": table slots when every backend is down or drained. */
    public static final int NO_BACKEND = 0;

    private final String vip;
    private final long generation;
    private final int[] table;
    private final BackendState[] byId;
    private final boolean[] keepsFlows;
    private final int[] slotCounts;
    private final List<BackendState> backends;
    private final List<BackendState> inTable;
    private final String digest;

    private ForwardingSnapshot(String vip, long generation, int[] table, BackendState[] byId,
            List<BackendState> backends, List<BackendState> inTable, String digest) {
        this.vip = vip;
        this.generation = generation;
        this.table = table;
        this.byId = byId;
        this.backends = backends;
        this.inTable = inTable;
        this.digest = digest;
        this.keepsFlows = new boolean[byId.length];
        for (BackendState b : backends) {
            keepsFlows[b.id()] = b.keepsFlows();
        }
        this.slotCounts = new int[byId.length];
        for (int id : table) {
            slotCounts[id]++;
        }
    }

    /**
     * Builds the snapshot of {@code vip} from the backends' current state. Backends with a positive
     * {@link BackendState#effectiveWeight()} share the table by weight; the rest get no slots.
     */
    public static ForwardingSnapshot build(String vip, long generation, int tableSize,
            Collection<BackendState> backends) {
        Objects.requireNonNull(vip, "vip");
        MaglevTable.checkSize(tableSize, backends.size());
        Set<String> names = new HashSet<>();
        Set<Integer> ids = new HashSet<>();
        int maxId = 0;
        for (BackendState b : backends) {
            checkArgument(names.add(b.name()), "vip %s: duplicate backend name '%s'", vip, b.name());
            checkArgument(ids.add(b.id()), "vip %s: duplicate backend id %s", vip, b.id());
            maxId = Math.max(maxId, b.id());
        }
        List<BackendState> sorted = new ArrayList<>(backends);
        sorted.sort(Comparator.comparing(BackendState::name));
        List<BackendState> participants = new ArrayList<>();
        List<MaglevBackend> maglev = new ArrayList<>();
        for (BackendState b : sorted) {
            if (b.effectiveWeight() > 0) {
                participants.add(b);
                maglev.add(new MaglevBackend(b.name(), b.effectiveWeight()));
            }
        }
        MaglevTable maglevTable = MaglevTable.build(maglev, tableSize);
        int[] table = new int[tableSize];
        for (int s = 0; s < tableSize; s++) {
            int index = maglevTable.slot(s);
            table[s] = index == MaglevTable.NO_BACKEND ? NO_BACKEND : participants.get(index).id();
        }
        BackendState[] byId = new BackendState[maxId + 1];
        for (BackendState b : sorted) {
            byId[b.id()] = b;
        }
        return new ForwardingSnapshot(vip, generation, table, byId, List.copyOf(sorted),
                List.copyOf(participants), digest(maglevTable));
    }

    /**
     * A digest of the table as names: size, the participating (name, weight) pairs in name order, and the
     * owner of every slot. Equal on every host that computes the same table, whatever ids it assigned.
     */
    public static String digest(MaglevTable t) {
        Hasher h = Hashing.sha256().newHasher();
        h.putInt(t.size());
        h.putInt(t.backends().size());
        for (MaglevBackend b : t.backends()) {
            h.putInt(b.name().length()).putString(b.name(), StandardCharsets.UTF_8).putInt(b.weight());
        }
        for (int s = 0; s < t.size(); s++) {
            h.putInt(t.slot(s));
        }
        return h.hash().toString();
    }

    /** Backend id for a new flow with {@code flowHash}, or {@link #NO_BACKEND}. Allocation-free. */
    public int backendFor(long flowHash) {
        return table[MaglevTable.slotIndex(flowHash, table.length)];
    }

    /**
     * The {@code attempt}-th (1-based) fallback for a flow whose first choice {@code failedId} could not be
     * reached: the other table backends in name order, rotated by the flow hash so one dead backend's flows
     * spread over the rest. Deterministic, and distinct for attempts 1 .. (table backends - 1).
     *
     * @return a backend id, or {@link #NO_BACKEND} when no other backend is in the table
     */
    public int fallback(long flowHash, int failedId, int attempt) {
        int n = inTable.size();
        int failedPos = -1;
        for (int i = 0; i < n; i++) {
            if (inTable.get(i).id() == failedId) {
                failedPos = i;
                break;
            }
        }
        int others = failedPos < 0 ? n : n - 1;
        if (others == 0 || attempt < 1 || attempt > others) {
            return NO_BACKEND;
        }
        int k = (int) Long.remainderUnsigned((flowHash >>> 17) + attempt - 1, others);
        if (failedPos >= 0 && k >= failedPos) {
            k++;
        }
        return inTable.get(k).id();
    }

    /** Whether an existing flow on backend {@code id} may stay there (present in the VIP and healthy). */
    public boolean keepsFlows(int id) {
        return id > 0 && id < keepsFlows.length && keepsFlows[id];
    }

    /** The backend with {@code id}, or null when it is not in this snapshot. */
    public BackendState backend(int id) {
        return id > 0 && id < byId.length ? byId[id] : null;
    }

    /** Highest backend id + 1: size for per-backend arrays indexed by id. */
    public int idLimit() {
        return byId.length;
    }

    public int slotCount(int id) {
        return id >= 0 && id < slotCounts.length ? slotCounts[id] : 0;
    }

    /** Slot -> backend id, one entry per slot. */
    public int[] table() {
        return table.clone();
    }

    public int tableSize() {
        return table.length;
    }

    public int slotOwner(int slot) {
        return table[slot];
    }

    public String vip() {
        return vip;
    }

    public long generation() {
        return generation;
    }

    public String digest() {
        return digest;
    }

    /** All backends of the VIP in name order, including drained and unhealthy ones. */
    public List<BackendState> backends() {
        return backends;
    }

    /** Backends that own slots, in name order. */
    public List<BackendState> tableBackends() {
        return inTable;
    }

    /** True when no backend can take a new flow. */
    public boolean isEmpty() {
        return inTable.isEmpty();
    }
}
