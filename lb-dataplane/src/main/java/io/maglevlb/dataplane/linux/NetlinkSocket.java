package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * An rtnetlink socket (NETLINK_ROUTE) and the message framing every rtnetlink user shares: request headers,
 * attributes, acknowledgements, dumps. Request-specific code (routes: {@link Routes}; neighbours and tc: the
 * packet engine's {@code Netlink}) builds its message in {@link #request()} and parses replies in
 * {@link #reply()}.
 *
 * <p>Threading and memory: one thread at a time. The socket, its {@link LinuxNative} binding and the request /
 * reply buffers are owned by this object from {@link #open()} to {@link #close()}, which frees them; the socket
 * belongs to the network namespace of the thread that opened it. Never used on a forwarding thread.
 */
public final class NetlinkSocket implements AutoCloseable {
    public static final int NLMSG_HEADER = 16;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLM_F_REQUEST = 1;
    public static final int NLM_F_ACK = 4;
    public static final int NLM_F_EXCL = 0x200;
    public static final int NLM_F_CREATE = 0x400;
    public static final int NLM_F_DUMP = 0x300;
    /** Size of the reply buffer: one recv of a dump returns at most this much. */
    private static final int REPLY_BYTES = 1 << 16;
    private static final int REQUEST_BYTES = 4096;
    private static final int ANSWER_TIMEOUT_MS = 2000;
    private static final int SOL_NETLINK = 270;
    private static final int NETLINK_GET_STRICT_CHK = 12;

    /** Receives one reply message (offset and length in {@link #reply()}, type); true when it was the last wanted. */
    @FunctionalInterface
    public interface ReplyVisitor {
        boolean message(long offset, int length, int type) throws NetlinkException;
    }

    /** Receives one message of a dump (offset and length in {@link #reply()}, type). */
    @FunctionalInterface
    public interface DumpVisitor {
        void message(long offset, int length, int type) throws NetlinkException;
    }

    /** Receives one attribute: its type (flags masked off), the offset of its payload and the payload's length. */
    @FunctionalInterface
    public interface AttributeVisitor {
        void attribute(int type, long payload, int length) throws NetlinkException;
    }

    private final LinuxNative sys;
    private final int fd;
    private final MemorySegment reply;
    private final MemorySegment pollFd;
    private final MemorySegment request;
    private final MemorySegment kernelAddress;
    private int sequence = 1;

    private NetlinkSocket(LinuxNative sys, int fd) {
        this.sys = sys;
        this.fd = fd;
        // all four live in sys's arena: allocated here, freed by close()
        reply = sys.allocate(REPLY_BYTES);
        pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
        request = sys.allocate(REQUEST_BYTES);
        kernelAddress = sys.allocate(12);
        kernelAddress.set(JAVA_SHORT, 0, (short) LinuxNative.AF_NETLINK);
    }

    /** Opens an rtnetlink socket in the calling thread's network namespace. */
    public static NetlinkSocket open() throws NetlinkException {
        LinuxNative sys = new LinuxNative();
        int fd = sys.socket(LinuxNative.AF_NETLINK, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC,
                LinuxNative.NETLINK_ROUTE);
        if (fd < 0) {
            int errno = sys.errno();
            sys.close();
            throw new NetlinkException("netlink socket: " + LinuxNative.describe(errno), errno);
        }
        return new NetlinkSocket(sys, fd);
    }

    /**
     * Asks the kernel to check dump requests strictly and to apply the filters they carry (NETLINK_GET_STRICT_CHK,
     * Linux 4.20+): a route dump of one table then returns that table only. Returns false where the kernel does
     * not support it; dumps then return everything and the caller filters.
     */
    public boolean strictDumps() {
        return sys.setsockoptInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1) == 0;
    }

    /** The request buffer ({@value #REQUEST_BYTES} bytes); a message starts at offset 0. */
    public MemorySegment request() {
        return request;
    }

    /** The reply buffer: valid until the next receive. */
    public MemorySegment reply() {
        return reply;
    }

    /**
     * Clears the request buffer (attribute padding included) and writes a header of {@code type} and
     * {@code flags} with a fresh sequence number; the message is {@code length} bytes until
     * {@link #send}/{@link #acknowledged} set the final length. Returns the sequence number.
     */
    public int begin(int type, int flags, int length) {
        request.fill((byte) 0);
        int seq = sequence++;
        request.set(JAVA_INT, 0, length);
        request.set(JAVA_SHORT, 4, (short) type);
        request.set(JAVA_SHORT, 6, (short) flags);
        request.set(JAVA_INT, 8, seq);
        return seq;
    }

    /** Sends the first {@code length} bytes of the request buffer (and sets the header's length to it). */
    public void send(int length) throws NetlinkException {
        request.set(JAVA_INT, 0, length);
        if (sys.sendto(fd, request, length, 0, kernelAddress, 12) < 0) {
            int errno = sys.errno();
            throw new NetlinkException("netlink send: " + LinuxNative.describe(errno), errno);
        }
    }

    /** Sends a request built with {@link #NLM_F_ACK}; returns 0 or the kernel's errno for it. */
    public int acknowledged(int length) throws NetlinkException {
        int seq = request.get(JAVA_INT, 8);
        send(length);
        int[] error = new int[1];
        readReplies("acknowledgement", (p, len, type) -> {
            if (type == NLMSG_ERROR && len >= 20 && reply.get(JAVA_INT, p + 8) == seq) {
                error[0] = -reply.get(JAVA_INT, p + 16);
                return true;
            }
            return false;
        });
        return error[0];
    }

    /**
     * Hands every message of the dump just requested to {@code visitor}, until NLMSG_DONE. An NLMSG_ERROR ends the
     * dump too: quietly when {@code errorEndsDump}, else with an exception naming {@code what}.
     */
    public void readDump(String what, boolean errorEndsDump, DumpVisitor visitor) throws NetlinkException {
        readReplies(what, (p, len, type) -> {
            if (type == NLMSG_DONE) {
                return true;
            }
            if (type == NLMSG_ERROR) {
                if (errorEndsDump) {
                    return true;
                }
                int errno = errno(p);
                throw new NetlinkException("netlink " + what + ": " + LinuxNative.describe(errno), errno);
            }
            visitor.message(p, len, type);
            return false;
        });
    }

    /** Receives reply messages, checking each one's length, until {@code visitor} has seen the last it wants. */
    public void readReplies(String what, ReplyVisitor visitor) throws NetlinkException {
        while (true) {
            int n = receive();
            long p = 0;
            while (p + NLMSG_HEADER <= n) {
                int len = reply.get(JAVA_INT, p);
                int type = reply.get(JAVA_SHORT, p + 4) & 0xffff;
                if (len < NLMSG_HEADER || p + len > n) {
                    throw new NetlinkException("netlink: malformed " + what);
                }
                if (visitor.message(p, len, type)) {
                    return;
                }
                p += align(len);
            }
        }
    }

    /** The (positive) errno of the NLMSG_ERROR message at {@code message} in the reply buffer; 0 is an ACK. */
    public int errno(long message) {
        return -reply.get(JAVA_INT, message + NLMSG_HEADER);
    }

    /** Visits the attributes in [{@code from}, {@code to}) of the reply buffer; stops at a malformed one. */
    public void attributes(long from, long to, AttributeVisitor visitor) throws NetlinkException {
        for (long a = from; a + 4 <= to; ) {
            int alen = reply.get(JAVA_SHORT, a) & 0xffff;
            int atype = reply.get(JAVA_SHORT, a + 2) & 0x3fff;
            if (alen < 4 || a + alen > to) {
                return;
            }
            visitor.attribute(atype, a + 4, alen - 4);
            a += align(alen);
        }
    }

    /** Writes attribute {@code type} with {@code value} at {@code offset}; returns the offset after it. */
    public static int attribute(MemorySegment m, int offset, int type, byte[] value) {
        int length = 4 + value.length;
        m.set(JAVA_SHORT, offset, (short) length);
        m.set(JAVA_SHORT, offset + 2, (short) type);
        MemorySegment.copy(MemorySegment.ofArray(value), 0, m, offset + 4, value.length);
        return offset + (int) align(length);
    }

    /** Writes a 32-bit attribute (host order) at {@code offset}; returns the offset after it. */
    public static int attributeInt(MemorySegment m, int offset, int type, int value) {
        m.set(JAVA_SHORT, offset, (short) 8);
        m.set(JAVA_SHORT, offset + 2, (short) type);
        m.set(JAVA_INT, offset + 4, value);
        return offset + 8;
    }

    /** Writes a NUL-terminated string attribute at {@code offset}; returns the offset after it. */
    public static int attribute(MemorySegment m, int offset, int type, String value) {
        byte[] text = value.getBytes(StandardCharsets.US_ASCII);
        int length = 4 + text.length + 1;
        m.set(JAVA_SHORT, offset, (short) length);
        m.set(JAVA_SHORT, offset + 2, (short) type);
        MemorySegment.copy(MemorySegment.ofArray(text), 0, m, offset + 4, text.length);
        m.set(JAVA_BYTE, offset + 4 + text.length, (byte) 0);
        return offset + (int) align(length);
    }

    /** Netlink's 4-byte alignment of messages and attributes. */
    public static long align(int length) {
        return (length + 3L) & ~3L;
    }

    private int receive() throws NetlinkException {
        if (sys.poll(pollFd, 1, ANSWER_TIMEOUT_MS) <= 0) {
            throw new NetlinkException("netlink: no answer from the kernel within " + ANSWER_TIMEOUT_MS + " ms");
        }
        long n = sys.recv(fd, reply, REPLY_BYTES, 0);
        if (n < 0) {
            int errno = sys.errno();
            throw new NetlinkException("netlink receive: " + LinuxNative.describe(errno), errno);
        }
        return (int) n;
    }

    @Override
    public void close() {
        sys.closeFd(fd);
        sys.close();
    }
}
