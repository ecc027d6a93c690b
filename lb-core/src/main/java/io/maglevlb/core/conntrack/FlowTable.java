package io.maglevlb.core.conntrack;

import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.security.SecureRandom;
import java.util.Objects;

/**
 * Connection tracking for one forwarding thread: remembers which backend each flow went to, so a flow keeps
 * its backend across table rebuilds as long as that backend still {@linkplain ForwardingSnapshot#keepsFlows
 * keeps flows} (DESIGN §5).
 *
 * <p>A flow is keyed by its tuple (protocol, source address and port, destination address and port). Where
 * its probe starts comes from a keyed hash of the tuple with a secret drawn from {@link SecureRandom} when the
 * table is made, not from the public flow hash: that one ({@link io.maglevlb.core.flow.FlowHash}) is fixed on
 * every host for Maglev placement, so a sender who picks source tuples (spoofed UDP toward a DSR VIP, say)
 * could otherwise line up long probe chains (hash flooding). Every candidate is verified against the whole
 * tuple. Addresses are two longs each (IPv6, or IPv4-mapped via {@code FlowHash.v4Hi()} /
 * {@code FlowHash.v4Lo(ip)}). The caller's flow hash is what {@link #resolve} asks the Maglev table with; the
 * caller must always pass the same hash for the same tuple (it does: the hash is a function of the tuple and
 * the VIP's hash mode). Protocol is taken modulo 256 and ports modulo 65536.
 *
 * <p>Each tracked flow is an <em>entry</em> with an id in {@code [0, capacity())}. The id never changes while
 * the flow lives, so callers may keep state in arrays of {@link #capacity()} elements indexed by it; the
 * {@link EvictionListener} hears about every removal before the id is reused. Each entry holds a backend id
 * ({@link ForwardingSnapshot#NO_BACKEND} = none), the last time a packet was seen and the creation time, in
 * nanoseconds of the caller's clock: the table never reads a clock, the caller reads one once per batch and
 * passes it as {@code nowNs}.
 *
 * <p>Removal: an entry not seen for longer than the idle timeout is dropped lazily when a lookup finds it (the
 * lookup is a miss), by the incremental {@link #expire} sweep, or as the victim of a full table. A full table
 * replaces the least recently seen entry of a small sample (see design notes); when none of the sample may
 * go, or in flood mode, {@link #insert} returns {@link #NOT_INSERTED} and the caller forwards by the Maglev
 * table alone. Nothing here errors or blocks because the table is full.
 *
 * <p><b>Threading.</b> Owned by one forwarding thread: no locks, no allocation after construction. Statistics
 * are plain fields written only by the owner; a metrics thread may read them through the getters racily. It
 * then sees a recent value, maybe a few increments stale, which is all a gauge needs; they are not volatile
 * so the owner pays nothing per packet, and the JIT cannot cache them across calls of a getter from
 * another thread because each scrape is a fresh call. (64-bit JVMs do not tear long writes in practice.)
 */
public final class FlowTable {
    /*
     * Design notes.
     *
     * Layout. Entries live in a slab indexed by entry id: eight longs per entry in one long[] (srcHi, srcLo,
     * dstHi, dstLo, meta, lastSeenNs, createdNs, hash), so a hit touches one run of 48 bytes and the entry is
     * one cache line when the array is line aligned. meta packs backend id (bits 40..62), protocol (32..39),
     * source port (16..31) and destination port (0..15); a free entry has meta = -1. Free entry ids sit on a
     * stack.
     *
     * Index. A separate open-addressing table (linear probing, power-of-two size = 2 x capacity so the load
     * factor is at most 0.5) of longs: low 32 bits = entry id + 1 (0 = empty slot), high 32 bits = low 32 bits
     * of the index hash. The high bits filter candidates without touching the slab and give the home slot
     * (indexHash & mask) back when a slot moves. The slab keeps each entry's index hash for the same reason.
     *
     * Index hash (hash flooding). Linear probing is only fast while home slots are spread; a public hash
     * lets a sender choose tuples with one home slot (low-bit collisions take ~2 x capacity tries each, and
     * the public fold even has full collisions: any IPv6 source whose high half equals its key). So the index
     * hash is keyed with six 64-bit words derived (splitmix64) from a per-table seed from SecureRandom:
     *   src = fold(srcHi ^ k0, srcLo ^ k1), dst = fold(dstHi ^ k2, dstLo ^ k3),
     *   indexHash = fold(src ^ k4, ports ^ dst ^ k5), fold(a, b) = low ^ high of the 128-bit product a * b.
     * Attacker-chosen fields (source address, source port) enter only through a multiply with secret
     * operands, never XORed together first, so no choice of tuples collides without knowing the key. Three
     * wide multiplies, two in parallel: a few ns per lookup, no memory access (FlowTableBench before/after
     * in docs/architecture.md). Not a cryptographic MAC, like the keyed jhash/siphash of Linux conntrack it
     * only has to make placement unpredictable from outside; the seed never leaves the table. Deletion is backward shift (Knuth 6.4 algorithm R): following
     * slots move back into the hole when that keeps them reachable from their home, so there are no
     * tombstones and a probe ends at the first empty slot. Only index slots move; entries never do, which is
     * what keeps entry ids stable.
     *
     * Replacement when full. A clock hand walks the entry ids. An insert into a full table looks at the
     * EVICTION_SAMPLE entries from the hand on and evicts the least recently seen one, then moves the hand
     * just past the victim. The new flow takes the victim's id, which now lies behind the hand, so it is not
     * looked at again until the hand has gone once round the whole table: a just-inserted flow is never
     * replaced while older ones exist. Entries passed over (seen more recently than the victim) get the same
     * reprieve, as in CLOCK / second chance. Entries seen at the current time (this batch) are never
     * victims: when the whole sample was seen now the insert fails instead of thrashing, and the hand moves on.
     * Eight consecutive entries are eight adjacent cache lines, so a replacement costs a bounded, prefetchable
     * scan and no per-hit bookkeeping (an exact LRU list would cost writes to two other entries on every hit).
     *
     * Flood mode (Katran). New-flow inserts are counted in one-second windows of the caller's clock; the
     * window starts at the first insert attempt after the previous one ended. Above floodThresholdPerSec
     * inserts in a window the table stops inserting until the window ends.
     */

