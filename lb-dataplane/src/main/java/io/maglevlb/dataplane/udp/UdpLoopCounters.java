package io.maglevlb.dataplane.udp;

import io.maglevlb.core.conntrack.EvictionReason;
import java.util.Arrays;

/**
 * Counters of one UDP VIP on one event loop: plain primitive fields, written only by that loop.
 *
 * <p>Threading: the metrics thread reads them without synchronization through {@link UdpForwarder#stats()}.
 * It may see values a few increments stale, and a per-backend array that the loop has just replaced by a
 * longer copy; a gauge needs no more. They are not volatile so the loop pays nothing per datagram, and
 * 64-bit JVMs do not tear long writes in practice.
 */
final class UdpLoopCounters {
    /** Per-backend counters, indexed by backend id. */
    static final class PerBackend {
        long datagramsToBackend;
        long bytesToBackend;
        long datagramsFromBackend;
        long bytesFromBackend;
        long flowsCreated;
        long flowsActive;
        long unreachable;

        void reset() {
            datagramsToBackend = 0;
            bytesToBackend = 0;
            datagramsFromBackend = 0;
            bytesFromBackend = 0;
            flowsCreated = 0;
            flowsActive = 0;
            unreachable = 0;
        }
    }

    private static final EvictionReason[] EVICTION_REASONS = EvictionReason.values();
    private static final UdpDropReason[] DROP_REASONS = UdpDropReason.values();

    long datagramsFromClients;
    long bytesFromClients;
    long datagramsToBackends;
    long bytesToBackends;
    long datagramsFromBackends;
    long bytesFromBackends;
    long datagramsToClients;
    long bytesToClients;
    long flowsCreated;
    long flowsMoved;
    long statelessDatagrams;
    long backendUnreachable;
    long sessionOpenFailures;
    long vipSocketErrors;
    final long[] flowsEvicted = new long[EVICTION_REASONS.length];
    final long[] dropped = new long[DROP_REASONS.length];

    /** Replaced (never shrunk) by the loop when a larger backend id shows up; see the class comment. */
    PerBackend[] backends = new PerBackend[0];

    /** The counters of backend {@code id}, growing the array when needed. Loop thread only. */
    PerBackend backend(int id) {
        PerBackend[] current = backends;
        if (id < current.length) {
            PerBackend b = current[id];
            if (b != null) {
                return b;
            }
        } else {
            current = Arrays.copyOf(current, Math.max(id + 1, current.length * 2));
        }
        PerBackend b = new PerBackend();
        current[id] = b;
        backends = current;
        return b;
    }

    void drop(UdpDropReason reason) {
        dropped[reason.ordinal()]++;
    }
}
