package io.maglevlb.dataplane.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Encodes the PROXY protocol version 2 header (HAProxy's "The PROXY protocol", section 2.2) that tells a
 * backend the real client address of a proxied TCP connection. It is written to the backend before any byte
 * of the client.
 *
 * <p>Layout: the 12-byte signature, {@code 0x21} (version 2, command PROXY), the family/transport byte
 * ({@code 0x11} TCP over IPv4, {@code 0x21} TCP over IPv6), the length of the address block (big endian), then
 * source address, destination address, source port, destination port. When one side is IPv4 and the other
 * IPv6, both are sent as IPv6 (the IPv4 one in its {@code ::ffff:a.b.c.d} form). No TLVs are sent.
 */
public final class ProxyProtocolV2 {
    /** The fixed signature every v2 header starts with. */
    static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static final int VERSION_2_PROXY = 0x21;
    static final int TCP_OVER_IPV4 = 0x11;
    static final int TCP_OVER_IPV6 = 0x21;
    static final int IPV4_BLOCK_LENGTH = 12;
    static final int IPV6_BLOCK_LENGTH = 36;
    /** The longest header this class writes (IPv6, no TLVs). */
    static final int MAX_LENGTH = 16 + IPV6_BLOCK_LENGTH;

    private ProxyProtocolV2() {}

    /** Header length for these two addresses: 28 bytes for IPv4, 52 for IPv6. */
    public static int length(InetSocketAddress source, InetSocketAddress destination) {
        return 16 + (bothV4(source, destination) ? IPV4_BLOCK_LENGTH : IPV6_BLOCK_LENGTH);
    }

    /** A new buffer holding the header for a client at {@code source} that connected to {@code destination}. */
    public static ByteBuf encode(ByteBufAllocator alloc, InetSocketAddress source, InetSocketAddress destination) {
        ByteBuf out = alloc.buffer(length(source, destination));
        encode(out, source, destination);
        return out;
    }

    /** Writes the header for a client at {@code source} that connected to {@code destination} into {@code out}. */
    public static void encode(ByteBuf out, InetSocketAddress source, InetSocketAddress destination) {
        InetAddress src = resolved(source, "source");
        InetAddress dst = resolved(destination, "destination");
        boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
        out.writeBytes(SIGNATURE);
        out.writeByte(VERSION_2_PROXY);
        out.writeByte(v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        out.writeShort(v4 ? IPV4_BLOCK_LENGTH : IPV6_BLOCK_LENGTH);
        writeAddress(out, src.getAddress(), v4);
        writeAddress(out, dst.getAddress(), v4);
        out.writeShort(source.getPort());
        out.writeShort(destination.getPort());
    }

    private static boolean bothV4(InetSocketAddress a, InetSocketAddress b) {
        return a.getAddress() instanceof Inet4Address && b.getAddress() instanceof Inet4Address;
    }

    private static InetAddress resolved(InetSocketAddress address, String what) {
        InetAddress ip = address.getAddress();
        if (ip == null) {
            throw new IllegalArgumentException(what + " address is unresolved: " + address);
        }
        return ip;
    }

    private static void writeAddress(ByteBuf out, byte[] raw, boolean v4Block) {
        if (v4Block || raw.length == 16) {
            out.writeBytes(raw);
        } else {
            // IPv4 address in an IPv6 block: ::ffff:a.b.c.d
            out.writeZero(10);
            out.writeShort(0xffff);
            out.writeBytes(raw);
        }
    }
}