    /** Entry id meaning "no entry": a lookup miss. */
    public static final int NO_ENTRY = -1;
    /** What {@link #insert} returns (and {@link #lastResolvedEntry()} holds) when a flow was not tracked. */
    public static final int NOT_INSERTED = NO_ENTRY;
    /** Largest capacity accepted (the slab is 64 bytes an entry). */
    public static final int MAX_CAPACITY = 1 << 26;
    /** Largest backend id an entry can hold (23 bits: far above any VIP's backend count). */
    public static final int MAX_BACKEND_ID = (1 << 23) - 1;
    /** Entries compared to pick a victim when inserting into a full table. */
    public static final int EVICTION_SAMPLE = 8;
    /** Length of a flood-mode counting window. */
    public static final long FLOOD_WINDOW_NS = 1_000_000_000L;

    private static final int STRIDE_SHIFT = 3; // eight longs an entry
    private static final int SRC_HI = 0;
    private static final int SRC_LO = 1;
    private static final int DST_HI = 2;
    private static final int DST_LO = 3;
    private static final int META = 4;
    private static final int LAST_SEEN = 5;
    private static final int CREATED = 6;
    private static final int HASH = 7;
    private static final int BACKEND_SHIFT = 40;
    private static final long KEY_MASK = (1L << BACKEND_SHIFT) - 1;
    private static final long FREE = -1L;
    private static final long ENTRY_BITS = 0xffff_ffffL;
    private static final long GOLDEN_GAMMA = 0x9e37_79b9_7f4a_7c15L;

    private final int capacity;
    private final int entryMask;
    // Index hash keys (see design notes); derived from the table's secret seed.
    private final long k0;
    private final long k1;
    private final long k2;
    private final long k3;
    private final long k4;
    private final long k5;
    private final long[] slab;
    private final long[] index;
    private final int indexMask;
    private final int[] freeIds;
    private int freeCount;
    private int size;
    private int clockHand;
    private int expireCursor;
    private int lastResolvedEntry = NO_ENTRY;

    private long idleTimeoutNs;
    private int floodThresholdPerSec;
    private boolean floodMode;
    private boolean floodWindowStarted;
    private long floodWindowStartNs;
    private int floodWindowInserts;
    private EvictionListener listener;

    // Statistics: written only by the owning thread (see class comment).
    private long hits;
    private long misses;
    private long inserts;
    private long idleEvictions;
    private long capacityEvictions;
    private long backendGoneEvictions;
    private long removals;
    private long floodSkips;
    private long floodActivations;
    private long insertFailures;
    private long backendChanges;

    /**
     * @param requestedCapacity flows tracked at most, rounded up to a power of two; 1 .. {@link #MAX_CAPACITY}
     * @param idleTimeoutNs a flow not seen for longer than this is expired; > 0 ({@code Long.MAX_VALUE}: never)
     * @param floodThresholdPerSec new flows per second above which inserts stop until the next second; 0 = off
     * @param listener told of every removal and backend change; {@link EvictionListener#NONE} for none
     */
    public FlowTable(int requestedCapacity, long idleTimeoutNs, int floodThresholdPerSec,
            EvictionListener listener) {
        this(requestedCapacity, idleTimeoutNs, floodThresholdPerSec, listener, Secrets.RANDOM.nextLong());
    }

