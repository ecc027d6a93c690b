package io.maglevlb.bench.e2e;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.util.function.IntUnaryOperator;

/**
 * Non-blocking UDP sockets with batched I/O for the benchmark's load side (the echo backends and udp-load), which
 * share one core with each other: {@code recvmmsg}/{@code sendmmsg} move a whole batch of datagrams per system
 * call, and a level-triggered {@code epoll} says which sockets have something, so a socket is never read just to
 * learn that it is empty. Socket setup goes through the dataplane's {@link LinuxNative}; the batch calls and epoll
 * are bound here.
 *
 * <p>Threading: {@code errno} is captured into this instance's state, so one thread at a time uses an instance
 * (the echo server opens its sockets on the main thread and hands the instance over when it starts its thread).
 * The batch calls never block (non-blocking sockets, {@code MSG_DONTWAIT}) and take raw addresses, so they are
 * bound as critical downcalls and a call at an offset into a {@link Vector} needs no slice object.
 */
final class DatagramIo implements AutoCloseable {

    static final int EINTR = LinuxNative.EINTR;
    static final int EAGAIN = LinuxNative.EAGAIN;
    static final int MSG_DONTWAIT = LinuxNative.MSG_DONTWAIT;
    /** The kernel handles at most this many messages per recvmmsg/sendmmsg call (UIO_MAXIOV). */
    static final int MAX_BATCH = 1024;

    private static final int SO_REUSEADDR = 2;
    private static final int EPOLL_CLOEXEC = 0x80000;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLLIN = 1;
    /** struct epoll_event is packed on x86_64 (12 bytes, data at 4) and naturally aligned elsewhere (16, at 8). */
    private static final boolean PACKED_EPOLL_EVENT = System.getProperty("os.arch").matches("amd64|x86_64");
    private static final long EPOLL_EVENT_SIZE = PACKED_EPOLL_EVENT ? 12 : 16;
    private static final long EPOLL_DATA_OFFSET = PACKED_EPOLL_EVENT ? 4 : 8;
    private static final ValueLayout.OfInt EPOLL_DATA = JAVA_INT.withByteAlignment(4);
    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle RECVMMSG = bind("recvmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG), true);
    private static final MethodHandle SENDMMSG = bind("sendmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT), true);
    private static final MethodHandle EPOLL_CREATE1 = bind("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), false);
    private static final MethodHandle EPOLL_CTL = bind("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), false);
    private static final MethodHandle EPOLL_WAIT = bind("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), false);

    private final LinuxNative sys = new LinuxNative();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment callState = arena.allocate(CAPTURE_LAYOUT);

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, boolean critical) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        Linker.Option errno = Linker.Option.captureCallState("errno");
        return critical
                ? LINKER.downcallHandle(symbol, descriptor, errno, Linker.Option.critical(false))
                : LINKER.downcallHandle(symbol, descriptor, errno);
    }

    /** errno of the last failed batch or epoll call made through this instance. */
    int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    /** A non-blocking socket bound to {@code address}, with SO_REUSEADDR and the given buffer sizes. */
    int openBound(InetSocketAddress address, int receiveBuffer, int sendBuffer) throws IOException {
        int fd = open(address);
        try {
            check(sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, SO_REUSEADDR, 1), "SO_REUSEADDR", address);
            check(sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_RCVBUF, receiveBuffer), "SO_RCVBUF",
                    address);
            check(sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUF, sendBuffer), "SO_SNDBUF",
                    address);
            MemorySegment sockaddr = sockaddr(address);
            check(sys.bind(fd, sockaddr, (int) sockaddr.byteSize()), "bind", address);
            return fd;
        } catch (IOException e) {
            sys.closeFd(fd);
            throw e;
        }
    }

