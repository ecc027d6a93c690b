package io.maglevlb.core.conntrack;

/** Why a flow left a {@link FlowTable}; one metric counter each. */
public enum EvictionReason {
    /** No packet for longer than the table's idle timeout (found on lookup, by the sweep, or as a victim). */
    IDLE,
    /** Replaced by a new flow because the table was full (least recently seen of the sampled entries). */
    CAPACITY,
    /** Its backend left the VIP or no backend can take it any more. */
    BACKEND_GONE,
    /** Removed by the owner: {@link FlowTable#remove(int)} or {@link FlowTable#clear()}. */
    REMOVED
}