    /**
     * A table whose index secret is derived from {@code indexSeed}: for tests that need to know or repeat the
     * index layout. Everything else takes the public constructors, which draw the seed from SecureRandom.
     */
    FlowTable(int requestedCapacity, long idleTimeoutNs, int floodThresholdPerSec, EvictionListener listener,
            long indexSeed) {
        long z = indexSeed;
        this.k0 = splitmix64(z += GOLDEN_GAMMA);
        this.k1 = splitmix64(z += GOLDEN_GAMMA);
        this.k2 = splitmix64(z += GOLDEN_GAMMA);
        this.k3 = splitmix64(z += GOLDEN_GAMMA);
        this.k4 = splitmix64(z += GOLDEN_GAMMA);
        this.k5 = splitmix64(z + GOLDEN_GAMMA);
        if (requestedCapacity < 1 || requestedCapacity > MAX_CAPACITY) {
            throw new IllegalArgumentException(
                    "flow table capacity must be between 1 and " + MAX_CAPACITY + ", was " + requestedCapacity);
        }
        checkIdleTimeout(idleTimeoutNs);
        checkFloodThreshold(floodThresholdPerSec);
        this.capacity = requestedCapacity == 1 ? 1 : Integer.highestOneBit(requestedCapacity - 1) << 1;
        this.entryMask = capacity - 1;
        this.slab = new long[capacity << STRIDE_SHIFT];
        this.index = new long[capacity << 1];
        this.indexMask = index.length - 1;
        this.freeIds = new int[capacity];
        this.idleTimeoutNs = idleTimeoutNs;
        this.floodThresholdPerSec = floodThresholdPerSec;
        this.listener = Objects.requireNonNull(listener, "listener");
        for (int e = 0; e < capacity; e++) {
            slab[(e << STRIDE_SHIFT) + META] = FREE;
            freeIds[e] = capacity - 1 - e; // pops 0, 1, 2, ...
        }
        freeCount = capacity;
    }

    /** A table without a listener. */
    public FlowTable(int requestedCapacity, long idleTimeoutNs, int floodThresholdPerSec) {
        this(requestedCapacity, idleTimeoutNs, floodThresholdPerSec, EvictionListener.NONE);
    }

    /** A table sized and flood-limited by {@code config}, expiring flows idle for {@code idleTimeoutNs}. */
    public static FlowTable of(FlowTableConfig config, long idleTimeoutNs, EvictionListener listener) {
        return new FlowTable(config.capacity(), idleTimeoutNs, config.floodThreshold(), listener);
    }

    // ---------------------------------------------------------------- the forwarding decision

    /**
     * The backend for a packet of the given flow, tracking the flow as needed.
     *
     * <ul>
     *   <li>Tracked, and its backend still keeps flows in {@code snapshot}: that backend (last-seen refreshed).
     *   <li>Tracked, but its backend no longer keeps flows (unhealthy or gone): {@code snapshot.backendFor(hash)};
     *       the entry keeps its id, takes the new backend, and the listener hears {@code backendChanged}. If no
     *       backend can take it, the entry is removed ({@link EvictionReason#BACKEND_GONE}).
     *   <li>Not tracked (or expired): {@code snapshot.backendFor(hash)}, inserted unless that is no backend, the
     *       table is in flood mode or nothing can be replaced.
     * </ul>
     *
     * {@link #lastResolvedEntry()} then holds the flow's entry id, or {@link #NOT_INSERTED}. Allocation-free.
     *
     * @return a backend id, or {@link ForwardingSnapshot#NO_BACKEND} when the VIP has none to offer
     */
    public int resolve(ForwardingSnapshot snapshot, long hash, int protocol, long srcHi, long srcLo, int srcPort,
            long dstHi, long dstLo, int dstPort, long nowNs) {
        long key = keyBits(protocol, srcPort, dstPort);
        long indexHash = indexHash(key, srcHi, srcLo, dstHi, dstLo);
        int entry = lookup(indexHash, key, srcHi, srcLo, dstHi, dstLo, nowNs);
        if (entry != NO_ENTRY) {
            int metaIndex = (entry << STRIDE_SHIFT) + META;
            int current = (int) (slab[metaIndex] >>> BACKEND_SHIFT);
            if (snapshot.keepsFlows(current)) {
                lastResolvedEntry = entry;
                return current;
            }
            int moved = snapshot.backendFor(hash);
            if (moved == ForwardingSnapshot.NO_BACKEND) {
                removeEntry(entry, EvictionReason.BACKEND_GONE);
                lastResolvedEntry = NO_ENTRY;
                return ForwardingSnapshot.NO_BACKEND;
            }
            checkBackendId(moved);
            slab[metaIndex] = (slab[metaIndex] & KEY_MASK) | ((long) moved << BACKEND_SHIFT);
            backendChanges++;
            lastResolvedEntry = entry;
            listener.backendChanged(entry, current, moved);
            return moved;
        }
        int chosen = snapshot.backendFor(hash);
        if (chosen == ForwardingSnapshot.NO_BACKEND) {
            lastResolvedEntry = NO_ENTRY;
            return chosen;
        }
        lastResolvedEntry = insertNew(indexHash, key, srcHi, srcLo, dstHi, dstLo, chosen, nowNs);
        return chosen;
    }

    /** Entry id of the flow the last {@link #resolve} answered for, or {@link #NOT_INSERTED} if untracked. */
    public int lastResolvedEntry() {
        return lastResolvedEntry;
    }

    // ---------------------------------------------------------------- lower-level operations

    /**
     * Looks the flow up. A live entry is refreshed (last seen = {@code nowNs}) and counted as a hit; an entry
     * idle for longer than the timeout is removed ({@link EvictionReason#IDLE}) and counted as a miss.
     *
     * @param hash the flow's public hash; unused here (the index is keyed by the table's secret), kept so that
     *     every method takes the same tuple arguments as {@link #resolve}
     * @return the entry id, or {@link #NO_ENTRY}
     */
    public int find(long hash, int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort, long nowNs) {
        long key = keyBits(protocol, srcPort, dstPort);
        return lookup(indexHash(key, srcHi, srcLo, dstHi, dstLo), key, srcHi, srcLo, dstHi, dstLo, nowNs);
    }

