package io.maglevlb.dataplane.linux;

import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Objects;

/**
 * One unicast route in a kernel routing table: {@code destination/prefixLength} in {@code table}, out of
 * interface {@code outputInterface} (an index; 0 = none), through {@code gateway} (null = on-link), tagged with
 * {@code protocol} (rtm_protocol: who installed it; see {@link Routes#PROTOCOL_MAGLEVD}); {@code metric}
 * (RTA_PRIORITY, 0 = none), {@code preferredSource} (RTA_PREFSRC, the source address of locally generated packets;
 * null = the kernel chooses) and {@code onlink} (the gateway is taken as on-link on the interface, as {@code ip route
 * ... onlink}).
 *
 * <p>The destination is stored as given; {@link #toString()} prints it the way {@code ip route} does.
 */
public record Route(InetAddress destination, int prefixLength, int table, int outputInterface, InetAddress gateway,
        int protocol, long metric, InetAddress preferredSource, boolean onlink) {

    public Route {
        Objects.requireNonNull(destination, "destination");
        int bits = destination.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " for " + destination.getHostAddress());
        }
        if (gateway != null && gateway.getAddress().length != destination.getAddress().length) {
            throw new IllegalArgumentException("gateway " + gateway.getHostAddress() + " is not of the family of "
                    + destination.getHostAddress());
        }
        if (table <= 0) {
            throw new IllegalArgumentException("table must be positive, was " + table);
        }
        if (protocol < 0 || protocol > 255) {
            throw new IllegalArgumentException("protocol must be 0..255, was " + protocol);
        }
        if (metric < 0 || metric > 0xffff_ffffL) {
            throw new IllegalArgumentException("metric must be 0..2^32-1, was " + metric);
        }
    }

    /** A route without metric, preferred source or onlink flag. */
    public Route(InetAddress destination, int prefixLength, int table, int outputInterface, InetAddress gateway,
            int protocol) {
        this(destination, prefixLength, table, outputInterface, gateway, protocol, 0, null, false);
    }

    /** A host route ({@code /32} or {@code /128}) to {@code destination} out of interface {@code ifindex}. */
    public static Route host(InetAddress destination, int table, int ifindex, int protocol) {
        return new Route(destination, destination.getAddress().length * 8, table, ifindex, null, protocol);
    }

    /** AF_INET or AF_INET6. */
    public int family() {
        return destination instanceof Inet4Address ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
    }

    /** Whether this and {@code other} name the same destination prefix in the same table. */
    public boolean sameDestination(Route other) {
        return table == other.table && prefixLength == other.prefixLength && destination.equals(other.destination);
    }

    @Override
    public String toString() {
        return NetUtil.toAddressString(destination) + "/" + prefixLength + (gateway == null ? "" : " via "
                + NetUtil.toAddressString(gateway)) + (outputInterface == 0 ? "" : " oif " + outputInterface)
                + (onlink ? " onlink" : "") + (preferredSource == null ? "" : " src "
                + NetUtil.toAddressString(preferredSource)) + " table " + table + " proto " + protocol
                + (metric == 0 ? "" : " metric " + metric);
    }
}
