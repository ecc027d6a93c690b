package io.maglevlb.dataplane.packet;

/** Why the packet engine did not forward a frame. Each reason is a counter per forwarding thread. */
public enum DropReason {
    /** The capture holds less than the frame's headers claim (or the kernel cut the frame). A parse error. */
    TRUNCATED("truncated"),
    /** Header fields are invalid: IP version, header or total length, IPv4 header checksum. A parse error. */
    MALFORMED("malformed"),
    /** Not an IPv4 or IPv6 Ethernet frame (VLAN-tagged frames included). */
    NOT_IP("not_ip"),
    /** Not this VIP's address, protocol and destination port (the socket filter normally keeps these out). */
    NOT_VIP("not_vip"),
    /**
     * Valid but not handled: ICMP other than "fragmentation needed" / "packet too big", fragmented ICMP,
     * IPv6 extension headers before the transport header (other than hop-by-hop, routing, destination options,
     * fragment and AH), jumbograms.
     */
    UNSUPPORTED("unsupported"),
    /** The VIP has no backend that can take the flow (all down or drained). */
    NO_BACKEND("no_backend"),
    /** The backend's (or its gateway's) Ethernet address is not resolved yet. */
    NO_NEXT_HOP("no_next_hop"),
    /** Larger than the interface MTU once encapsulated, or a GRO/LRO super-frame (disable GRO/LRO). */
    TOO_BIG("too_big"),
    /** The kernel's transmit queue was full (sendmmsg EAGAIN/ENOBUFS). */
    TX_QUEUE_FULL("tx_queue_full"),
    /** The kernel refused to send the frame for another reason. */
    TX_ERROR("tx_error"),
    /** The receive ring was full: the kernel dropped the frame before user space saw it (PACKET_STATISTICS). */
    RING_FULL("ring_full");

    private final String metricName;

    DropReason(String metricName) {
        this.metricName = metricName;
    }

    /** The value of the {@code reason} label in metrics. */
    public String metricName() {
        return metricName;
    }

    static final DropReason[] VALUES = values();
}