    /**
     * Read-only lookup for diagnostics ({@code maglevd explain}): the entry id of the flow when it is tracked and
     * was seen within the idle timeout before {@code nowNs}, else {@link #NO_ENTRY}. Unlike {@link #find} it
     * counts nothing, refreshes nothing and removes nothing, so asking about a flow neither keeps it alive nor
     * shows in the statistics. Owner thread only, like every other method.
     */
    public int peek(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort,
            long nowNs) {
        long key = keyBits(protocol, srcPort, dstPort);
        int slot = indexSlotOf(indexHash(key, srcHi, srcLo, dstHi, dstLo), key, srcHi, srcLo, dstHi, dstLo);
        if (slot < 0) {
            return NO_ENTRY;
        }
        int entry = (int) index[slot] - 1;
        return nowNs - slab[(entry << STRIDE_SHIFT) + LAST_SEEN] > idleTimeoutNs ? NO_ENTRY : entry;
    }

    /** {@link #find} once the key bits and index hash are known. */
    private int lookup(long indexHash, long key, long srcHi, long srcLo, long dstHi, long dstLo, long nowNs) {
        long[] index = this.index;
        long[] slab = this.slab;
        int mask = indexMask;
        long tag = indexHash << 32;
        for (int i = (int) indexHash & mask; ; i = (i + 1) & mask) {
            long slot = index[i];
            if (slot == 0) {
                misses++;
                return NO_ENTRY;
            }
            if (((slot ^ tag) >>> 32) == 0) {
                int entry = (int) slot - 1;
                int base = entry << STRIDE_SHIFT;
                if ((slab[base + META] & KEY_MASK) == key && slab[base + SRC_LO] == srcLo
                        && slab[base + SRC_HI] == srcHi && slab[base + DST_LO] == dstLo
                        && slab[base + DST_HI] == dstHi) {
                    if (nowNs - slab[base + LAST_SEEN] > idleTimeoutNs) {
                        evictAt(i, entry, EvictionReason.IDLE);
                        misses++;
                        return NO_ENTRY;
                    }
                    slab[base + LAST_SEEN] = nowNs;
                    hits++;
                    return entry;
                }
            }
        }
    }

    /**
     * Tracks the flow on {@code backendId}. If it is already tracked (and not expired), its backend is set,
     * it is refreshed, and its id returned; nothing is counted as an insert. Otherwise a new entry is created
     * (created = last seen = {@code nowNs}), replacing the least recently seen of a sample when the table is
     * full, unless the table is in flood mode or no sampled entry may go.
     *
     * @param hash the flow's public hash; unused here, as in {@link #find}
     * @param backendId 0 ({@link ForwardingSnapshot#NO_BACKEND}) .. {@link #MAX_BACKEND_ID}
     * @return the entry id, or {@link #NOT_INSERTED}
     */
    public int insert(long hash, int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort, int backendId, long nowNs) {
        checkBackendId(backendId);
        long key = keyBits(protocol, srcPort, dstPort);
        long indexHash = indexHash(key, srcHi, srcLo, dstHi, dstLo);
        int slot = indexSlotOf(indexHash, key, srcHi, srcLo, dstHi, dstLo);
        if (slot >= 0) {
            int entry = (int) index[slot] - 1;
            int base = entry << STRIDE_SHIFT;
            if (nowNs - slab[base + LAST_SEEN] > idleTimeoutNs) {
                evictAt(slot, entry, EvictionReason.IDLE);
            } else {
                slab[base + META] = (slab[base + META] & KEY_MASK) | ((long) backendId << BACKEND_SHIFT);
                slab[base + LAST_SEEN] = nowNs;
                return entry;
            }
        }
        return insertNew(indexHash, key, srcHi, srcLo, dstHi, dstLo, backendId, nowNs);
    }

    /**
     * Removes a live entry ({@link EvictionReason#REMOVED}; the listener is told).
     *
     * @return false when {@code entryId} is not in use
     * @throws IllegalArgumentException when {@code entryId} is outside {@code [0, capacity())}
     */
    public boolean remove(int entryId) {
        checkEntryRange(entryId);
        if (!isLive(entryId)) {
            return false;
        }
        removeEntry(entryId, EvictionReason.REMOVED);
        return true;
    }

    /** Refreshes a live entry's last-seen time (e.g. for a reply from the backend). */
    public void touch(int entryId, long nowNs) {
        checkLive(entryId);
        slab[(entryId << STRIDE_SHIFT) + LAST_SEEN] = nowNs;
    }

    /** Backend id of a live entry ({@link ForwardingSnapshot#NO_BACKEND} if it has none). */
    public int backendId(int entryId) {
        checkLive(entryId);
        return (int) (slab[(entryId << STRIDE_SHIFT) + META] >>> BACKEND_SHIFT);
    }

    /** Sets a live entry's backend id (0 .. {@link #MAX_BACKEND_ID}); the listener is not told. */
    public void setBackend(int entryId, int backendId) {
        checkLive(entryId);
        checkBackendId(backendId);
        int metaIndex = (entryId << STRIDE_SHIFT) + META;
        slab[metaIndex] = (slab[metaIndex] & KEY_MASK) | ((long) backendId << BACKEND_SHIFT);
    }

