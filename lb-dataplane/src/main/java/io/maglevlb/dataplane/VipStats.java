package io.maglevlb.dataplane;

/**
 * What every forwarder counts, summed over its forwarding threads at one moment ({@link VipForwarder#stats()}).
 * Each kind of forwarder answers with its own record, which carries the rest of its counters:
 * {@link io.maglevlb.dataplane.tcp.TcpVipStats} (TCP proxy), {@link io.maglevlb.dataplane.udp.UdpVipStats}
 * (UDP forwarder), {@link io.maglevlb.dataplane.packet.DsrStats} (DSR packet engine).
 *
 * <p>The control plane reads this common view for what every VIP has (open connections on the status page) and
 * matches the record's type for the meters only one kind has. It matches values, never the forwarder classes
 * behind them, so a new forwarder needs no change in the control plane beyond its meters.
 *
 * <p>Values are racy sums of the threads' plain counters (each may lag by the last few increments); a record is
 * immutable once made. Making one allocates: scrapes and status requests, never a forwarding path.
 */
public interface VipStats {
    /** TCP connections, or tracked flows (UDP, DSR), open now. */
    long active();

    /**
     * Of {@link #active()}, those on backend {@code backendId} (an id of the VIP's {@code ForwardingSnapshot}); 0
     * for an id without counters, -1 when this forwarder does not count open connections per backend.
     */
    long active(int backendId);
}
