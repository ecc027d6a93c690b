package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * A batch of datagrams in native memory for {@code recvmmsg(2)} and {@code sendmmsg(2)}: a {@code struct mmsghdr}
 * array, one {@code struct iovec} per message, one socket address slot per message, and (for a receiving batch)
 * one payload buffer per message. Datagrams never become Java objects: the caller reads lengths and addresses out
 * of the batch and points a sending batch's messages at a receiving batch's buffers.
 *
 * <p><b>Native memory.</b> Everything is allocated once, in the constructor, from the arena of the
 * {@link LinuxNative} given to it, so its owner is that binding's owner and it is freed when that binding closes
 * (for the UDP forwarder: per VIP and event loop, until the forwarder's loop closes). Nothing here allocates
 * afterwards, on the Java heap or natively, except {@link #copyName}, which a caller uses once per flow.
 *
 * <p><b>Threading.</b> None: one thread (the owner's event loop) uses a batch.
 *
 * <p>Layouts are those of x86_64 and aarch64 Linux (LP64): {@code struct msghdr} is 56 bytes, {@code mmsghdr} 64.
 */
public final class DatagramBatch {
    private static final int MMSGHDR = 64;
    private static final int MSG_NAME = 0;
    private static final int MSG_NAMELEN = 8;
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_CONTROL = 32;
    private static final int MSG_CONTROLLEN = 40;
    private static final int MSG_FLAGS = 48;
    private static final int MSG_LEN = 56;
    private static final int IOVEC = 16;
    /** {@code CMSG_SPACE(sizeof(uint16_t))} on LP64: a 16-byte {@code cmsghdr} and the value, padded to 8. */
    private static final int SEGMENT_CMSG = 24;
    /** {@code CMSG_LEN(sizeof(uint16_t))}. */
    private static final int SEGMENT_CMSG_LEN = 18;
    public static final int SOL_UDP = 17;
    /** UDP generic segmentation offload (Linux 4.18+): {@code sendmsg} control message with the segment size. */
    public static final int UDP_SEGMENT = 103;
    /**
     * Most datagrams one {@code UDP_SEGMENT} send may carry: the kernel's {@code UDP_MAX_SEGMENTS} (64 since 4.18;
     * later kernels allow more).
     */
    public static final int MAX_SEGMENTS = 64;
    /** Room for a sockaddr_in6 (28 bytes), rounded up. */
    public static final int NAME_BYTES = 32;
    private static final int SOCKADDR_IN = 16;
    private static final int SOCKADDR_IN6 = 28;
    private static final ValueLayout.OfShort SHORT_BE = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong LONG_BE = JAVA_LONG.withOrder(ByteOrder.BIG_ENDIAN);

    private final int slots;
    private final int slotBytes;
    private final boolean named;
    private final MemorySegment messages;
    private final long messagesAddress;
    private final MemorySegment iovecs;
    private final MemorySegment names;
    private final long namesAddress;
    private final MemorySegment buffers;
    private final long buffersAddress;
    private final MemorySegment controls;
    private final long controlsAddress;

    /**
     * @param sys the binding whose arena holds the batch (and whose owner owns it)
     * @param slots messages in the batch
     * @param slotBytes payload buffer per message; 0 for a sending batch whose messages point at buffers of
     *     another batch ({@link #setPayload})
     * @param named whether messages carry a socket address (an unconnected socket's peer); false for connected
     *     sockets
     */
    public DatagramBatch(LinuxNative sys, int slots, int slotBytes, boolean named) {
        if (slots < 1 || slotBytes < 0) {
            throw new IllegalArgumentException("slots " + slots + ", slotBytes " + slotBytes);
        }
        this.slots = slots;
        this.slotBytes = slotBytes;
        this.named = named;
        this.messages = sys.allocate((long) MMSGHDR * slots);
        this.messagesAddress = messages.address();
        this.iovecs = sys.allocate((long) IOVEC * slots);
        this.names = named ? sys.allocate((long) NAME_BYTES * slots) : MemorySegment.NULL;
        this.namesAddress = names.address();
        this.buffers = slotBytes > 0 ? sys.allocate((long) slotBytes * slots) : MemorySegment.NULL;
        this.buffersAddress = buffers.address();
        // A UDP_SEGMENT control message per message, for sending batches (setMessage); only its value changes.
        this.controls = slotBytes == 0 ? sys.allocate((long) SEGMENT_CMSG * slots) : MemorySegment.NULL;
        this.controlsAddress = controls.address();
        for (int i = 0; slotBytes == 0 && i < slots; i++) {
            long c = (long) SEGMENT_CMSG * i;
            controls.set(JAVA_LONG, c, SEGMENT_CMSG_LEN);
            controls.set(JAVA_INT, c + 8, SOL_UDP);
            controls.set(JAVA_INT, c + 12, UDP_SEGMENT);
        }
        for (int i = 0; i < slots; i++) {
            long m = (long) MMSGHDR * i;
            messages.set(JAVA_LONG, m + MSG_NAME, named ? namesAddress + (long) NAME_BYTES * i : 0L);
            messages.set(JAVA_INT, m + MSG_NAMELEN, named ? NAME_BYTES : 0);
            messages.set(JAVA_LONG, m + MSG_IOV, iovecs.address() + (long) IOVEC * i);
            messages.set(JAVA_LONG, m + MSG_IOVLEN, 1L);
            iovecs.set(JAVA_LONG, (long) IOVEC * i, slotBytes > 0 ? buffersAddress + (long) slotBytes * i : 0L);
            iovecs.set(JAVA_LONG, (long) IOVEC * i + 8, slotBytes);
        }
    }

    public int slots() {
        return slots;
    }

    /**
     * recvmmsg(2) of up to {@link #slots()} datagrams from {@code fd} without waiting: the count, or -1 with the
     * error in {@code sys.errno()}. Each message's address slot is made whole again first (the kernel shortens
     * msg_namelen to what it wrote).
     */
    public int receive(LinuxNative sys, int fd) {
        return receive(sys, fd, 0, slots);
    }

    /**
     * recvmmsg(2) of up to {@code count} datagrams from {@code fd} into messages {@code from} ..
     * {@code from + count - 1}, without waiting: the count, or -1 with the error in {@code sys.errno()}. The
     * messages before {@code from} keep what an earlier call read, so a caller can gather datagrams of several
     * sockets in one batch.
     */
    public int receive(LinuxNative sys, int fd, int from, int count) {
        if (from < 0 || count < 1 || from + count > slots) {
            throw new IllegalArgumentException("messages " + from + " + " + count + " of " + slots);
        }
        if (named) {
            for (int i = from; i < from + count; i++) {
                messages.set(JAVA_INT, (long) MMSGHDR * i + MSG_NAMELEN, NAME_BYTES);
            }
        }
        return sys.recvmmsgAt(fd, messagesAddress + (long) MMSGHDR * from, count, LinuxNative.MSG_DONTWAIT);
    }

    /**
     * sendmmsg(2) of messages {@code from} .. {@code from + count - 1} on {@code fd} without waiting: the number
     * sent (from {@code from} on), or -1 with the error in {@code sys.errno()} for message {@code from}.
     */
    public int send(LinuxNative sys, int fd, int from, int count) {
        return sys.sendmmsgAt(fd, messagesAddress + (long) MMSGHDR * from, count, LinuxNative.MSG_DONTWAIT);
    }

    /** Bytes of received message {@code i}. */
    public int length(int i) {
        return messages.get(JAVA_INT, (long) MMSGHDR * i + MSG_LEN);
    }

    /** msg_flags of received message {@code i} (MSG_TRUNC: the datagram did not fit its buffer). */
    public int flags(int i) {
        return messages.get(JAVA_INT, (long) MMSGHDR * i + MSG_FLAGS);
    }

    /** Native address of message {@code i}'s payload buffer. */
    public long bufferAddress(int i) {
        return buffersAddress + (long) slotBytes * i;
    }

    /** Makes message {@code i} send {@code length} bytes at native address {@code address}. */
    public void setPayload(int i, long address, int length) {
        long iov = (long) IOVEC * i;
        iovecs.set(JAVA_LONG, iov, address);
        iovecs.set(JAVA_LONG, iov + 8, length);
    }

    /**
     * Makes message {@code m} of a sending batch (one made without buffers of its own) carry the payloads of
     * {@code count} iovecs from {@code first} on ({@link #setPayload}; {@code first >= m}, so that messages packed
     * from 0 up never overwrite payloads not yet packed), to the address in message {@code m}'s name slot for a
     * named batch. With {@code segmentSize > 0} the message is one UDP GSO send ({@code UDP_SEGMENT}): the kernel
     * passes the payloads through its stack as one and splits them into datagrams of {@code segmentSize} bytes, so
     * every payload but the last must be exactly {@code segmentSize} bytes long and the last at most that; with 0,
     * {@code count} must be 1 (one datagram).
     */
    public void setMessage(int m, int first, int count, int segmentSize) {
        long at = (long) MMSGHDR * m;
        messages.set(JAVA_LONG, at + MSG_IOV, iovecs.address() + (long) IOVEC * first);
        messages.set(JAVA_LONG, at + MSG_IOVLEN, count);
        if (segmentSize > 0) {
            long c = (long) SEGMENT_CMSG * m;
            controls.set(JAVA_SHORT, c + 16, (short) segmentSize);
            messages.set(JAVA_LONG, at + MSG_CONTROL, controlsAddress + c);
            messages.set(JAVA_LONG, at + MSG_CONTROLLEN, SEGMENT_CMSG);
        } else {
            messages.set(JAVA_LONG, at + MSG_CONTROL, 0L);
            messages.set(JAVA_LONG, at + MSG_CONTROLLEN, 0L);
        }
    }

    /** Bytes of payload {@code i} of a sending batch ({@link #setPayload}). */
    public int payloadLength(int i) {
        return (int) iovecs.get(JAVA_LONG, (long) IOVEC * i + 8);
    }

    /**
     * Sets how many bytes of its own buffer message {@code i} sends: to send back what {@link #receive} read
     * (to the address it came from, still in the message), set it to {@link #length}; to receive again, set it
     * back to the slot size.
     */
    public void setPayloadLength(int i, int length) {
        iovecs.set(JAVA_LONG, (long) IOVEC * i + 8, length);
    }

    /** Payload buffer size of each message (0 for a sending batch without buffers of its own). */
    public int slotBytes() {
        return slotBytes;
    }

    /** Makes message {@code i} go to the encoded socket address {@code sockaddr} ({@link #encode}). */
    public void setName(int i, byte[] sockaddr) {
        MemorySegment.copy(sockaddr, 0, names, JAVA_BYTE, (long) NAME_BYTES * i, sockaddr.length);
        messages.set(JAVA_INT, (long) MMSGHDR * i + MSG_NAMELEN, sockaddr.length);
    }

    /** Address family of received message {@code i}'s sender ({@link LinuxNative#AF_INET} or AF_INET6). */
    public int nameFamily(int i) {
        return names.get(JAVA_SHORT, (long) NAME_BYTES * i);
    }

    /** Port of received message {@code i}'s sender. */
    public int namePort(int i) {
        return Short.toUnsignedInt(names.get(SHORT_BE, (long) NAME_BYTES * i + 2));
    }

    /**
     * High 64 bits of the sender's address of message {@code i} in the form {@code FlowHash} takes: an IPv6
     * address as is, an IPv4 one as {@code ::ffff:a.b.c.d}.
     */
    public long nameHi(int i) {
        long at = (long) NAME_BYTES * i;
        return names.get(JAVA_SHORT, at) == LinuxNative.AF_INET6 ? names.get(LONG_BE, at + 8) : 0L;
    }

    /** Low 64 bits of the sender's address of message {@code i} (see {@link #nameHi}). */
    public long nameLo(int i) {
        long at = (long) NAME_BYTES * i;
        return names.get(JAVA_SHORT, at) == LinuxNative.AF_INET6 ? names.get(LONG_BE, at + 16)
                : 0x0000_ffff_0000_0000L | (names.get(INT_BE, at + 4) & 0xffff_ffffL);
    }

    /** A heap copy of message {@code i}'s sender address, exactly as long as the kernel wrote it. Allocates. */
    public byte[] copyName(int i) {
        long at = (long) NAME_BYTES * i;
        int length = names.get(JAVA_SHORT, at) == LinuxNative.AF_INET6 ? SOCKADDR_IN6 : SOCKADDR_IN;
        byte[] copy = new byte[length];
        MemorySegment.copy(names, JAVA_BYTE, at, copy, 0, length);
        return copy;
    }

    /** A sockaddr_in or sockaddr_in6 for {@code address}, sized exactly, on the heap. */
    public static byte[] encode(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        boolean v4 = address.getAddress() instanceof Inet4Address;
        byte[] encoded = new byte[v4 ? SOCKADDR_IN : SOCKADDR_IN6];
        MemorySegment sa = MemorySegment.ofArray(encoded);
        sa.set(JAVA_SHORT.withByteAlignment(1), 0, (short) (v4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6));
        sa.set(SHORT_BE.withByteAlignment(1), 2, (short) address.getPort());
        MemorySegment.copy(ip, 0, sa, JAVA_BYTE, v4 ? 4 : 8, ip.length);
        if (!v4 && address.getAddress() instanceof java.net.Inet6Address v6 && v6.getScopeId() != 0) {
            sa.set(JAVA_INT.withByteAlignment(1), 24, v6.getScopeId());
        }
        return encoded;
    }

    /** The socket address in {@code sockaddr} (sockaddr_in or sockaddr_in6), for what is not on a hot path. */
    public static InetSocketAddress decode(MemorySegment sockaddr) {
        int port = Short.toUnsignedInt(sockaddr.get(SHORT_BE.withByteAlignment(1), 2));
        byte[] ip;
        if (sockaddr.get(JAVA_SHORT.withByteAlignment(1), 0) == LinuxNative.AF_INET) {
            ip = new byte[4];
            MemorySegment.copy(sockaddr, JAVA_BYTE, 4, ip, 0, 4);
        } else {
            ip = new byte[16];
            MemorySegment.copy(sockaddr, JAVA_BYTE, 8, ip, 0, 16);
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // cannot happen with 4 or 16 bytes
        }
    }
}
