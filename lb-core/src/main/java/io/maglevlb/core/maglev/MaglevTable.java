package io.maglevlb.core.maglev;

import static com.google.common.base.Preconditions.checkArgument;

import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An immutable Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4).
 *
 * <p>Each backend's preference list is the permutation {@code perm[j] = (offset + j*skip) mod M} with
 * {@code offset = h1(name) mod M} and {@code skip = h2(name) mod (M-1) + 1}; backends take turns claiming
 * their next unclaimed preferred slot until all M slots are full. M must be prime so every skip is coprime
 * with M and every permutation visits every slot.
 *
 * <p><b>Same answer everywhere.</b> The table is a pure function of (size, set of (name, weight)): backends
 * are sorted by name before population, and h1/h2 are murmur3_128 with the fixed seeds {@link #OFFSET_SEED}
 * and {@link #SKIP_SEED} over the name's UTF-8 bytes. Nothing depends on input order, the JVM or the process,
 * so two hosts with the same config build byte-identical tables.
 *
 * <p><b>Weights</b> follow Envoy's turn-skipping scheme (also used by Cilium): in round {@code r}
 * (0, 1, 2, ...) backend {@code i} takes a turn when {@code r * weight_i >= target_i}, and each turn adds
 * {@code maxWeight} to its {@code target_i}. A backend of the maximum weight therefore takes a turn every
 * round and one of a third of it every third round, so slot shares follow weights while the permutation
 * (and so minimal disruption) is untouched. Chosen over replicating backends into weight-many virtual
 * entries because it keeps N entries (build cost independent of the weight scale) and needs only integer
 * arithmetic, which keeps it exact and deterministic. Weight 0 takes no turns and gets no slots.
 *
 * <p>Slots hold indices into {@link #backends()} (sorted by name), or {@link #NO_BACKEND} when no backend has
 * a positive weight.
 */
public final class MaglevTable {

    /** Default table size M: prime, and over 100 x N for N up to 655 backends (paper §3.4). */
    public static final int DEFAULT_SIZE = 65537;
    /** Largest accepted table size; bounds build memory (4 bytes a slot). */
    public static final int MAX_SIZE = 16_777_213;
    /** Slot value when no backend can take traffic. */
    public static final int NO_BACKEND = -1;

    /** Seed of h1 (the offset hash). Changing it changes every table: never do so lightly. */
    public static final int OFFSET_SEED = 0x4d61676c; // "Magl"
    /** Seed of h2 (the skip hash). Changing it changes every table: never do so lightly. */
    public static final int SKIP_SEED = 0x65764c42; // "evLB"

    private static final HashFunction H1 = Hashing.murmur3_128(OFFSET_SEED);
    private static final HashFunction H2 = Hashing.murmur3_128(SKIP_SEED);

    private final int[] slots;
    private final List<MaglevBackend> backends;
    private final int[] slotCounts;

    private MaglevTable(int[] slots, List<MaglevBackend> backends) {
        this.slots = slots;
        this.backends = backends;
        this.slotCounts = new int[backends.size()];
        for (int s : slots) {
            if (s != NO_BACKEND) {
                slotCounts[s]++;
            }
        }
    }

    /**
     * Builds the table for {@code backends} (any order) with {@code size} slots.
     *
     * @throws IllegalArgumentException when the size is not prime, out of range or smaller than the number
     *     of backends, or when two backends share a name
     */
    public static MaglevTable build(Collection<MaglevBackend> backends, int size) {
        checkSize(size, backends.size());
        List<MaglevBackend> sorted = new ArrayList<>(backends);
        sorted.sort(null);
        Set<String> seen = new HashSet<>();
        for (MaglevBackend b : sorted) {
            checkArgument(seen.add(b.name()), "duplicate backend name '%s'", b.name());
        }
        int n = sorted.size();
        int[] offsets = new int[n];
        int[] skips = new int[n];
        int[] weights = new int[n];
        for (int i = 0; i < n; i++) {
            MaglevBackend b = sorted.get(i);
            offsets[i] = offset(b.name(), size);
            skips[i] = skip(b.name(), size);
            weights[i] = b.weight();
        }
        return new MaglevTable(populate(offsets, skips, weights, size), List.copyOf(sorted));
    }

    /** Validates a table size for {@code backendCount} backends; the message says what would be valid. */
    public static void checkSize(long size, int backendCount) {
        checkArgument(size >= 2 && size <= MAX_SIZE, "table size must be a prime between 2 and %s, was %s",
                MAX_SIZE, size);
        checkArgument(Primes.isPrime(size), "table size must be prime, was %s (next prime: %s)", size,
                Primes.nextPrime(size));
        checkArgument(size >= backendCount,
                "table size %s is smaller than the number of backends (%s): every backend needs a slot", size,
                backendCount);
    }

    /** h1(name) mod M: where the backend's permutation starts. */
    public static int offset(String name, int size) {
        return (int) Long.remainderUnsigned(H1.hashString(name, StandardCharsets.UTF_8).asLong(), size);
    }

    /** h2(name) mod (M-1) + 1: the permutation's stride, in [1, M-1]. */
    public static int skip(String name, int size) {
        return (int) Long.remainderUnsigned(H2.hashString(name, StandardCharsets.UTF_8).asLong(), size - 1) + 1;
    }

    /**
     * The population loop on given permutations: {@code offsets[i]}, {@code skips[i]} and {@code weights[i]}
     * of backend i (already in their final order). Public so tests can inject the paper's Table 1 values.
     *
     * @return slot -> backend index, or all {@link #NO_BACKEND} when no weight is positive
     */
    public static int[] populate(int[] offsets, int[] skips, int[] weights, int size) {
        int n = offsets.length;
        checkArgument(skips.length == n && weights.length == n, "offsets, skips and weights differ in length");
        int[] table = new int[size];
        Arrays.fill(table, NO_BACKEND);
        int maxWeight = 0;
        for (int w : weights) {
            checkArgument(w >= 0, "weight must be >= 0, was %s", w);
            maxWeight = Math.max(maxWeight, w);
        }
        if (maxWeight == 0) {
            return table;
        }
        // next[i]: position of backend i in its permutation, kept as the slot itself (pos += skip mod M)
        // so the loop never multiplies.
        int[] position = offsets.clone();
        int[] stride = skips.clone();
        long[] target = new long[n];
        int filled = 0;
        for (long round = 0; ; round++) {
            for (int i = 0; i < n; i++) {
                int w = weights[i];
                if (w == 0 || round * w < target[i]) {
                    continue;
                }
                target[i] += maxWeight;
                int slot = position[i];
                while (table[slot] != NO_BACKEND) {
                    slot += stride[i];
                    if (slot >= size) {
                        slot -= size;
                    }
                }
                table[slot] = i;
                slot += stride[i];
                if (slot >= size) {
                    slot -= size;
                }
                position[i] = slot;
                if (++filled == size) {
                    return table;
                }
            }
        }
    }

    public int size() {
        return slots.length;
    }

    /** Backend index at {@code slot}, or {@link #NO_BACKEND}. */
    public int slot(int slot) {
        return slots[slot];
    }

    /** A copy of the slot array. */
    public int[] slots() {
        return slots.clone();
    }

    /** The backends in table order (sorted by name); slot values index this list. */
    public List<MaglevBackend> backends() {
        return backends;
    }

    /** Number of slots owned by backend index {@code i}. */
    public int slotCount(int i) {
        return slotCounts[i];
    }

    /** The backend index for a flow hash: one multiply, one shift, one array read. */
    public int lookup(long flowHash) {
        return slots[slotIndex(flowHash, slots.length)];
    }

    /**
     * Maps a 64-bit flow hash onto [0, size) with Lemire's multiply-shift on its high 32 bits: as even as a
     * modulo for a well-mixed hash, without a division. Every host maps a hash to the same slot.
     */
    public static int slotIndex(long flowHash, int size) {
        return (int) (((flowHash >>> 32) * size) >>> 32);
    }
}