    /** When a packet of the live entry was last seen, on the caller's clock. */
    public long lastSeenNs(int entryId) {
        checkLive(entryId);
        return slab[(entryId << STRIDE_SHIFT) + LAST_SEEN];
    }

    /** When the live entry was created, on the caller's clock. */
    public long createdNs(int entryId) {
        checkLive(entryId);
        return slab[(entryId << STRIDE_SHIFT) + CREATED];
    }

    /** Whether {@code entryId} currently holds a flow. */
    public boolean isLive(int entryId) {
        checkEntryRange(entryId);
        return slab[(entryId << STRIDE_SHIFT) + META] != FREE;
    }

    // ---------------------------------------------------------------- housekeeping (event loop, not per packet)

    /**
     * Incremental idle sweep: examines at most {@code maxEntriesToScan} entry ids, resuming where the last call
     * stopped, and removes those idle for longer than the timeout ({@link EvictionReason#IDLE}). Also ends a
     * finished flood window, so {@link #inFloodMode()} turns off even when no new flow arrives.
     *
     * @return entries removed
     */
    public int expire(long nowNs, int maxEntriesToScan) {
        if (maxEntriesToScan < 0) {
            throw new IllegalArgumentException("maxEntriesToScan must be >= 0, was " + maxEntriesToScan);
        }
        if (floodWindowStarted) {
            advanceFloodWindow(nowNs);
        }
        int toScan = Math.min(maxEntriesToScan, capacity);
        int entry = expireCursor;
        int removed = 0;
        for (int n = 0; n < toScan && size > 0; n++) {
            int base = entry << STRIDE_SHIFT;
            if (slab[base + META] != FREE && nowNs - slab[base + LAST_SEEN] > idleTimeoutNs) {
                removeEntry(entry, EvictionReason.IDLE);
                removed++;
            }
            entry = (entry + 1) & entryMask;
        }
        expireCursor = entry;
        return removed;
    }

    /**
     * Removes every flow on {@code backendId} ({@link EvictionReason#BACKEND_GONE}); run by the event loop after
     * a snapshot swap dropped that backend. A full scan of the slab: rare, off the per-packet path.
     *
     * @return entries removed
     */
    public int removeBackend(int backendId) {
        checkBackendId(backendId);
        long wanted = backendId;
        int removed = 0;
        for (int entry = 0; entry < capacity && size > 0; entry++) {
            long meta = slab[(entry << STRIDE_SHIFT) + META];
            if (meta != FREE && (meta >>> BACKEND_SHIFT) == wanted) {
                removeEntry(entry, EvictionReason.BACKEND_GONE);
                removed++;
            }
        }
        return removed;
    }

    // ---------------------------------------------------------------- hand-over to another process (takeover)

    /**
     * Appends every tracked flow not idle for longer than the timeout at {@code nowNs} to {@code out}, with its
     * backend id and its ages relative to {@code nowNs}; changes nothing and counts nothing. A full scan of the
     * slab: for a takeover, never per packet. Owner thread only (or after the owner stopped).
     *
     * @return records appended
     */
    public int exportTo(FlowRecords out, long nowNs) {
        int exported = 0;
        long[] slab = this.slab;
        for (int entry = 0; entry < capacity && exported < size; entry++) {
            int base = entry << STRIDE_SHIFT;
            long meta = slab[base + META];
            if (meta == FREE) {
                continue;
            }
            long idleNs = Math.max(0, nowNs - slab[base + LAST_SEEN]);
            if (idleNs > idleTimeoutNs) {
                continue;
            }
            long ageNs = Math.max(idleNs, nowNs - slab[base + CREATED]);
            out.add((int) (meta >>> 32) & 0xff, slab[base + SRC_HI], slab[base + SRC_LO], (int) (meta >>> 16) & 0xffff,
                    slab[base + DST_HI], slab[base + DST_LO], (int) meta & 0xffff, (int) (meta >>> BACKEND_SHIFT),
                    idleNs, ageNs);
            exported++;
        }
        return exported;
    }

