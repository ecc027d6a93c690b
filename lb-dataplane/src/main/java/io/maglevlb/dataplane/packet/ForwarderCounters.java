package io.maglevlb.dataplane.packet;

/**
 * Counters of one forwarding thread. Plain fields, written only by that thread with no synchronisation so the
 * hot path pays nothing; the metrics side reads them racily through {@link DsrEngine#stats()} and sees values
 * at most one batch old (each batch ends with a system call, after which the stores are in memory; 64-bit JVMs
 * do not tear long stores). Per-backend arrays are indexed by backend id and replaced by larger copies when a
 * snapshot brings a higher id: the array reference is volatile so a reader sees a complete array.
 */
final class ForwarderCounters {
    long receivedFrames;
    long forwardedPackets;
    long forwardedBytes;
    long fragmentsForwarded;
    long icmpErrorsForwarded;
    long checksumsCompleted;
    final long[] drops = new long[DropReason.VALUES.length];
    volatile long[] backendPackets = new long[0];
    volatile long[] backendBytes = new long[0];

    /** Makes the per-backend arrays hold ids below {@code idLimit} (owner thread only). */
    void ensureBackendCapacity(int idLimit) {
        if (backendPackets.length < idLimit) {
            backendPackets = java.util.Arrays.copyOf(backendPackets, idLimit);
            backendBytes = java.util.Arrays.copyOf(backendBytes, idLimit);
        }
    }
}
