package io.maglevlb.dataplane.packet;

import io.maglevlb.core.snapshot.ForwardingSnapshot;

/**
 * The forwarding thread's placement of flows on backends. Interim: decides by the Maglev table alone (every
 * decision is a miss) until the per-thread connection-tracking table of lb-core is available; the forwarder
 * calls only this class, so the table slots in here.
 */
final class FlowPlacement {
    private long misses;

    FlowPlacement(int capacity, long idleTimeoutNs, int floodThresholdPerSec) {
        if (capacity < 1 || idleTimeoutNs <= 0 || floodThresholdPerSec < 0) {
            throw new IllegalArgumentException("bad flow table settings");
        }
    }

    int resolve(ForwardingSnapshot snapshot, long hash, int protocol, long srcHi, long srcLo, int srcPort,
            long dstHi, long dstLo, int dstPort, long nowNs) {
        misses++;
        return snapshot.backendFor(hash);
    }

    void expire(long nowNs, int maxScan) {
        // nothing tracked
    }

    long size() {
        return 0;
    }

    long hits() {
        return 0;
    }

    long misses() {
        return misses;
    }

    long inserts() {
        return 0;
    }

    long evictions() {
        return 0;
    }

    long floodSkips() {
        return 0;
    }

    boolean inFloodMode() {
        return false;
    }
}
