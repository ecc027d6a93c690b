package io.maglevlb.core.snapshot;

import static com.google.common.base.Preconditions.checkArgument;

import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
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
    /** Ids of {@link #inTable}, in name order: the fallback candidates. */
    private final int[] tableIds;
    /** id -> position in {@link #tableIds}, or -1 when the id owns no slots. */
    private final int[] tablePositionById;
    private final String digest;

    private ForwardingSnapshot(String vip, long generation, int[] table, int[] slotCounts, BackendState[] byId,
            List<BackendState> backends, List<BackendState> inTable, String digest) {
        this.vip = vip;
        this.generation = generation;
        this.table = table;
        this.slotCounts = slotCounts;
        this.byId = byId;
        this.backends = backends;
        this.inTable = inTable;
        this.digest = digest;
        this.keepsFlows = new boolean[byId.length];
        for (BackendState b : backends) {
            keepsFlows[b.id()] = b.keepsFlows();
        }
        this.tableIds = new int[inTable.size()];
        this.tablePositionById = new int[byId.length];
        Arrays.fill(tablePositionById, -1);
        for (int k = 0; k < tableIds.length; k++) {
            tableIds[k] = inTable.get(k).id();
            tablePositionById[tableIds[k]] = k;
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
        BackendState[] byId = new BackendState[maxId + 1];
        for (BackendState b : sorted) {
            byId[b.id()] = b;
        }
        // Table index (position among participants, name order) -> id; slots map through it.
        int[] idByIndex = new int[participants.size()];
        int[] slotCounts = new int[maxId + 1];
        for (int index = 0; index < idByIndex.length; index++) {
            idByIndex[index] = participants.get(index).id();
            slotCounts[idByIndex[index]] = maglevTable.slotCount(index);
        }
        int[] table = new int[tableSize];
        if (idByIndex.length == 0) {
            slotCounts[NO_BACKEND] = tableSize; // every slot NO_BACKEND (0): the new array already says so
        } else {
            for (int s = 0; s < tableSize; s++) {
                table[s] = idByIndex[maglevTable.slot(s)];
            }
        }
        return new ForwardingSnapshot(vip, generation, table, slotCounts, byId, List.copyOf(sorted),
                List.copyOf(participants), digest(maglevTable));
    }

    /**
     * A digest of the table as names: size, the participating (name, weight) pairs in name order, and the
     * owner of every slot. Equal on every host that computes the same table, whatever ids it assigned.
     */
    public static String digest(MaglevTable t) {
        MessageDigest sha256 = sha256();
        // The byte layout is fixed by the golden digests (MaglevGoldenTest): ints little-endian, each name as
        // its length in UTF-16 chars then its UTF-8 bytes, then the weight; then every slot's table index.
        byte[] chunk = new byte[DIGEST_CHUNK_BYTES];
        INT_LE.set(chunk, 0, t.size());
        INT_LE.set(chunk, 4, t.backends().size());
        sha256.update(chunk, 0, 8);
        for (MaglevBackend b : t.backends()) {
            INT_LE.set(chunk, 0, b.name().length());
            sha256.update(chunk, 0, 4);
            sha256.update(b.name().getBytes(StandardCharsets.UTF_8));
            INT_LE.set(chunk, 0, b.weight());
            sha256.update(chunk, 0, 4);
        }
        int at = 0;
        for (int s = 0; s < t.size(); s++) {
            INT_LE.set(chunk, at, t.slot(s));
            at += 4;
            if (at == chunk.length) {
                sha256.update(chunk, 0, at);
                at = 0;
            }
        }
        sha256.update(chunk, 0, at);
        return HexFormat.of().formatHex(sha256.digest());
    }

    private static final int DIGEST_CHUNK_BYTES = 16 * 1024;
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
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
        int n = tableIds.length;
        int failedPos = failedId > 0 && failedId < tablePositionById.length ? tablePositionById[failedId] : -1;
        int others = failedPos < 0 ? n : n - 1;
        if (others == 0 || attempt < 1 || attempt > others) {
            return NO_BACKEND;
        }
        // Bits 17..63: the slot index came from the high 32 bits, so within one slot's share of hashes
        // these still vary and one dead backend's flows rotate over all the others.
        int k = (int) Long.remainderUnsigned((flowHash >>> 17) + attempt - 1, others);
        if (failedPos >= 0 && k >= failedPos) {
            k++;
        }
        return tableIds[k];
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