    /**
     * Tracks the flows of {@code records} (exported by another table, usually in another process) on the
     * backends {@code backendMap} gives them: {@code backendMap[record's backend id]} is this side's id, and a
     * record whose id is outside the map or maps to {@link ForwardingSnapshot#NO_BACKEND} is skipped (its backend
     * is gone or no longer keeps flows here: the flow will be placed by the table). Last seen and created are
     * {@code nowNs} minus the record's ages, so a flow expires here when it would have there; records already idle
     * for longer than this table's timeout are skipped. A flow tracked here already keeps its entry.
     *
     * <p>Never evicts a tracked flow and ignores the flood threshold: records beyond the free entries are
     * skipped. Counts no insert and tells the listener nothing (there is no state beside an imported entry: an
     * owner creates it on the flow's next packet, as for a tracked flow it has no state for). Owner thread only.
     *
     * @return records tracked
     */
    public int importFrom(FlowRecords records, int[] backendMap, long nowNs) {
        int imported = 0;
        for (int i = 0; i < records.size(); i++) {
            int exporterId = records.backendId(i);
            int backendId = exporterId >= 0 && exporterId < backendMap.length ? backendMap[exporterId]
                    : ForwardingSnapshot.NO_BACKEND;
            if (backendId == ForwardingSnapshot.NO_BACKEND || records.idleNs(i) > idleTimeoutNs) {
                continue;
            }
            checkBackendId(backendId);
            long key = keyBits(records.protocol(i), records.srcPort(i), records.dstPort(i));
            long srcHi = records.srcHi(i);
            long srcLo = records.srcLo(i);
            long dstHi = records.dstHi(i);
            long dstLo = records.dstLo(i);
            long indexHash = indexHash(key, srcHi, srcLo, dstHi, dstLo);
            if (indexSlotOf(indexHash, key, srcHi, srcLo, dstHi, dstLo) >= 0) {
                continue;
            }
            if (freeCount == 0) {
                break;
            }
            int entry = freeIds[--freeCount];
            int slot = (int) indexHash & indexMask;
            while (index[slot] != 0) {
                slot = (slot + 1) & indexMask;
            }
            index[slot] = (indexHash << 32) | (entry + 1L);
            int base = entry << STRIDE_SHIFT;
            slab[base + SRC_HI] = srcHi;
            slab[base + SRC_LO] = srcLo;
            slab[base + DST_HI] = dstHi;
            slab[base + DST_LO] = dstLo;
            slab[base + META] = key | ((long) backendId << BACKEND_SHIFT);
            slab[base + LAST_SEEN] = nowNs - records.idleNs(i);
            slab[base + CREATED] = nowNs - records.ageNs(i);
            slab[base + HASH] = indexHash;
            size++;
            imported++;
        }
        return imported;
    }

    /** Removes every flow ({@link EvictionReason#REMOVED}, each one told to the listener). */
    public void clear() {
        for (int entry = 0; entry < capacity && size > 0; entry++) {
            if (slab[(entry << STRIDE_SHIFT) + META] != FREE) {
                removeEntry(entry, EvictionReason.REMOVED);
            }
        }
        lastResolvedEntry = NO_ENTRY;
    }

    // ---------------------------------------------------------------- settings

    public int capacity() {
        return capacity;
    }

    public long idleTimeoutNs() {
        return idleTimeoutNs;
    }

    /** Changes the idle timeout; it applies to existing entries from the next lookup or sweep. */
    public void setIdleTimeoutNs(long idleTimeoutNs) {
        checkIdleTimeout(idleTimeoutNs);
        this.idleTimeoutNs = idleTimeoutNs;
    }

    public int floodThresholdPerSec() {
        return floodThresholdPerSec;
    }

    /** Changes the flood threshold (0 = off); turning it off ends flood mode at once. */
    public void setFloodThresholdPerSec(int floodThresholdPerSec) {
        checkFloodThreshold(floodThresholdPerSec);
        this.floodThresholdPerSec = floodThresholdPerSec;
        if (floodThresholdPerSec == 0) {
            floodMode = false;
        }
    }