    /**
     * A non-blocking socket connected to {@code target} from an ephemeral port: the kernel then delivers only
     * datagrams from {@code target} to it, and reports an ICMP port unreachable as ECONNREFUSED.
     */
    int openConnected(InetSocketAddress target, int receiveBuffer) throws IOException {
        int fd = open(target);
        try {
            check(sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_RCVBUF, receiveBuffer), "SO_RCVBUF",
                    target);
            MemorySegment sockaddr = sockaddr(target);
            check(sys.connect(fd, sockaddr, (int) sockaddr.byteSize()), "connect", target);
            return fd;
        } catch (IOException e) {
            sys.closeFd(fd);
            throw e;
        }
    }

    void closeFd(int fd) {
        sys.closeFd(fd);
    }

    /** A level-triggered epoll instance. */
    int epollCreate() throws IOException {
        int epfd;
        try {
            epfd = (int) EPOLL_CREATE1.invokeExact(callState, EPOLL_CLOEXEC);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (epfd < 0) {
            throw new IOException("epoll_create1: " + LinuxNative.describe(errno()));
        }
        return epfd;
    }

    /** Watches {@code fd} for input; {@link #eventToken} gives {@code token} (as data.u32) back for its events. */
    void epollAdd(int epfd, int fd, int token) throws IOException {
        MemorySegment event = arena.allocate(EPOLL_EVENT_SIZE, 8);
        event.set(JAVA_INT, 0, EPOLLIN);
        event.set(EPOLL_DATA, EPOLL_DATA_OFFSET, token);
        int result;
        try {
            result = (int) EPOLL_CTL.invokeExact(callState, epfd, EPOLL_CTL_ADD, fd, event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result < 0) {
            throw new IOException("epoll_ctl: " + LinuxNative.describe(errno()));
        }
    }

    /** Room for {@code count} events of {@link #epollWait}. */
    MemorySegment epollEvents(int count) {
        return arena.allocate(EPOLL_EVENT_SIZE * count, 8);
    }

    /** Waits up to {@code timeoutMs} for input; returns the number of events in {@code events}, or -1 (errno). */
    int epollWait(int epfd, MemorySegment events, int timeoutMs) {
        try {
            return (int) EPOLL_WAIT.invokeExact(callState, epfd, events, (int) (events.byteSize() / EPOLL_EVENT_SIZE),
                    timeoutMs);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The token that {@link #epollAdd} registered for the {@code index}th event of the last wait. */
    static int eventToken(MemorySegment events, int index) {
        return events.get(EPOLL_DATA, index * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET);
    }

    /**
     * Receives up to {@code count} pending datagrams into the first slots of {@code vector} without waiting;
     * returns how many, or -1 (errno: EAGAIN when none was pending).
     */
    int receive(int fd, Vector vector, int count) {
        try {
            return (int) RECVMMSG.invokeExact(callState, fd, vector.headerAddress(0), count, MSG_DONTWAIT, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Sends slots {@code from .. from + count - 1} of {@code vector}, each to its slot's address (or to the
     * connected peer); returns how many went out, or -1 (errno) if the first one could not.
     */
    int send(int fd, Vector vector, int from, int count) {
        try {
            return (int) SENDMMSG.invokeExact(callState, fd, vector.headerAddress(from), count, MSG_DONTWAIT);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A vector of datagram slots in memory owned by this instance. */
    Vector vector(int slots, int bufferSize, boolean withAddresses) {
        return new Vector(arena, slots, bufferSize, withAddresses);
    }

    @Override
    public void close() {
        arena.close();
        sys.close();
    }

    private int open(InetSocketAddress address) throws IOException {
        int domain = address.getAddress() instanceof Inet4Address ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
        int fd = sys.socket(domain,
                LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC, 0);
        check(fd, "socket", address);
        return fd;
    }

    private void check(int result, String call, InetSocketAddress address) throws IOException {
        if (result < 0) {
            throw new IOException(call + " " + address + ": " + LinuxNative.describe(sys.errno()));
        }
    }

    /** sockaddr_in or sockaddr_in6 (port and address in network order) of {@code address}. */
    private MemorySegment sockaddr(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        MemorySegment s = arena.allocate(ip.length == 4 ? 16 : 28, 8);
        s.set(JAVA_SHORT, 0, (short) (ip.length == 4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6));
        s.set(PORT, 2, (short) address.getPort());
        MemorySegment.copy(MemorySegment.ofArray(ip), 0, s, ip.length == 4 ? 4 : 8, ip.length);
        return s;
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /**
     * An array of {@code struct mmsghdr}, one per slot, each with one iovec over the slot's own buffer and, if
     * asked for, room for a peer address. The slots are reused for every batch: a receive fills them in place
     * (length, source address), and an echo can send the same slots straight back once
     * {@link #replyWithReceived} has set each send length to the received one.
     *
     * <p>Layouts are those of LP64 Linux (x86_64, aarch64): mmsghdr = msghdr (56 bytes) + msg_len + padding.
     */
    static final class Vector {
        private static final long HEADER_SIZE = 64;
        private static final long MSG_NAME = 0;
        private static final long MSG_NAMELEN = 8;
        private static final long MSG_IOV = 16;
        private static final long MSG_IOVLEN = 24;
        private static final long MSG_LEN = 56;
        private static final long IOVEC_SIZE = 16;
        private static final long IOV_LEN = 8;
        /** Big enough for sockaddr_in6 (28 bytes). */
        private static final int ADDRESS_CAPACITY = 32;
        private static final ValueLayout.OfLong SEQUENCE =
                JAVA_LONG.withByteAlignment(1).withOrder(ByteOrder.BIG_ENDIAN);

        private final MemorySegment headers;
        private final MemorySegment iovecs;
        private final MemorySegment buffers;
        private final int slots;
        private final int bufferSize;
        private final boolean withAddresses;

        private Vector(Arena arena, int slots, int bufferSize, boolean withAddresses) {
            if (slots < 1 || slots > MAX_BATCH) {
                throw new IllegalArgumentException("slots must be in 1.." + MAX_BATCH + ", was " + slots);
            }
            this.slots = slots;
            this.bufferSize = bufferSize;
            this.withAddresses = withAddresses;
            headers = arena.allocate(HEADER_SIZE * slots, 8);
            iovecs = arena.allocate(IOVEC_SIZE * slots, 8);
            buffers = arena.allocate((long) bufferSize * slots, 8);
            MemorySegment names = withAddresses ? arena.allocate((long) ADDRESS_CAPACITY * slots, 8) : null;
            for (int i = 0; i < slots; i++) {
                long h = HEADER_SIZE * i;
                if (names != null) {
                    headers.set(JAVA_LONG, h + MSG_NAME, names.address() + (long) ADDRESS_CAPACITY * i);
                    headers.set(JAVA_INT, h + MSG_NAMELEN, ADDRESS_CAPACITY);
                }
                headers.set(JAVA_LONG, h + MSG_IOV, iovecs.address() + IOVEC_SIZE * i);
                headers.set(JAVA_LONG, h + MSG_IOVLEN, 1);
                iovecs.set(JAVA_LONG, IOVEC_SIZE * i, buffers.address() + (long) bufferSize * i);
                iovecs.set(JAVA_LONG, IOVEC_SIZE * i + IOV_LEN, bufferSize);
            }
        }

        int slots() {
            return slots;
        }

        long headerAddress(int slot) {
            return headers.address() + HEADER_SIZE * slot;
        }

        /** Bytes received into {@code slot} by the last receive. */
        int receivedLength(int slot) {
            return headers.get(JAVA_INT, HEADER_SIZE * slot + MSG_LEN);
        }

        /** The big-endian long at the start of {@code slot}'s buffer. */
        long sequence(int slot) {
            return buffers.get(SEQUENCE, (long) bufferSize * slot);
        }

        void setSequence(int slot, long value) {
            buffers.set(SEQUENCE, (long) bufferSize * slot, value);
        }

        /** Fills every slot's buffer with {@code pattern(i)} at byte {@code i}. */
        void fill(IntUnaryOperator pattern) {
            for (int s = 0; s < slots; s++) {
                for (int i = 0; i < bufferSize; i++) {
                    buffers.set(JAVA_BYTE, (long) bufferSize * s + i,
                            (byte) pattern.applyAsInt(i));
                }
            }
        }

        /** Makes slots {@code 0 .. count - 1} send back what they received, to where it came from. */
        void replyWithReceived(int count) {
            for (int i = 0; i < count; i++) {
                iovecs.set(JAVA_LONG, IOVEC_SIZE * i + IOV_LEN, receivedLength(i));
            }
        }

        /** Gives slots {@code 0 .. count - 1} back their full buffer and address room for the next receive. */
        void readyToReceive(int count) {
            for (int i = 0; i < count; i++) {
                iovecs.set(JAVA_LONG, IOVEC_SIZE * i + IOV_LEN, bufferSize);
                if (withAddresses) {
                    headers.set(JAVA_INT, HEADER_SIZE * i + MSG_NAMELEN, ADDRESS_CAPACITY);
                }
            }
        }
    }
}
