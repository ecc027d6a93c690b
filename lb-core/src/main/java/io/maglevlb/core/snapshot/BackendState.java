package io.maglevlb.core.snapshot;

import static com.google.common.base.Preconditions.checkArgument;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What the control plane knows of one backend of one VIP at one moment.
 *
 * @param id dense id, stable for the backend's life in the VIP (see {@link BackendIds}); never 0
 * @param name configured name: the Maglev hash key
 * @param address where to forward (an IP literal, never resolved on the forwarding path)
 * @param weight configured weight; 0 = drained by configuration
 * @param drained drained by an operator (admin API): no new flows, existing flows stay
 * @param healthy last health verdict; unhealthy backends get no slots and their flows move
 */
public record BackendState(int id, String name, InetSocketAddress address, int weight, boolean drained,
        boolean healthy) {

    public BackendState {
        checkArgument(id > 0, "backend id must be > 0 (0 means no backend), was %s", id);
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(address, "address");
        checkArgument(weight >= 0, "weight must be >= 0, was %s", weight);
    }

    /** The weight the table is built with: 0 when drained or down. */
    public int effectiveWeight() {
        return healthy && !drained ? weight : 0;
    }

    /** Whether an existing flow may stay on this backend: present and healthy; draining keeps flows. */
    public boolean keepsFlows() {
        return healthy;
    }

    public BackendState withHealthy(boolean value) {
        return new BackendState(id, name, address, weight, drained, value);
    }

    public BackendState withDrained(boolean value) {
        return new BackendState(id, name, address, weight, value, healthy);
    }
}
