package io.maglevlb.dataplane.packet;

/**
 * A range of IPv4 addresses {@code base .. base + size - 1} (addresses as ints in network order), written as a
 * CIDR prefix. The engine spreads encapsulated flows' outer source addresses over it so that backends (and
 * ECMP hops in between) see many outer flows, not one.
 */
public record Ipv4Range(int base, int size) {
    public Ipv4Range {
        if (size < 1) {
            throw new IllegalArgumentException("range size must be >= 1, was " + size);
        }
    }

    /** Parses {@code a.b.c.d/len} (len 16..32: at most 65536 addresses). */
    public static Ipv4Range parse(String cidr) {
        int slash = cidr.indexOf('/');
        String address = slash < 0 ? cidr : cidr.substring(0, slash);
        int length = slash < 0 ? 32 : parseInt(cidr.substring(slash + 1), cidr);
        if (length < 16 || length > 32) {
            throw new IllegalArgumentException("outer source range " + cidr + ": prefix length must be 16..32");
        }
        String[] parts = address.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("outer source range " + cidr + ": not an IPv4 address");
        }
        int ip = 0;
        for (String part : parts) {
            int octet = parseInt(part, cidr);
            if (octet > 255) {
                throw new IllegalArgumentException("outer source range " + cidr + ": octet " + octet + " > 255");
            }
            ip = (ip << 8) | octet;
        }
        int mask = length == 32 ? -1 : ~((1 << (32 - length)) - 1);
        if ((ip & ~mask) != 0) {
            throw new IllegalArgumentException("outer source range " + cidr + ": host bits set");
        }
        return new Ipv4Range(ip, 1 << (32 - length));
    }

    private static int parseInt(String s, String whole) {
        try {
            int v = Integer.parseInt(s);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("outer source range " + whole + ": '" + s + "' is not a number");
        }
    }

    /** The address for a flow with {@code hash}: the same flow always gets the same address. */
    public int pick(long hash) {
        return size == 1 ? base : base + (int) Long.remainderUnsigned(hash >>> 7, size);
    }
}
