package io.maglevlb.core.maglev;

import static com.google.common.base.Preconditions.checkArgument;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * An immutable Maglev lookup table (Eisenbud et al., NSDI 2016, §3.4).
 *
 * <p>Each backend's preference list is the permutation {@code perm[j] = (offset + j*skip) mod M} with
 * {@code offset = h1(name) mod M} and {@code skip = h2(name) mod (M-1) + 1}; backends take turns claiming
 * their next unclaimed preferred slot until all M slots are full. M must be prime so every skip is coprime
 * with M and every permutation visits every slot.
 *
 * <p><b>Same answer everywhere.</b> The table is a pure function of (size, set of (name, weight)): backends
 * are sorted by name before population, and h1/h2 are the first 64 bits of murmur3_x64_128 (as Guava's
 * {@code Hashing.murmur3_128(seed)...asLong()}) with the fixed seeds {@link #OFFSET_SEED} and
 * {@link #SKIP_SEED} over the name's UTF-8 bytes. Nothing depends on input order, the JVM or the process,
 * so two hosts with the same config build byte-identical tables.
 *
 * <p><b>Weights</b> follow Envoy's turn-skipping scheme: in round {@code r}
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

    private final int[] slots;
    private final List<MaglevBackend> backends;
    private final int[] slotCounts;

    private MaglevTable(int[] slots, List<MaglevBackend> backends, int[] slotCounts) {
        this.slots = slots;
        this.backends = backends;
        this.slotCounts = slotCounts;
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
        int n = sorted.size();
        int[] offsets = new int[n];
        int[] skips = new int[n];
        int[] weights = new int[n];
        for (int i = 0; i < n; i++) {
            MaglevBackend b = sorted.get(i);
            // sorted by name, so equal names are neighbours
            checkArgument(i == 0 || !b.name().equals(sorted.get(i - 1).name()), "duplicate backend name '%s'",
                    b.name());
            byte[] name = b.name().getBytes(StandardCharsets.UTF_8);
            offsets[i] = offset(name, size);
            skips[i] = skip(name, size);
            weights[i] = b.weight();
        }
        int[] slotCounts = new int[n];
        int[] slots = populate(offsets, skips, weights, size, defaultTailThreshold(size), slotCounts);
        return new MaglevTable(slots, List.copyOf(sorted), slotCounts);
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
        return offset(name.getBytes(StandardCharsets.UTF_8), size);
    }

    /** h2(name) mod (M-1) + 1: the permutation's stride, in [1, M-1]. */
    public static int skip(String name, int size) {
        return skip(name.getBytes(StandardCharsets.UTF_8), size);
    }

    private static int offset(byte[] utf8Name, int size) {
        return (int) Long.remainderUnsigned(Murmur3.hash64(utf8Name, OFFSET_SEED), size);
    }

    private static int skip(byte[] utf8Name, int size) {
        return (int) Long.remainderUnsigned(Murmur3.hash64(utf8Name, SKIP_SEED), size - 1) + 1;
    }

    /**
     * The population loop on given permutations: {@code offsets[i]}, {@code skips[i]} and {@code weights[i]}
     * of backend i (already in their final order). Public so tests can inject the paper's Table 1 values.
     *
     * @return slot -> backend index, or all {@link #NO_BACKEND} when no weight is positive
     * @throws IllegalArgumentException when the arrays differ in length, the size is not a prime in range,
     *     a weight is negative, or an offset or skip is outside its permutation's range
     */
    public static int[] populate(int[] offsets, int[] skips, int[] weights, int size) {
        return populate(offsets, skips, weights, size, defaultTailThreshold(size));
    }

    /**
     * Number of free slots below which a claim scans the free list instead of walking the permutation:
     * {@code sqrt(M) / 2}. Walking costs about M/f probes per claim, scanning about f multiply-reduce steps
     * of similar cost; measured build times were flat between sqrt(M)/4 and sqrt(M) and rose above.
     */
    static int defaultTailThreshold(int size) {
        return (int) Math.sqrt(size) / 2;
    }

    /** {@link #populate(int[], int[], int[], int)} with a given switch point; the result never depends on it. */
    static int[] populate(int[] offsets, int[] skips, int[] weights, int size, int tailThreshold) {
        return populate(offsets, skips, weights, size, tailThreshold, null);
    }

    /** As above, and when {@code slotCounts} (zeros, one per backend) is given, counts each backend's slots. */
    private static int[] populate(int[] offsets, int[] skips, int[] weights, int size, int tailThreshold,
            int[] slotCounts) {
        int n = offsets.length;
        checkArgument(skips.length == n && weights.length == n,
                "offsets, skips and weights differ in length (%s, %s, %s)", n, skips.length, weights.length);
        checkArgument(size >= 2 && size <= MAX_SIZE && Primes.isPrime(size),
                "table size must be a prime between 2 and %s, was %s", MAX_SIZE, size);
        int maxWeight = 0;
        int active = 0;
        long weightSum = 0;
        for (int i = 0; i < n; i++) {
            checkArgument(weights[i] >= 0, "weight must be >= 0, was %s (backend %s)", weights[i], i);
            checkArgument(offsets[i] >= 0 && offsets[i] < size, "offset must be in [0, %s), was %s (backend %s)",
                    size, offsets[i], i);
            checkArgument(skips[i] >= 1 && skips[i] < size, "skip must be in [1, %s], was %s (backend %s)",
                    size - 1, skips[i], i);
            if (weights[i] > 0) {
                active++;
                weightSum += weights[i];
                maxWeight = Math.max(maxWeight, weights[i]);
            }
        }
        int[] table = new int[size];
        if (active == 0) {
            Arrays.fill(table, NO_BACKEND);
            return table;
        }
        // Backends with a positive weight, in table order, with their weights: weight 0 takes no turns.
        int[] order = new int[active];
        int[] orderWeights = new int[active];
        boolean equalWeights = true;
        for (int i = 0, k = 0; i < n; i++) {
            if (weights[i] > 0) {
                order[k] = i;
                orderWeights[k++] = weights[i];
                equalWeights &= weights[i] == maxWeight;
            }
        }
        Population population = new Population(offsets, skips, size, table, tailThreshold);
        if (equalWeights) {
            population.roundRobin(order);
            if (slotCounts != null) {
                // Turn t goes to order[t mod active] and claims one slot, so with M turns in all the first
                // M mod active backends in turn order get one slot more: no need to count the M slots.
                for (int k = 0; k < active; k++) {
                    slotCounts[order[k]] = size / active + (k < size % active ? 1 : 0);
                }
            }
        } else {
            // Rounds until full: each round hands out weightSum / maxWeight turns on average. The round loop
            // visits every backend each round; with extreme weight ratios (1 : 1e6) that is far more visits
            // than turns, and a queue of next turns is cheaper.
            double rounds = (double) size * maxWeight / weightSum + 1;
            if (rounds * active <= 8.0 * size) {
                population.byRounds(order, orderWeights, maxWeight);
            } else {
                population.byTurnQueue(order, orderWeights, maxWeight);
            }
            if (slotCounts != null) {
                for (int s : table) {
                    slotCounts[s]++;
                }
            }
        }
        return table;
    }

    /**
     * One run of the population loop. The output is exactly the paper's: backends take turns (round-robin,
     * or by Envoy's weight rule) and each claims the first free slot of its permutation from where it left
     * off. What differs from the textbook loop is only how that slot is found and how turns are scheduled.
     *
     * <p><b>Finding the slot.</b> Early on, by walking the permutation ({@code slot += skip mod M}) over an
     * occupancy bitmap of M bits (8 KiB at M = 65537, so the walk stays in L1; the int table itself is only
     * written). Whether a slot is free is a coin flip the branch predictor cannot learn, and a mispredicted
     * branch also throws away the next claims the CPU had started, so the walk branches as little as it can:
     * <ul>
     *   <li>more than half the slots free: check the next two slots and pick the first free one with
     *       arithmetic, not a branch; only when both are taken (under 1 claim in 4) branch to the walk;
     *   <li>a half to a quarter free: the same with the next four slots;
     *   <li>fewer free: check the next slot (by now mostly taken, so that branch is predictable), then walk
     *       four slots at a time with one branch per four and a branch-free choice among the four.
     * </ul>
     * The walk costs about M/f probes when f slots are free, so the last few hundred claims
     * would take over half of all probes (about M ln M in total). Once only {@link #tailThreshold} slots are
     * free, each claim instead scans the list of free slots and takes the one closest ahead in the
     * backend's permutation: slot s is {@code (s - position) * skip^-1 mod M} steps ahead, distinct for each
     * s because M is prime, and the walk would stop at the free slot with the fewest steps. Same slot,
     * O(f) work instead of O(M/f).
     *
     * <p><b>Scheduling turns.</b> Equal weights: plain round-robin. Otherwise Envoy's rule (backend i takes a
     * turn in round r when {@code r * w_i >= target_i}, each turn adding maxWeight to target_i) either as
     * the round loop itself, with a running credit {@code r * w_i - target_i} in place of the multiply, or
     * as a min-queue of (next turn round, index), which visits only backends that take a turn. Both order
     * turns by (round, index), exactly as the round loop does.
     */
    private static final class Population {
        private final int size;
        private final int[] table;
        private final int[] skips;
        /** Next slot to probe in each backend's permutation: the slot after its last claim. */
        private final int[] position;
        /** Occupancy while walking: bit s set = slot s claimed. Unused once the free list takes over. */
        private final long[] taken;
        private final int tailThreshold;
        /** floor((2^64 - 1) / M): turns the mod M of the free-list scan into multiplies. */
        private final long reciprocal;
        /** Slots still empty. */
        private int free;
        /** The empty slots in any order, once {@code free <= tailThreshold}; null before. */
        private int[] freeSlots;
        /** {@code (4 * skip mod M) - M} per backend: four permutation steps at once, for {@link #walkRun}. */
        private final int[] stride4Back;
        /** skip^-1 mod M per backend, computed on a backend's first claim from the free list; 0 = not yet. */
        private int[] inverseSkips;

        Population(int[] offsets, int[] skips, int size, int[] table, int tailThreshold) {
            this.size = size;
            this.table = table;
            this.skips = skips;
            this.position = offsets.clone();
            this.taken = new long[(size + 63) >>> 6];
            this.free = size;
            this.reciprocal = Long.divideUnsigned(-1L, size);
            this.stride4Back = new int[skips.length];
            for (int i = 0; i < skips.length; i++) {
                int twice = addMod(skips[i], skips[i] - size, size); // doubling twice: no division
                stride4Back[i] = addMod(twice, twice - size, size) - size;
            }
            this.tailThreshold = Math.min(size, tailThreshold);
            if (free <= this.tailThreshold) {
                enterTail();
            }
        }

        void roundRobin(int[] order) {
            // One stage per fill level, each with the search that is cheapest there (see the class comment).
            // The turn index k runs on from stage to stage: the same turns as one plain round-robin loop.
            int k = 0;
            k = roundRobinCheckingTwo(order, k, Math.max(size / 2, tailThreshold));
            k = roundRobinCheckingFour(order, k, Math.max(size / 4, tailThreshold));
            k = roundRobinWalking(order, k, tailThreshold);
            if (free > 0 && freeSlots == null) {
                enterTail();
            }
            while (free > 0) {
                claim(order[k]);
                if (++k == order.length) {
                    k = 0;
                }
            }
        }

        // The three round-robin stages below repeat the claim's bookkeeping with the arrays and the free
        // count in locals instead of calling claim(), which keeps them in fields: the whole build measured
        // over 20 % slower with every claim going through claim().

        /** Round-robin turns from order[k] while more than {@code until} slots are free; returns the next k. */
        private int roundRobinCheckingTwo(int[] order, int k, int until) {
            long[] taken = this.taken;
            int[] table = this.table;
            int[] position = this.position;
            int[] skips = this.skips;
            int size = this.size;
            int free = this.free;
            while (free > until) {
                int i = order[k];
                int stepBack = skips[i] - size;
                int s0 = position[i];
                int s1 = addMod(s0, stepBack, size);
                long free0 = ~taken[s0 >>> 6] >>> s0 & 1;
                long free1 = ~taken[s1 >>> 6] >>> s1 & 1;
                int slot;
                if ((free0 | free1) == 0) {
                    slot = walkRun(s1, stepBack, stride4Back[i]);
                } else {
                    slot = s1 ^ ((s1 ^ s0) & (int) -free0); // s0 if free, else s1
                }
                taken[slot >>> 6] |= 1L << slot;
                table[slot] = i;
                position[i] = addMod(slot, stepBack, size);
                free--;
                if (++k == order.length) {
                    k = 0;
                }
            }
            this.free = free;
            return k;
        }

        /** As {@link #roundRobinCheckingTwo} with the next four slots. */
        private int roundRobinCheckingFour(int[] order, int k, int until) {
            long[] taken = this.taken;
            int[] table = this.table;
            int[] position = this.position;
            int[] skips = this.skips;
            int size = this.size;
            int free = this.free;
            while (free > until) {
                int i = order[k];
                int stepBack = skips[i] - size;
                int s0 = position[i];
                int s1 = addMod(s0, stepBack, size);
                int s2 = addMod(s1, stepBack, size);
                int s3 = addMod(s2, stepBack, size);
                long free0 = ~taken[s0 >>> 6] >>> s0 & 1;
                long free1 = ~taken[s1 >>> 6] >>> s1 & 1;
                long free2 = ~taken[s2 >>> 6] >>> s2 & 1;
                long free3 = ~taken[s3 >>> 6] >>> s3 & 1;
                int slot;
                if ((free0 | free1 | free2 | free3) == 0) {
                    slot = walkRun(s3, stepBack, stride4Back[i]);
                } else {
                    slot = firstFree(s0, free0, s1, free1, s2, free2, s3);
                }
                taken[slot >>> 6] |= 1L << slot;
                table[slot] = i;
                position[i] = addMod(slot, stepBack, size);
                free--;
                if (++k == order.length) {
                    k = 0;
                }
            }
            this.free = free;
            return k;
        }

        /** As {@link #roundRobinCheckingTwo}, checking the next slot and then walking on with {@link #walkRun}. */
        private int roundRobinWalking(int[] order, int k, int until) {
            long[] taken = this.taken;
            int[] table = this.table;
            int[] position = this.position;
            int[] skips = this.skips;
            int size = this.size;
            int free = this.free;
            while (free > until) {
                int i = order[k];
                int stepBack = skips[i] - size;
                int slot = position[i];
                if ((taken[slot >>> 6] & 1L << slot) != 0) {
                    slot = walkRun(slot, stepBack, stride4Back[i]);
                }
                taken[slot >>> 6] |= 1L << slot;
                table[slot] = i;
                position[i] = addMod(slot, stepBack, size);
                free--;
                if (++k == order.length) {
                    k = 0;
                }
            }
            this.free = free;
            return k;
        }

        void byRounds(int[] order, int[] weights, int maxWeight) {
            // credit[k] = round * weights[k] - target[k]: the turn rule without a multiply. It stays within
            // [-maxWeight, maxWeight), so a long never overflows.
            long[] credit = new long[order.length];
            while (true) {
                for (int k = 0; k < order.length; k++) {
                    long c = credit[k];
                    if (c >= 0) {
                        claim(order[k]);
                        if (free == 0) {
                            return;
                        }
                        c -= maxWeight;
                    }
                    credit[k] = c + weights[k];
                }
            }
        }

        void byTurnQueue(int[] order, int[] weights, int maxWeight) {
            int count = order.length;
            long[] nextRound = new long[count];
            long[] target = new long[count];
            // Binary min-heap of k by (nextRound[k], k). All start at round 0, so k order is already a heap.
            int[] heap = new int[count];
            for (int k = 0; k < count; k++) {
                heap[k] = k;
            }
            while (true) {
                int k = heap[0];
                long round = nextRound[k];
                claim(order[k]);
                if (free == 0) {
                    return;
                }
                target[k] += maxWeight;
                // first round r > round with r * w >= target
                nextRound[k] = Math.max(round + 1, Math.ceilDiv(target[k], weights[k]));
                siftDownRoot(heap, nextRound);
            }
        }

        private static void siftDownRoot(int[] heap, long[] nextRound) {
            int count = heap.length;
            int k = heap[0];
            int at = 0;
            while (true) {
                int child = 2 * at + 1;
                if (child >= count) {
                    break;
                }
                if (child + 1 < count && before(heap[child + 1], heap[child], nextRound)) {
                    child++;
                }
                if (!before(heap[child], k, nextRound)) {
                    break;
                }
                heap[at] = heap[child];
                at = child;
            }
            heap[at] = k;
        }

        private static boolean before(int a, int b, long[] nextRound) {
            return nextRound[a] < nextRound[b] || nextRound[a] == nextRound[b] && a < b;
        }

        /** Gives backend i the first free slot of its permutation from its position. */
        private void claim(int i) {
            int slot = freeSlots == null ? walk(i) : nearestFree(i);
            table[slot] = i;
            position[i] = addMod(slot, skips[i] - size, size);
            if (--free == tailThreshold && free > 0) {
                enterTail();
            }
        }

        private int walk(int i) {
            long[] taken = this.taken;
            int slot = position[i];
            if ((taken[slot >>> 6] & 1L << slot) != 0) {
                slot = walkRun(slot, skips[i] - size, stride4Back[i]);
            }
            taken[slot >>> 6] |= 1L << slot;
            return slot;
        }

        /**
         * Walks on from a claimed slot. Four interleaved chains (steps 1, 2, 3, 4 ahead, each advancing four
         * steps) so the next probes do not wait on the previous one's add-and-wrap. One branch per four
         * probes, then the first free of the four in permutation order is chosen without branches: where
         * the walk ends is unpredictable, and one exit mispredicts less often than four (a branch per probe
         * measured about 10 % slower here). The slot found is the one the single walk would find.
         */
        private int walkRun(int claimed, int strideBack, int stride4Back) {
            long[] taken = this.taken;
            int size = this.size;
            int a = addMod(claimed, strideBack, size);
            int b = addMod(a, strideBack, size);
            int c = addMod(b, strideBack, size);
            int d = addMod(c, strideBack, size);
            while (true) {
                // bit 0 is set if any of the four slots is free
                long anyFree = ~taken[a >>> 6] >>> a | ~taken[b >>> 6] >>> b | ~taken[c >>> 6] >>> c
                        | ~taken[d >>> 6] >>> d;
                if ((anyFree & 1) != 0) {
                    break;
                }
                a = addMod(a, stride4Back, size);
                b = addMod(b, stride4Back, size);
                c = addMod(c, stride4Back, size);
                d = addMod(d, stride4Back, size);
            }
            long freeA = ~taken[a >>> 6] >>> a & 1;
            long freeB = ~taken[b >>> 6] >>> b & 1;
            long freeC = ~taken[c >>> 6] >>> c & 1;
            return firstFree(a, freeA, b, freeB, c, freeC, d);
        }

        /**
         * The first of four slots in permutation order whose flag is 1, taking the last when the first three
         * are 0, without branches: each step is {@code slot = flag ? s : slot} as masks.
         */
        private static int firstFree(int s0, long free0, int s1, long free1, int s2, long free2, int s3) {
            int slot = s3;
            slot ^= (slot ^ s2) & (int) -free2;
            slot ^= (slot ^ s1) & (int) -free1;
            slot ^= (slot ^ s0) & (int) -free0;
            return slot;
        }

        /** {@code (slot + step) mod size} for a slot in [0, size), given {@code step - size} (negative). */
        private static int addMod(int slot, int stepBack, int size) {
            int next = slot + stepBack;
            return next + (next >> 31 & size);
        }

        /** The free slot the walk would reach first, removed from the free list. */
        private int nearestFree(int i) {
            int[] slots = freeSlots;
            int size = this.size;
            int from = position[i];
            long inverse = inverseSkip(i);
            long reciprocal = this.reciprocal;
            int best = 0;
            long bestSteps = Long.MAX_VALUE;
            for (int k = 0; k < free; k++) {
                int distance = slots[k] - from;
                if (distance < 0) {
                    distance += size;
                }
                // steps = distance * inverse mod M, by Barrett reduction: the product is below 2^48, the
                // quotient estimate from the 64-bit reciprocal is at most one short.
                long product = distance * inverse;
                long steps = product - Math.multiplyHigh(product, reciprocal) * size;
                if (steps >= size) {
                    steps -= size;
                }
                if (steps < bestSteps) {
                    bestSteps = steps;
                    best = k;
                }
            }
            int slot = slots[best];
            slots[best] = slots[free - 1];
            return slot;
        }

        private long inverseSkip(int i) {
            int inverse = inverseSkips[i];
            if (inverse == 0) {
                inverse = inverseMod(skips[i], size);
                inverseSkips[i] = inverse;
            }
            return inverse;
        }

        private void enterTail() {
            int[] slots = new int[free];
            int count = 0;
            for (int word = 0; word < taken.length; word++) {
                long empty = ~taken[word];
                while (empty != 0) {
                    int slot = (word << 6) + Long.numberOfTrailingZeros(empty);
                    if (slot >= size) {
                        break;
                    }
                    slots[count++] = slot;
                    empty &= empty - 1;
                }
            }
            freeSlots = slots;
            inverseSkips = new int[skips.length];
        }
    }

    /** {@code a^-1 mod m} for a prime m and 0 < a < m, by the extended Euclidean algorithm. */
    static int inverseMod(int a, int m) {
        long t = 0;
        long newT = 1;
        long r = m;
        long newR = a;
        while (newR != 0) {
            long q = r / newR;
            long nextT = t - q * newT;
            t = newT;
            newT = nextT;
            long nextR = r - q * newR;
            r = newR;
            newR = nextR;
        }
        return (int) (t < 0 ? t + m : t);
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
