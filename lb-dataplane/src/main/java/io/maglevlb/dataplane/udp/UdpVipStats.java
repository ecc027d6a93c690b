package io.maglevlb.dataplane.udp;

import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.conntrack.FlowTableStats;
import io.maglevlb.dataplane.VipStats;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Counters of one UDP VIP, summed over its event loops at one moment (each loop's counters are read racily,
 * so the sums may be a few increments stale and not mutually consistent to the datagram).
 *
 * @param vip the VIP's name
 * @param datagramsFromClients datagrams read from the VIP sockets
 * @param bytesFromClients their payload bytes
 * @param datagramsToBackends client datagrams handed to a backend socket (session or stateless)
 * @param bytesToBackends their payload bytes
 * @param datagramsFromBackends datagrams read from backend sockets
 * @param bytesFromBackends their payload bytes
 * @param datagramsToClients backend datagrams handed to a VIP socket toward their client
 * @param bytesToClients their payload bytes
 * @param flowsActive tracked flows now
 * @param flowsCreated flows tracked since start
 * @param flowsMoved tracked flows moved to another backend because theirs went down or left
 * @param flowsEvicted flows removed, by reason
 * @param statelessDatagrams client datagrams forwarded without a tracked flow (table full or flood mode)
 * @param dropped datagrams dropped, by reason
 * @param backendUnreachable ICMP errors reported on backend sockets
 * @param sessionOpenFailures backend sockets that could not be opened (the datagram went statelessly)
 * @param vipSocketErrors errors reported on the VIP sockets themselves (they stay open)
 * @param kernelReceiveDrops datagrams the kernel dropped because a VIP socket's receive buffer was full
 *     (from /proc/net/udp; -1 when unknown)
 * @param backends per-backend counters, by backend id
 * @param flowTable the loops' flow tables, summed
 */
public record UdpVipStats(String vip, long datagramsFromClients, long bytesFromClients, long datagramsToBackends,
        long bytesToBackends, long datagramsFromBackends, long bytesFromBackends, long datagramsToClients,
        long bytesToClients, long flowsActive, long flowsCreated, long flowsMoved,
        Map<EvictionReason, Long> flowsEvicted, long statelessDatagrams, Map<UdpDropReason, Long> dropped,
        long backendUnreachable, long sessionOpenFailures, long vipSocketErrors, long kernelReceiveDrops,
        List<UdpBackendStats> backends, FlowTableStats flowTable) implements VipStats {

    public UdpVipStats {
        flowsEvicted = Map.copyOf(flowsEvicted);
        dropped = Map.copyOf(dropped);
        backends = List.copyOf(backends);
        Objects.requireNonNull(flowTable, "flowTable");
    }

    /** Tracked flows now ({@link #flowsActive()}). */
    @Override
    public long active() {
        return flowsActive;
    }

    /** Tracked flows on backend {@code backendId} now. */
    @Override
    public long active(int backendId) {
        return backend(backendId).flowsActive();
    }

    public long flowsEvicted(EvictionReason reason) {
        return flowsEvicted.getOrDefault(reason, 0L);
    }

    public long dropped(UdpDropReason reason) {
        return dropped.getOrDefault(reason, 0L);
    }

    /** Datagrams dropped for any reason by the forwarder (not counting {@link #kernelReceiveDrops}). */
    public long droppedTotal() {
        long sum = 0;
        for (long v : dropped.values()) {
            sum += v;
        }
        return sum;
    }

    /** The backend's counters, or all zeros when it has none. */
    public UdpBackendStats backend(int backendId) {
        for (UdpBackendStats b : backends) {
            if (b.backendId() == backendId) {
                return b;
            }
        }
        return new UdpBackendStats(backendId, null, 0, 0, 0, 0, 0, 0, 0);
    }

    /** The backend's counters by name, or null when no backend of that name has counters. */
    public UdpBackendStats backend(String name) {
        for (UdpBackendStats b : backends) {
            if (name.equals(b.name())) {
                return b;
            }
        }
        return null;
    }
}
