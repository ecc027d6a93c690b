package io.maglevlb.dataplane.handover;

import java.util.Objects;

/**
 * One part of what a VIP's forwarder hands to a successor process at a takeover: a typed, versioned byte blob
 * and the descriptors that belong to it (listening sockets, VIP sockets, packet sockets). The takeover protocol
 * (io.maglevlb.control.takeover) carries sections as they are, length-prefixed, so a new kind of section needs no
 * change to the framing: the forwarder that writes it and the one that reads it agree on {@link #type} and
 * {@link #version}.
 *
 * <p>A receiver skips a section whose type it does not know, unless the type has {@link #REQUIRED} set: then it
 * refuses the takeover (and the old process serves on). A receiver that knows the type but not the version
 * refuses likewise when {@link #REQUIRED} is set, else skips it.
 *
 * <p>The descriptors are the sender's (it keeps them open and closes them itself) or, on the receiving side, the
 * receiver's: whoever adopts a section owns its descriptors; the takeover closes those of sections nobody adopted.
 *
 * @param type what the section holds ({@link #TCP_LISTENERS}, ...), possibly with {@link #REQUIRED}
 * @param version the layout of {@code data}, per type, from 1
 * @param data the section's bytes (may be empty)
 * @param fds its descriptors, in the order the type defines
 */
public record HandoverSection(int type, int version, byte[] data, int[] fds) {
    /** Set in {@link #type}: a receiver that cannot read this section must refuse the takeover. */
    public static final int REQUIRED = 0x8000;
    /** TCP proxy: the VIP's listening sockets (one per event loop, SO_REUSEPORT); no data. */
    public static final int TCP_LISTENERS = 1 | REQUIRED;
    /** UDP proxy: the VIP's bound sockets (one per event loop, SO_REUSEPORT); no data. */
    public static final int UDP_VIP_SOCKETS = 2 | REQUIRED;
    // 16..63 (with or without REQUIRED): flow state, defined by the forwarders that write them.
    /**
     * UDP proxy: the loops' tracked flows, {@code io.maglevlb.core.conntrack.FlowStateCodec} bytes (one group per
     * VIP socket, in the order of {@link #UDP_VIP_SOCKETS}); no descriptors. Optional: without it flows are placed
     * by the table (the same backend unless the table changed since they began).
     */
    public static final int UDP_FLOWS = 16;
    /**
     * DSR: the packet threads' flow tables, FlowStateCodec bytes (one group per thread, in the order of
     * {@link #DSR_PACKET_SOCKETS}); no descriptors. Optional, as {@link #UDP_FLOWS}.
     */
    public static final int DSR_FLOWS = 17;
    /**
     * DSR on AF_PACKET: the engine's packet sockets, one per thread, in fanout-group order; no data. Required: the
     * predecessor's engine has stopped reading them (their frames wait in the rings), so a successor that cannot
     * read them must refuse. On AF_XDP there is no such section (see docs/dsr.md, "Takeover").
     */
    public static final int DSR_PACKET_SOCKETS = 18 | REQUIRED;

    public HandoverSection {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(fds, "fds");
        if (type < 1 || type > 0xffff || version < 1 || version > 0xffff) {
            throw new IllegalArgumentException("section type " + type + " version " + version + " out of range");
        }
    }

    /** The type without the {@link #REQUIRED} bit. */
    public int kind() {
        return type & ~REQUIRED;
    }

    public boolean required() {
        return (type & REQUIRED) != 0;
    }

    /** A section of descriptors only. */
    public static HandoverSection ofFds(int type, int[] fds) {
        return new HandoverSection(type, 1, new byte[0], fds);
    }

    @Override
    public String toString() {
        return "section " + kind() + (required() ? " (required)" : "") + " v" + version + ", " + data.length
                + " bytes, " + fds.length + " fds";
    }
}
