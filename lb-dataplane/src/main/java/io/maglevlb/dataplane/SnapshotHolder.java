package io.maglevlb.dataplane;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.util.Objects;

/**
 * The current {@link ForwardingSnapshot} of one VIP, shared between the control plane (writer) and the
 * forwarding event loops (readers).
 *
 * <p>Threading: {@link #publish} is one volatile store, called by the control plane after it built the
 * snapshot off the event loops. Event loops call {@link #current()} once per new flow and keep the result in a
 * local for the whole decision (first choice and every retry), so a swap in the middle of a decision cannot
 * mix two tables. The snapshot itself is immutable, so the volatile store is the only synchronisation needed.
 */
public final class SnapshotHolder {
    private volatile ForwardingSnapshot current;

    public SnapshotHolder(ForwardingSnapshot initial) {
        this.current = Objects.requireNonNull(initial, "initial");
    }

    /** The snapshot to use for a new flow. One volatile load. */
    public ForwardingSnapshot current() {
        return current;
    }

    /** Makes {@code snapshot} the one new flows see. One volatile store; existing flows keep their backend. */
    public void publish(ForwardingSnapshot snapshot) {
        current = Objects.requireNonNull(snapshot, "snapshot");
    }
}