    /** Replaces the listener (e.g. once the owner that keeps per-entry state exists). */
    public void setListener(EvictionListener listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    /**
     * Whether new flows are currently not being inserted because of the flood threshold, as of the last insert
     * attempt or {@link #expire} call.
     */
    public boolean inFloodMode() {
        return floodMode;
    }

    // ---------------------------------------------------------------- statistics (racy reads allowed)

    /** Flows tracked now. */
    public int size() {
        return size;
    }

    /** Lookups that found a live entry. */
    public long hits() {
        return hits;
    }

    /** Lookups that found no live entry (including expired ones). */
    public long misses() {
        return misses;
    }

    /** Entries created. */
    public long inserts() {
        return inserts;
    }

    /** Entries removed for {@code reason}. */
    public long evictions(EvictionReason reason) {
        return switch (reason) {
            case IDLE -> idleEvictions;
            case CAPACITY -> capacityEvictions;
            case BACKEND_GONE -> backendGoneEvictions;
            case REMOVED -> removals;
        };
    }

    /** Entries removed for any reason. */
    public long evictions() {
        return idleEvictions + capacityEvictions + backendGoneEvictions + removals;
    }

    /** New flows not inserted because the table was in flood mode. */
    public long floodSkips() {
        return floodSkips;
    }

    /** Times the table entered flood mode. */
    public long floodActivations() {
        return floodActivations;
    }

    /** New flows not inserted because the table was full and no sampled entry could be replaced. */
    public long insertFailures() {
        return insertFailures;
    }

    /** Tracked flows that {@link #resolve} moved to another backend because theirs stopped keeping flows. */
    public long backendChanges() {
        return backendChanges;
    }

    // ---------------------------------------------------------------- internals

    private int insertNew(long indexHash, long key, long srcHi, long srcLo, long dstHi, long dstLo, int backendId,
            long nowNs) {
        if (floodThresholdPerSec > 0 && floodBlocks(nowNs)) {
            floodSkips++;
            return NOT_INSERTED;
        }
        if (freeCount == 0 && !evictForInsert(nowNs)) {
            insertFailures++;
            return NOT_INSERTED;
        }
        int entry = freeIds[--freeCount];
        long[] index = this.index;
        int mask = indexMask;
        int i = (int) indexHash & mask;
        while (index[i] != 0) {
            i = (i + 1) & mask;
        }
        index[i] = (indexHash << 32) | (entry + 1L);
        int base = entry << STRIDE_SHIFT;
        long[] slab = this.slab;
        slab[base + SRC_HI] = srcHi;
        slab[base + SRC_LO] = srcLo;
        slab[base + DST_HI] = dstHi;
        slab[base + DST_LO] = dstLo;
        slab[base + META] = key | ((long) backendId << BACKEND_SHIFT);
        slab[base + LAST_SEEN] = nowNs;
        slab[base + CREATED] = nowNs;
        slab[base + HASH] = indexHash;
        size++;
        inserts++;
        return entry;
    }

    /** Counts one new-flow insert attempt against the current window; true if it must not be inserted. */
    private boolean floodBlocks(long nowNs) {
        advanceFloodWindow(nowNs);
        if (floodMode) {
            return true;
        }
        if (++floodWindowInserts > floodThresholdPerSec) {
            floodMode = true;
            floodActivations++;
            return true;
        }
        return false;
    }

    private void advanceFloodWindow(long nowNs) {
        if (!floodWindowStarted || nowNs - floodWindowStartNs >= FLOOD_WINDOW_NS) {
            floodWindowStarted = true;
            floodWindowStartNs = nowNs;
            floodWindowInserts = 0;
            floodMode = false;
        }
    }

    /**
     * Frees one entry of a full table: the least recently seen of the {@link #EVICTION_SAMPLE} entries from the
     * clock hand on, if any was last seen before {@code nowNs}. See the design notes.
     */
    private boolean evictForInsert(long nowNs) {
        int sample = Math.min(EVICTION_SAMPLE, capacity);
        int hand = clockHand;
        int victim = NO_ENTRY;
        long victimSeenNs = 0;
        for (int k = 0; k < sample; k++) {
            int entry = (hand + k) & entryMask;
            long seenNs = slab[(entry << STRIDE_SHIFT) + LAST_SEEN];
            if (nowNs - seenNs > 0 && (victim == NO_ENTRY || seenNs - victimSeenNs < 0)) {
                victim = entry;
                victimSeenNs = seenNs;
            }
        }
        if (victim == NO_ENTRY) {
            clockHand = (hand + sample) & entryMask;
            return false;
        }
        clockHand = (victim + 1) & entryMask;
        removeEntry(victim,
                nowNs - victimSeenNs > idleTimeoutNs ? EvictionReason.IDLE : EvictionReason.CAPACITY);
        return true;
    }

    /** Index slot of the live flow with this key, or -1. Counts nothing, expires nothing. */
    private int indexSlotOf(long indexHash, long key, long srcHi, long srcLo, long dstHi, long dstLo) {
        int mask = indexMask;
        long tag = indexHash << 32;
        for (int i = (int) indexHash & mask; ; i = (i + 1) & mask) {
            long slot = index[i];
            if (slot == 0) {
                return -1;
            }
            if (((slot ^ tag) >>> 32) == 0) {
                int base = ((int) slot - 1) << STRIDE_SHIFT;
                if ((slab[base + META] & KEY_MASK) == key && slab[base + SRC_LO] == srcLo
                        && slab[base + SRC_HI] == srcHi && slab[base + DST_LO] == dstLo
                        && slab[base + DST_HI] == dstHi) {
                    return i;
                }
            }
        }
    }

    /** Removes the live {@code entry}, locating its index slot from its stored hash. */
    private void removeEntry(int entry, EvictionReason reason) {
        int mask = indexMask;
        long wanted = entry + 1L;
        int i = (int) slab[(entry << STRIDE_SHIFT) + HASH] & mask;
        while ((index[i] & ENTRY_BITS) != wanted) {
            if (index[i] == 0) {
                throw new IllegalStateException("flow table corrupt: live entry " + entry + " not in the index");
            }
            i = (i + 1) & mask;
        }
        evictAt(i, entry, reason);
    }

    /** Tells the listener, counts, then unlinks index slot {@code slot} and frees {@code entry}. */
    private void evictAt(int slot, int entry, EvictionReason reason) {
        int base = entry << STRIDE_SHIFT;
        listener.evicted(entry, (int) (slab[base + META] >>> BACKEND_SHIFT), reason);
        switch (reason) {
            case IDLE -> idleEvictions++;
            case CAPACITY -> capacityEvictions++;
            case BACKEND_GONE -> backendGoneEvictions++;
            case REMOVED -> removals++;
        }
        deleteIndexSlot(slot);
        slab[base + META] = FREE;
        freeIds[freeCount++] = entry;
        size--;
    }

    /** Backward-shift deletion: empties {@code hole}, moving later slots of its cluster back when allowed. */
    private void deleteIndexSlot(int hole) {
        long[] index = this.index;
        int mask = indexMask;
        int j = hole;
        while (true) {
            j = (j + 1) & mask;
            long slot = index[j];
            if (slot == 0) {
                break;
            }
            int home = (int) (slot >>> 32) & mask;
            // The slot at j may fill the hole iff its home is not cyclically within (hole, j].
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                index[hole] = slot;
                hole = j;
            }
        }
        index[hole] = 0;
    }

