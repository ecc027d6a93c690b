package io.maglevlb.dataplane;

import io.maglevlb.core.flow.FlowHash;

/**
 * Turns the raw bytes of an IP address ({@link java.net.InetAddress#getAddress()}) into the two longs
 * {@link FlowHash} takes: the 128-bit IPv6 address, or the IPv4-mapped form {@code ::ffff:a.b.c.d} of an IPv4
 * address, so an IPv4 client hashes the same whether it reached a v4 or a dual-stack listener.
 *
 * <p>No allocation: callers pass the array they already have (one per connection, from the accepted
 * channel's remote address) and keep the two longs for the connection's lifetime.
 */
public final class AddressBits {
    private AddressBits() {}

    /** High 64 bits of the address of {@code raw} (4 or 16 bytes, network order). */
    public static long hi(byte[] raw) {
        return FlowHash.addressHi(raw);
    }

    /** Low 64 bits of the address of {@code raw} (4 or 16 bytes, network order). */
    public static long lo(byte[] raw) {
        return FlowHash.addressLo(raw);
    }
}
