package io.maglevlb.core.conntrack;

/**
 * Told about every change a {@link FlowTable} makes to an entry on its own, so an owner that keeps state
 * beside the table (the UDP forwarder's sessions, in an array indexed by entry id) can follow it.
 *
 * <p>Called synchronously on the table's thread, while the entry is still in the table: {@link
 * FlowTable#backendId(int)} and the other entry getters still answer for it, and its id is not reused until
 * the call returns. Implementations must not modify the table (no insert, remove, resolve, expire, clear)
 * and should not throw; if one throws, the exception propagates to the table's caller and the entry stays.
 */
@FunctionalInterface
public interface EvictionListener {

    /** A listener that ignores everything. */
    EvictionListener NONE = (entryId, backendId, reason) -> {};

    /**
     * The entry {@code entryId} is about to be removed; after this call its id may be given to another flow.
     *
     * @param backendId the backend the flow was on ({@code ForwardingSnapshot.NO_BACKEND} if none)
     */
    void evicted(int entryId, int backendId, EvictionReason reason);

    /**
     * {@link FlowTable#resolve} moved the live entry {@code entryId} from {@code oldBackendId}, which no longer
     * keeps flows, to {@code newBackendId}. The entry id stays the same. Not called for {@link
     * FlowTable#setBackend} or {@link FlowTable#insert}, whose caller already knows.
     */
    default void backendChanged(int entryId, int oldBackendId, int newBackendId) {}
}
