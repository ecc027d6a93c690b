package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.VipStats;
import java.util.EnumMap;
import java.util.Map;

/**
 * Counters of one DSR VIP summed over its forwarding threads at one moment (each thread's part is at most one
 * batch old). Bytes are IP bytes of the client's packets (Ethernet and encapsulation headers not counted).
 *
 * @param vip the VIP's name
 * @param receivedFrames frames the socket filter let through to the engine
 * @param forwardedPackets packets handed to the kernel for transmission toward a backend
 * @param forwardedBytes IP bytes of those packets
 * @param fragmentsForwarded of those, IP fragments (placed by 3-tuple, without the flow table)
 * @param icmpErrorsForwarded of those, ICMP fragmentation-needed / packet-too-big errors
 * @param checksumsCompleted frames whose L4 checksum the engine computed (left to offload by the sender)
 * @param drops frames not forwarded, by reason (every reason present, zeros included)
 * @param backends per backend id: packets and bytes forwarded to it
 * @param flows flow tables summed over threads
 * @param threads forwarding threads
 * @param unresolvedBackends backends whose (next hop's) Ethernet address is not known yet: their packets are
 *     dropped as {@link DropReason#NO_NEXT_HOP}
 * @param io the kernel interface the engine runs on: {@code af_xdp} or {@code af_packet} ({@code dsr.io}); empty
 *     before the engine started
 */
public record DsrStats(String vip, long receivedFrames, long forwardedPackets, long forwardedBytes,
        long fragmentsForwarded, long icmpErrorsForwarded, long checksumsCompleted, Map<DropReason, Long> drops,
        Map<Integer, BackendTraffic> backends, FlowStats flows, int threads, int unresolvedBackends, String io)
        implements VipStats {

    /** The counters of a VIP whose engine has not started: every count 0, every drop reason present. */
    public static DsrStats notStarted(String vip) {
        Map<DropReason, Long> drops = new EnumMap<>(DropReason.class);
        for (DropReason r : DropReason.values()) {
            drops.put(r, 0L);
        }
        return new DsrStats(vip, 0, 0, 0, 0, 0, 0, Map.copyOf(drops), Map.of(),
                new FlowStats(0, 0, 0, 0, 0, Map.of(), 0, 0, 0), 0, 0, "");
    }

    /** Flows tracked now, over all threads. */
    @Override
    public long active() {
        return flows.size();
    }

    /** -1: the engine does not count tracked flows per backend. */
    @Override
    public long active(int backendId) {
        return -1;
    }

    /** Traffic forwarded to one backend. */
    public record BackendTraffic(long packets, long bytes) {}

    /**
     * Flow tables of all threads, summed.
     *
     * @param size flows tracked now
     * @param hits packets whose flow was tracked with a still-eligible backend
     * @param misses packets whose flow was not tracked
     * @param inserts flows added
     * @param evictions flows removed, all reasons
     * @param evictionsByReason flows removed by reason (lower-case {@code EvictionReason} names: idle, capacity,
     *     backend_gone, removed)
     * @param floodSkips new flows forwarded without tracking because of flood mode
     * @param threadsInFloodMode threads in flood mode now
     * @param capacity flows the threads' tables can hold together
     */
    public record FlowStats(long size, long hits, long misses, long inserts, long evictions,
            Map<String, Long> evictionsByReason, long floodSkips, int threadsInFloodMode, long capacity) {}

    public long drops(DropReason reason) {
        return drops.getOrDefault(reason, 0L);
    }

    /** Parse errors: truncated + malformed frames. */
    public long parseErrors() {
        return drops(DropReason.TRUNCATED) + drops(DropReason.MALFORMED);
    }

    public long backendPackets(int backendId) {
        BackendTraffic t = backends.get(backendId);
        return t == null ? 0 : t.packets();
    }
}
