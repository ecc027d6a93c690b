package io.maglevlb.dataplane.udp;

/**
 * Counters of one backend of a UDP VIP, summed over the VIP's event loops. Counts restart from zero when the
 * backend leaves the VIP (its dense id may then be given to another backend).
 *
 * @param backendId dense backend id
 * @param name the backend's name in the VIP's current snapshot, or null when it is no longer there
 * @param datagramsToBackend client datagrams handed to a socket toward this backend
 * @param bytesToBackend their payload bytes
 * @param datagramsFromBackend datagrams this backend sent back to the forwarder
 * @param bytesFromBackend their payload bytes
 * @param flowsCreated flows that were placed on, or moved to, this backend
 * @param flowsActive tracked flows on this backend now
 * @param unreachable ICMP errors (port or host unreachable) reported by the kernel for this backend
 */
public record UdpBackendStats(int backendId, String name, long datagramsToBackend, long bytesToBackend,
        long datagramsFromBackend, long bytesFromBackend, long flowsCreated, long flowsActive, long unreachable) {
}
