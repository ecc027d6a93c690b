package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A Unix stream socket (AF_UNIX, SOCK_STREAM) that carries bytes and, with them, file descriptors (SCM_RIGHTS):
 * what a running maglevd and its successor talk over at a takeover. Blocking calls, made by a control thread
 * (never a forwarding loop); a receive or send that waits longer than the socket's timeout fails.
 *
 * <p>Descriptors sent ride on the first byte of the {@link #send} they were given with; the kernel installs them
 * in the receiving process (close-on-exec) when a {@link #receive} reads that byte. A receive never reads past
 * a byte that carries descriptors of another send, so they arrive with, or before, the bytes they were sent
 * with: the framing above this class counts them ({@code fdCount} per frame) rather than relying on where a
 * read ends. At most {@link #MAX_FDS_PER_SEND} per send (the kernel's SCM_MAX_FD).
 *
 * <p><b>Native memory.</b> Each call takes its message header, iovec and control buffer from a confined arena of
 * that call, freed when it returns: this is a control path (a handful of messages per takeover), not a packet
 * path. The socket owns its descriptor until {@link #close()}.
 *
 * <p><b>Threading.</b> One thread at a time per socket (the {@code errno} capture state is per instance).
 */
public final class UnixSocket implements AutoCloseable {
    /** The kernel's limit on descriptors in one SCM_RIGHTS message (SCM_MAX_FD). */
    public static final int MAX_FDS_PER_SEND = 253;

    static final int AF_UNIX = 1;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int SO_TYPE = 3;
    static final int SO_PEERCRED = 17;
    static final int SO_RCVTIMEO = 20;
    static final int SO_SNDTIMEO = 21;
    static final int SO_ACCEPTCONN = 30;
    static final int SO_DOMAIN = 39;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int SHUT_RDWR = 2;
    /** sun_path of struct sockaddr_un. */
    static final int SUN_PATH_BYTES = 108;
    private static final int SOCKADDR_UN_BYTES = 2 + SUN_PATH_BYTES;
    // struct msghdr on LP64 Linux (x86_64, aarch64)
    private static final int MSGHDR_BYTES = 56;
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long MSG_CONTROL = 32;
    private static final long MSG_CONTROLLEN = 40;
    private static final long MSG_FLAGS = 48;
    private static final int CMSG_HEADER_BYTES = 16;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    // Not critical: accept, connect, sendmsg and recvmsg block (the thread must be able to reach a safepoint).
    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle CONNECT = bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMSG = bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECVMSG = bind("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GETSOCKOPT = bind("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle GETSOCKNAME = bind("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SHUTDOWN = bind("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SENDTO = bind("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = bind("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
    }

    /** Owned by this socket: the errno capture state; freed by {@link #close()}. */
    private final Arena arena = Arena.ofShared();
    private final MemorySegment callState = arena.allocate(CAPTURE_LAYOUT);
    private volatile int fd;

    private UnixSocket(int fd) {
        this.fd = fd;
    }

    /** The peer of a connection: its process, user and group ids (SO_PEERCRED, as of its connect). */
    public record PeerCredentials(int pid, int uid, int gid) {
    }

    /** Bytes read by one {@link #receive}, and the descriptors that came with them (now this process's). */
    public record Received(int bytes, int[] fds) {
    }

    /**
     * A listening socket bound to {@code path} (which must not exist; the caller removes a stale one). The
     * socket file gets the mode the process's umask leaves: restrict its directory, as {@code maglevd} does.
     */
    public static UnixSocket listen(Path path, int backlog) throws IOException {
        UnixSocket s = open();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(call, path);
            s.check((int) invoke(BIND, s.callState, s.fd, addr, SOCKADDR_UN_BYTES), "bind " + path);
            s.check((int) invoke(LISTEN, s.callState, s.fd, backlog), "listen " + path);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Connects to the listening socket at {@code path}. */
    public static UnixSocket connect(Path path) throws IOException {
        UnixSocket s = open();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(call, path);
            int r;
            do {
                r = (int) invoke(CONNECT, s.callState, s.fd, addr, SOCKADDR_UN_BYTES);
            } while (r != 0 && s.errno() == LinuxNative.EINTR);
            s.check(r, "connect " + path);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Two connected sockets (socketpair(2)), e.g. for tests. */
    public static UnixSocket[] pair() throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment fds = call.allocate(JAVA_INT, 2);
            MemorySegment state = call.allocate(CAPTURE_LAYOUT);
            int r = (int) invoke(SOCKETPAIR, state, AF_UNIX, LinuxNative.SOCK_STREAM | LinuxNative.SOCK_CLOEXEC, 0, fds);
            if (r != 0) {
                throw new IOException("socketpair: " + LinuxNative.describe((int) ERRNO.get(state, 0L)));
            }
            return new UnixSocket[] {new UnixSocket(fds.getAtIndex(JAVA_INT, 0)), new UnixSocket(fds.getAtIndex(JAVA_INT, 1))};
        }
    }

    private static UnixSocket open() throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = call.allocate(CAPTURE_LAYOUT);
            int fd = (int) invoke(SOCKET, state, AF_UNIX, LinuxNative.SOCK_STREAM | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("socket(AF_UNIX): " + LinuxNative.describe((int) ERRNO.get(state, 0L)));
            }
            return new UnixSocket(fd);
        }
    }

    /**
     * Sends one datagram to the AF_UNIX datagram socket {@code address}: a path, or an abstract name written with a
     * leading {@code @} (as in systemd's {@code NOTIFY_SOCKET}). For sd_notify.
     */
    public static void sendDatagram(String address, byte[] data) throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = call.allocate(CAPTURE_LAYOUT);
            int fd = (int) invoke(SOCKET, state, AF_UNIX, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("socket(AF_UNIX, SOCK_DGRAM): " + LinuxNative.describe((int) ERRNO.get(state, 0L)));
            }
            try {
                byte[] name = address.getBytes(StandardCharsets.UTF_8);
                if (name.length == 0 || name.length >= SUN_PATH_BYTES) {
                    throw new IOException("bad unix socket address '" + address + "'");
                }
                MemorySegment addr = call.allocate(SOCKADDR_UN_BYTES);
                addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
                MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
                int addrLength = SOCKADDR_UN_BYTES;
                if (name[0] == '@') {
                    addr.set(JAVA_BYTE, 2, (byte) 0); // abstract namespace: the length ends the name
                    addrLength = 2 + name.length;
                }
                MemorySegment buffer = call.allocate(Math.max(1, data.length));
                MemorySegment.copy(data, 0, buffer, JAVA_BYTE, 0, data.length);
                long n = (long) invoke(SENDTO, state, fd, buffer, (long) data.length, LinuxNative.MSG_NOSIGNAL, addr,
                        addrLength);
                if (n < 0) {
                    throw new IOException("sendto " + address + ": " + LinuxNative.describe((int) ERRNO.get(state, 0L)));
                }
            } finally {
                invoke(CLOSE, state, fd);
            }
        }
    }

    private static MemorySegment sockaddr(Arena call, Path path) throws IOException {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_BYTES) {
            throw new IOException("unix socket path too long (" + name.length + " bytes, at most "
                    + (SUN_PATH_BYTES - 1) + "): " + path);
        }
        MemorySegment addr = call.allocate(SOCKADDR_UN_BYTES);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
        return addr;
    }

    /**
     * Waits for the next connection (blocking). Fails with an IOException once {@link #shutdown()} was called.
     */
    public UnixSocket accept() throws IOException {
        int r;
        do {
            r = (int) invoke(ACCEPT4, callState, fd, MemorySegment.NULL, MemorySegment.NULL, LinuxNative.SOCK_CLOEXEC);
        } while (r < 0 && errno() == LinuxNative.EINTR && fd >= 0);
        check(r, "accept");
        return new UnixSocket(r);
    }

    /** The connected peer's credentials (SO_PEERCRED). */
    public PeerCredentials peer() throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment cred = call.allocate(12);
            MemorySegment len = call.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 12);
            check((int) invoke(GETSOCKOPT, callState, fd, SOL_SOCKET, SO_PEERCRED, cred, len), "SO_PEERCRED");
            return new PeerCredentials(cred.get(JAVA_INT, 0), cred.get(JAVA_INT, 4), cred.get(JAVA_INT, 8));
        }
    }

    /** Makes a receive, or a send, that waits longer than {@code timeout} fail (SO_RCVTIMEO, SO_SNDTIMEO). */
    public void timeout(Duration timeout) throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment tv = call.allocate(16);
            tv.set(JAVA_LONG, 0, timeout.toSeconds());
            tv.set(JAVA_LONG, 8, timeout.toMillisPart() * 1000L);
            check((int) invoke(SETSOCKOPT, callState, fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), "SO_RCVTIMEO");
            check((int) invoke(SETSOCKOPT, callState, fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16), "SO_SNDTIMEO");
        }
    }

    /**
     * Sends all of {@code data}, with {@code fds} attached to its first byte. The descriptors stay open here (the
     * receiver gets its own, referring to the same open files).
     */
    public void send(byte[] data, int[] fds) throws IOException {
        if (data.length == 0) {
            throw new IllegalArgumentException("descriptors need at least one byte to ride on");
        }
        if (fds.length > MAX_FDS_PER_SEND) {
            throw new IllegalArgumentException(fds.length + " descriptors in one send, at most " + MAX_FDS_PER_SEND);
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(data.length);
            MemorySegment.copy(data, 0, buffer, JAVA_BYTE, 0, data.length);
            MemorySegment iov = call.allocate(16, 8);
            MemorySegment msg = call.allocate(MSGHDR_BYTES, 8);
            MemorySegment control = MemorySegment.NULL;
            if (fds.length > 0) {
                control = call.allocate(cmsgSpace(fds.length), 8);
                control.set(JAVA_LONG, 0, CMSG_HEADER_BYTES + 4L * fds.length);
                control.set(JAVA_INT, 8, SOL_SOCKET);
                control.set(JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.set(JAVA_INT, CMSG_HEADER_BYTES + 4L * i, fds[i]);
                }
            }
            long sent = 0;
            while (sent < data.length) {
                iov.set(ADDRESS, 0, buffer.asSlice(sent));
                iov.set(JAVA_LONG, 8, data.length - sent);
                msg.fill((byte) 0);
                msg.set(ADDRESS, MSG_IOV, iov);
                msg.set(JAVA_LONG, MSG_IOVLEN, 1);
                if (sent == 0 && fds.length > 0) {
                    msg.set(ADDRESS, MSG_CONTROL, control);
                    msg.set(JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
                }
                long n = (long) invoke(SENDMSG, callState, fd, msg, LinuxNative.MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno() == LinuxNative.EINTR) {
                        continue;
                    }
                    throw failure("sendmsg");
                }
                sent += n;
            }
        }
    }

    /**
     * Reads at least one and at most {@code into.length - offset} bytes into {@code into} at {@code offset}, with
     * the descriptors that came with them (close-on-exec; the caller owns them).
     *
     * @throws EOFException when the peer closed the connection
     * @throws IOException on a timeout ({@link #timeout}) or an error; also when the kernel had to drop descriptors
     *     (MSG_CTRUNC), which this class closes on the way
     */
    public Received receive(byte[] into, int offset, int maxFds) throws IOException {
        int length = into.length - offset;
        if (length <= 0) {
            throw new IllegalArgumentException("no room to receive into");
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment buffer = call.allocate(length);
            MemorySegment iov = call.allocate(16, 8);
            iov.set(ADDRESS, 0, buffer);
            iov.set(JAVA_LONG, 8, length);
            long controlBytes = cmsgSpace(Math.max(1, maxFds));
            MemorySegment control = call.allocate(controlBytes, 8);
            MemorySegment msg = call.allocate(MSGHDR_BYTES, 8);
            long n;
            do {
                msg.fill((byte) 0);
                msg.set(ADDRESS, MSG_IOV, iov);
                msg.set(JAVA_LONG, MSG_IOVLEN, 1);
                msg.set(ADDRESS, MSG_CONTROL, control);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, controlBytes);
                n = (long) invoke(RECVMSG, callState, fd, msg, MSG_CMSG_CLOEXEC);
            } while (n < 0 && errno() == LinuxNative.EINTR);
            if (n < 0) {
                int e = errno();
                throw new IOException("recvmsg: " + (e == LinuxNative.EAGAIN ? "timed out" : LinuxNative.describe(e)));
            }
            int[] fds = descriptors(control, msg.get(JAVA_LONG, MSG_CONTROLLEN));
            if ((msg.get(JAVA_INT, MSG_FLAGS) & MSG_CTRUNC) != 0) {
                for (int f : fds) {
                    closeQuietly(f);
                }
                throw new IOException("recvmsg: descriptors dropped (more than " + maxFds + " came with one read)");
            }
            if (n == 0) {
                for (int f : fds) {
                    closeQuietly(f);
                }
                throw new EOFException("the peer closed the connection");
            }
            MemorySegment.copy(buffer, JAVA_BYTE, 0, into, offset, (int) n);
            return new Received((int) n, fds);
        }
    }

    /** The SCM_RIGHTS descriptors in a received control buffer of {@code length} bytes. */
    private static int[] descriptors(MemorySegment control, long length) {
        List<Integer> fds = new ArrayList<>();
        long at = 0;
        while (at + CMSG_HEADER_BYTES <= length) {
            long cmsgLen = control.get(JAVA_LONG, at);
            if (cmsgLen < CMSG_HEADER_BYTES || at + cmsgLen > length) {
                break;
            }
            if (control.get(JAVA_INT, at + 8) == SOL_SOCKET && control.get(JAVA_INT, at + 12) == SCM_RIGHTS) {
                for (long p = at + CMSG_HEADER_BYTES; p + 4 <= at + cmsgLen; p += 4) {
                    fds.add(control.get(JAVA_INT, p));
                }
            }
            at += align8(cmsgLen);
        }
        return fds.stream().mapToInt(Integer::intValue).toArray();
    }

    private static long cmsgSpace(int fdCount) {
        return CMSG_HEADER_BYTES + align8(4L * fdCount);
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    /** Wakes a thread blocked in {@link #accept} or {@link #receive} (it fails); the socket stays open. */
    public void shutdown() {
        int f = fd;
        if (f >= 0) {
            try (Arena call = Arena.ofConfined()) {
                invoke(SHUTDOWN, call.allocate(CAPTURE_LAYOUT), f, SHUT_RDWR);
            }
        }
    }

    /** The descriptor (-1 once closed). */
    public int fd() {
        return fd;
    }

    @Override
    public synchronized void close() {
        int f = fd;
        if (f >= 0) {
            fd = -1;
            closeQuietly(f);
        }
    }

    /** close(2), ignoring errors: for descriptors received and not used. */
    public static void closeQuietly(int fd) {
        if (fd >= 0) {
            try (Arena call = Arena.ofConfined()) {
                invoke(CLOSE, call.allocate(CAPTURE_LAYOUT), fd);
            }
        }
    }

    /**
     * What {@code fd} is, checked against what a takeover expects: a socket of {@code type}
     * ({@link LinuxNative#SOCK_STREAM} or {@link LinuxNative#SOCK_DGRAM}), listening when {@code listening}, bound
     * to {@code expected} (the port always; the address unless {@code expected}'s is the wildcard).
     *
     * @return why it cannot serve, or null when it can
     */
    public static String checkInetSocket(int fd, int type, boolean listening, InetSocketAddress expected) {
        try (LinuxNative sys = new LinuxNative(); Arena call = Arena.ofConfined()) {
            MemorySegment value = call.allocate(JAVA_INT);
            MemorySegment len = call.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 4);
            if (sys.getsockopt(fd, SOL_SOCKET, SO_TYPE, value, len) != 0) {
                return "fd " + fd + " is not a socket: " + LinuxNative.describe(sys.errno());
            }
            if (value.get(JAVA_INT, 0) != type) {
                return "fd " + fd + " is a socket of type " + value.get(JAVA_INT, 0) + ", not " + typeName(type);
            }
            len.set(JAVA_INT, 0, 4);
            if (sys.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, value, len) != 0) {
                return "fd " + fd + ": SO_ACCEPTCONN: " + LinuxNative.describe(sys.errno());
            }
            if ((value.get(JAVA_INT, 0) != 0) != listening) {
                return "fd " + fd + (listening ? " is not listening" : " is a listening socket");
            }
            MemorySegment name = call.allocate(DatagramBatch.NAME_BYTES);
            len.set(JAVA_INT, 0, DatagramBatch.NAME_BYTES);
            if (sys.getsockname(fd, name, len) != 0) {
                return "fd " + fd + ": getsockname: " + LinuxNative.describe(sys.errno());
            }
            int family = Short.toUnsignedInt(name.get(JAVA_SHORT, 0));
            if (family != LinuxNative.AF_INET && family != LinuxNative.AF_INET6) {
                return "fd " + fd + " is not an IP socket (address family " + family + ")";
            }
            InetSocketAddress bound = DatagramBatch.decode(name);
            boolean addressOk = expected.getAddress().isAnyLocalAddress()
                    ? bound.getAddress().isAnyLocalAddress() : expected.getAddress().equals(bound.getAddress());
            if (!addressOk || (expected.getPort() != 0 && bound.getPort() != expected.getPort())) {
                return "fd " + fd + " is bound to " + bound + ", not " + expected;
            }
            return null;
        }
    }

    private static String typeName(int type) {
        return type == LinuxNative.SOCK_STREAM ? "SOCK_STREAM" : type == LinuxNative.SOCK_DGRAM ? "SOCK_DGRAM" : "" + type;
    }

    /** The address {@code fd} is bound to (getsockname), for an IP socket. */
    public static InetSocketAddress localAddress(int fd) throws IOException {
        try (LinuxNative sys = new LinuxNative(); Arena call = Arena.ofConfined()) {
            MemorySegment name = call.allocate(DatagramBatch.NAME_BYTES);
            MemorySegment len = call.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, DatagramBatch.NAME_BYTES);
            if (sys.getsockname(fd, name, len) != 0) {
                throw new IOException("getsockname: " + LinuxNative.describe(sys.errno()));
            }
            return DatagramBatch.decode(name);
        }
    }

    private int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    /** Calls return 0 (or a descriptor) on success, -1 with errno set on failure. */
    private void check(int result, String what) throws IOException {
        if (result < 0) {
            throw failure(what);
        }
    }

    private IOException failure(String what) {
        return new IOException(what + ": " + LinuxNative.describe(errno()));
    }

    private static Object invoke(MethodHandle handle, Object... args) {
        try {
            return handle.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
