package io.maglevlb.dataplane.udp;

/** Why the UDP forwarder dropped a datagram; one counter each per VIP (see docs/udp.md). */
public enum UdpDropReason {
    /** Client datagram, and the VIP has no backend that takes new flows (all down or drained). */
    NO_BACKEND("no_backend"),
    /**
     * Client datagram of a new flow after the VIP stopped accepting (shutdown): tracked flows go on until they
     * are idle or the shutdown deadline passes, new ones are refused.
     */
    NOT_ACCEPTING("not_accepting"),
    /**
     * Client datagram of an untracked flow (flow table full of flows seen in this batch, or flood mode), and
     * the loop could not open the shared stateless socket toward the chosen backend either.
     */
    TABLE_FULL("table_full"),
    /**
     * Client datagram of a new flow, and neither its session socket nor the shared stateless socket toward the
     * backend could be opened (out of file descriptors, or the backend address is unreachable).
     */
    BACKEND_SOCKET("backend_socket"),
    /**
     * A socket refused the datagram at once: its send queue was above the high-water mark (the peer or the
     * kernel is slower than the sender), so the forwarder dropped instead of queueing without bound.
     */
    SEND_BUFFER_FULL("send_buffer_full"),
    /** The kernel failed the send (for example ECONNREFUSED after an ICMP port unreachable). */
    SEND_ERROR("send_error"),
    /**
     * Client datagram without payload: not forwarded by either engine (Netty's transports can neither send a
     * zero-length datagram nor receive one on a connected socket, and the native engine keeps the same rule).
     */
    EMPTY("empty"),
    /**
     * Backend datagram that arrived on a stateless socket: it cannot be matched to a client because untracked
     * flows share that socket, so it is dropped.
     */
    STATELESS_REPLY("stateless_reply");

    private final String metricName;

    UdpDropReason(String metricName) {
        this.metricName = metricName;
    }

    /** Label value in metrics. */
    public String metricName() {
        return metricName;
    }
}