    /** The keyed index hash of a tuple (see design notes). Allocation-free; pure function of tuple and key. */
    private long indexHash(long key, long srcHi, long srcLo, long dstHi, long dstLo) {
        long src = fold(srcHi ^ k0, srcLo ^ k1);
        long dst = fold(dstHi ^ k2, dstLo ^ k3);
        return fold(src ^ k4, key ^ dst ^ k5);
    }

    /** Low ^ high 64 bits of the 128-bit product (Math.multiplyHigh is one instruction on x86-64 and aarch64). */
    private static long fold(long a, long b) {
        return a * b ^ Math.multiplyHigh(a, b);
    }

    /** SplitMix64's output function: turns a seed sequence into well-spread key words. */
    private static long splitmix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58_476d_1ce4_e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d0_49bb_1331_11ebL;
        return z ^ (z >>> 31);
    }

    /** The index hash this table gives a tuple; for tests that need keys colliding under a known seed. */
    long indexHashOf(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort) {
        return indexHash(keyBits(protocol, srcPort, dstPort), srcHi, srcLo, dstHi, dstLo);
    }

    /** Number of index slots (2 x capacity). */
    int indexSlots() {
        return index.length;
    }

    /**
     * The longest probe a lookup of a tracked flow makes now: slots read from the flow's home slot to its
     * own, over every tracked flow (1 = found at home; 0 for an empty table). A full scan; for tests.
     */
    int longestProbe() {
        int longest = 0;
        for (int i = 0; i < index.length; i++) {
            long slot = index[i];
            if (slot != 0) {
                int home = (int) (slot >>> 32) & indexMask;
                longest = Math.max(longest, ((i - home) & indexMask) + 1);
            }
        }
        return longest;
    }

    private static long keyBits(int protocol, int srcPort, int dstPort) {
        return ((long) (protocol & 0xff) << 32) | ((long) (srcPort & 0xffff) << 16) | (dstPort & 0xffff);
    }

    private void checkEntryRange(int entryId) {
        if (entryId < 0 || entryId >= capacity) {
            throw new IllegalArgumentException(
                    "entry id must be between 0 and " + (capacity - 1) + ", was " + entryId);
        }
    }

    private void checkLive(int entryId) {
        if (!isLive(entryId)) {
            throw new IllegalArgumentException("entry " + entryId + " is not in use");
        }
    }

    /** One SecureRandom for every table's seed: seeded once by the JDK, thread-safe, only used at construction. */
    private static final class Secrets {
        static final SecureRandom RANDOM = new SecureRandom();
    }

    private static void checkBackendId(int backendId) {
        if (backendId < 0 || backendId > MAX_BACKEND_ID) {
            throw new IllegalArgumentException(
                    "backend id must be between 0 and " + MAX_BACKEND_ID + ", was " + backendId);
        }
    }

    private static void checkIdleTimeout(long idleTimeoutNs) {
        if (idleTimeoutNs <= 0) {
            throw new IllegalArgumentException("idle timeout must be > 0 ns, was " + idleTimeoutNs);
        }
    }

    private static void checkFloodThreshold(int floodThresholdPerSec) {
        if (floodThresholdPerSec < 0) {
            throw new IllegalArgumentException(
                    "flood threshold must be >= 0 flows/s (0 = off), was " + floodThresholdPerSec);
        }
    }

    /**
     * Checks the table's internal invariants; for tests. Every live entry is reachable from its home slot
     * without crossing an empty slot, index and slab agree, and the free list holds exactly the free entries.
     *
     * @throws IllegalStateException describing the first violation found
     */
    void verifyInvariants() {
        int live = 0;
        boolean[] seen = new boolean[capacity];
        for (int i = 0; i < index.length; i++) {
            long slot = index[i];
            if (slot == 0) {
                continue;
            }
            int entry = (int) slot - 1;
            if (entry < 0 || entry >= capacity) {
                throw new IllegalStateException("index slot " + i + " holds bad entry " + entry);
            }
            if (seen[entry]) {
                throw new IllegalStateException("entry " + entry + " is in the index twice");
            }
            seen[entry] = true;
            int base = entry << STRIDE_SHIFT;
            if (slab[base + META] == FREE) {
                throw new IllegalStateException("index slot " + i + " holds free entry " + entry);
            }
            if ((int) (slot >>> 32) != (int) slab[base + HASH]) {
                throw new IllegalStateException("index slot " + i + " tag disagrees with entry " + entry);
            }
            for (int k = (int) slab[base + HASH] & indexMask; k != i; k = (k + 1) & indexMask) {
                if (index[k] == 0) {
                    throw new IllegalStateException("entry " + entry + " unreachable: empty slot " + k);
                }
            }
            live++;
        }
        if (live != size) {
            throw new IllegalStateException("index holds " + live + " entries, size is " + size);
        }
        if (freeCount + size != capacity) {
            throw new IllegalStateException("free " + freeCount + " + size " + size + " != " + capacity);
        }
        for (int f = 0; f < freeCount; f++) {
            int entry = freeIds[f];
            if (seen[entry] || slab[(entry << STRIDE_SHIFT) + META] != FREE) {
                throw new IllegalStateException("free list holds entry " + entry + " which is in use or listed twice");
            }
            seen[entry] = true;
        }
        if (clockHand < 0 || clockHand >= capacity || expireCursor < 0 || expireCursor >= capacity) {
            throw new IllegalStateException("cursor out of range");
        }
    }
}
