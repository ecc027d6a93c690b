package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The few Linux system calls maglevd needs (packet sockets, the raw TCP relay, UDP socket memory information,
 * rtnetlink, the TUN device, the open-descriptor count), bound once through the FFM API (no JNI, no native library
 * of our own). This package is the only place that binds a C function: the TCP relay, the UDP forwarder and the
 * packet engine call these methods ({@code LayeringTest} in lb-control checks it). Every call that can fail captures
 * {@code errno} into a per-caller state segment, so one instance of this class is used by one thread at a time:
 * each packet socket owns one (opened on the starting thread, then used only by its forwarding thread), the
 * control side creates its own.
 *
 * <p>Methods return the raw syscall result; on {@code -1} the error number is in {@link #errno()}. Constants are
 * the x86_64 / aarch64 Linux values (identical on both for everything here).
 */
public final class LinuxNative implements AutoCloseable {
    // ---- address families, socket types and levels
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int AF_NETLINK = 16;
    public static final int AF_PACKET = 17;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 0x80000;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int IPPROTO_TCP = 6;
    public static final int TCP_NODELAY = 1;
    public static final int TCP_QUICKACK = 12;
    public static final int SO_ERROR = 4;
    public static final int SO_LINGER = 13;
    public static final int SHUT_WR = 1;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_MORE = 0x8000;
    /** splice(2) flags: move pages rather than copy where possible, do not block, more data follows. */
    public static final int SPLICE_F_MOVE = 1;
    public static final int SPLICE_F_NONBLOCK = 2;
    public static final int SPLICE_F_MORE = 4;
    /** fcntl(2) command: set a pipe's capacity in bytes (rounded up to a power of two pages). */
    public static final int F_SETPIPE_SZ = 1031;
    /** pipe2(2) flag (the same value as O_NONBLOCK). */
    public static final int O_NONBLOCK = 0x800;
    public static final int NETLINK_ROUTE = 0;
    public static final int SOL_SOCKET = 1;
    public static final int SOL_PACKET = 263;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_ATTACH_FILTER = 26;
    public static final int SO_REUSEPORT = 15;

    // ---- AF_PACKET socket options (linux/if_packet.h)
    public static final int PACKET_RX_RING = 5;
    public static final int PACKET_STATISTICS = 6;
    public static final int PACKET_VERSION = 10;
    public static final int PACKET_FANOUT = 18;
    public static final int PACKET_QDISC_BYPASS = 20;
    public static final int PACKET_IGNORE_OUTGOING = 23;
    public static final int TPACKET_V3 = 2;
    public static final int PACKET_FANOUT_DATA = 22;
    public static final int PACKET_FANOUT_HASH = 0;
    public static final int PACKET_FANOUT_CBPF = 6;
    public static final int PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;
    /** The fanout group's hook skips outgoing frames (Linux 6.5+); a member's PACKET_IGNORE_OUTGOING does not. */
    public static final int PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;

    // ---- ethertypes (host order; sockets want them in network order, see htons)
    public static final int ETH_P_ALL = 0x0003;
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_IPV6 = 0x86dd;

    // ---- mmap / poll / send flags
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_POPULATE = 0x8000;
    public static final short POLLIN = 1;
    public static final int MSG_DONTWAIT = 0x40;

    // ---- ioctl requests on an AF_INET socket (linux/sockios.h)
    public static final long SIOCGIFADDR = 0x8915;
    public static final long SIOCGIFMTU = 0x8921;
    public static final long SIOCGIFHWADDR = 0x8927;
    public static final int IFREQ_SIZE = 40;
    public static final int IFNAMSIZ = 16;

    // ---- errno values that the engine treats specially
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENXIO = 6;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int EINPROGRESS = 115;
    public static final int ECONNABORTED = 103;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;
    public static final int EMSGSIZE = 90;
    public static final int ENETDOWN = 100;
    public static final int ENOBUFS = 105;
    public static final int EADDRNOTAVAIL = 99;

    // ---- open(2) flags
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;

    /** lseek(2) whence: from the start of the file. */
    public static final int SEEK_SET = 0;

    /** fcntl(2) command: duplicate a descriptor with close-on-exec set. */
    public static final int F_DUPFD_CLOEXEC = 1030;
    /** SOL_SOCKET options read from a handed-over socket to check what it is. */
    public static final int SO_TYPE = 3;
    public static final int SO_DOMAIN = 39;

    /** CLONE_NEWNET: the namespace type for {@link #setns}. */
    public static final int CLONE_NEWNET = 0x40000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GETSOCKOPT = bind("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle POLL = bind("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SENDMMSG = bind("sendmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle SENDTO = bind("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECV = bind("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    // TCP relay (RawTcpConnection): non-blocking calls on sockets, buffers passed as raw addresses so a call at
    // an offset into a buffer needs no slice object. critical: no thread-state transition around a call that
    // never blocks.
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), CRITICAL);
    private static final MethodHandle CONNECT = bind("connect",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), CRITICAL);
    private static final MethodHandle GETSOCKNAME = bind("getsockname",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SHUTDOWN = bind("shutdown",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CRITICAL);
    private static final MethodHandle RECV_AT = bind("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), CRITICAL);
    private static final MethodHandle SEND_AT = bind("send",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), CRITICAL);
    private static final MethodHandle PIPE2 = bind("pipe2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT),
            CRITICAL);
    private static final MethodHandle FCNTL_INT = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            CRITICAL, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SPLICE = bind("splice",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), CRITICAL);
    // UDP forwarder (DatagramBatch): batches of datagrams in native memory, addresses passed raw, never blocking.
    private static final MethodHandle RECVMMSG_AT = bind("recvmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG), CRITICAL);
    private static final MethodHandle SENDMMSG_AT = bind("sendmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT), CRITICAL);
    private static final MethodHandle SETSOCKOPT_FAST = bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), CRITICAL);
    private static final MethodHandle IOCTL = bind("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IF_NAMETOINDEX = bind("if_nametoindex", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle IF_NAMEINDEX = LINKER.downcallHandle(
            LIBC.find("if_nameindex").orElseThrow(), FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle IF_FREENAMEINDEX = LINKER.downcallHandle(
            LIBC.find("if_freenameindex").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle SCHED_SETAFFINITY = bind("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SETNS = bind("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle OPEN = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle READ = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle LSEEK = bind("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    /** glibc 2.30+; null on an older C library ({@link #hasGetdents64()}). */
    private static final MethodHandle GETDENTS64 = LIBC.find("getdents64")
            .map(s -> LINKER.downcallHandle(s, FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG),
                    CAPTURE_ERRNO))
            .orElse(null);
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private final Arena arena = Arena.ofShared();
    private final AtomicLong allocated = new AtomicLong();
    private final MemorySegment callState = arena.allocate(CAPTURE_LAYOUT);

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** errno of the last failed call made through this instance. */
    public int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    /**
     * Scratch memory owned by this instance, freed by {@link #close()}; never earlier. So an instance's owner
     * allocates what it needs once, when it is set up (per loop, per socket, per call), and never per packet, per
     * connection or per snapshot: the arena would grow with every one. The methods of this class that need memory
     * of their own for one call (a path, a name, a CPU mask) take it from a confined arena of that call.
     */
    public MemorySegment allocate(long bytes) {
        MemorySegment segment = arena.allocate(bytes, 16);
        allocated.addAndGet(bytes);
        return segment;
    }

    /** Like {@link #allocate}, aligned to {@code alignment} bytes (a page, for memory the kernel pins). */
    public MemorySegment allocateAligned(long bytes, long alignment) {
        MemorySegment segment = arena.allocate(bytes, alignment);
        allocated.addAndGet(bytes);
        return segment;
    }

    /**
     * Bytes handed out by {@link #allocate} so far. Nothing is freed before {@link #close()}, so this is the
     * instance's native memory (plus alignment): it must stop growing once its owner is set up. Any thread.
     */
    public long allocatedBytes() {
        return allocated.get();
    }

    public int socket(int domain, int type, int protocol) {
        try {
            return (int) SOCKET.invokeExact(callState, domain, type, protocol);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int closeFd(int fd) {
        try {
            return (int) CLOSE.invokeExact(callState, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int bind(int fd, MemorySegment address, int length) {
        try {
            return (int) BIND.invokeExact(callState, fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int setsockopt(int fd, int level, int name, MemorySegment value, int length) {
        try {
            return (int) SETSOCKOPT.invokeExact(callState, fd, level, name, value, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** setsockopt with an int value. */
    public int setsockoptInt(int fd, int level, int name, int value) {
        MemorySegment v = scratchInt();
        v.set(JAVA_INT, 0, value);
        return setsockopt(fd, level, name, v, 4);
    }

    /**
     * SO_ATTACH_FILTER: attaches the classic BPF program {@code instructions} (each a struct sock_filter packed by
     * {@link SocketFilters#instruction}) to socket {@code fd}, replacing any filter it had. The kernel copies the
     * program, so its memory is taken from a confined arena of this call and freed on return (no growth of this
     * instance's arena: a reload may call this for every listener it retires). 0, or -1 with errno set.
     */
    public int attachFilter(int fd, long[] instructions) {
        try (Arena call = Arena.ofConfined()) { // per call: the program and its struct sock_fprog
            MemorySegment insns = call.allocate(8L * instructions.length, 8);
            for (int i = 0; i < instructions.length; i++) {
                long insn = instructions[i];
                long o = 8L * i;
                insns.set(JAVA_SHORT, o, (short) SocketFilters.code(insn));
                insns.set(JAVA_BYTE, o + 2, (byte) SocketFilters.jt(insn));
                insns.set(JAVA_BYTE, o + 3, (byte) SocketFilters.jf(insn));
                insns.set(JAVA_INT, o + 4, SocketFilters.k(insn));
            }
            MemorySegment prog = call.allocate(16, 8);
            prog.set(JAVA_SHORT, 0, (short) instructions.length);
            prog.set(ADDRESS, 8, insns);
            return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, 16);
        }
    }

    /** getsockopt into {@code value}; {@code lengthInOut} holds the buffer length and receives the result length. */
    public int getsockopt(int fd, int level, int name, MemorySegment value, MemorySegment lengthInOut) {
        try {
            return (int) GETSOCKOPT.invokeExact(callState, fd, level, name, value, lengthInOut);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** mmap of a socket's ring; returns {@link MemorySegment#NULL} on failure (errno set). */
    public MemorySegment mmap(long length, int prot, int flags, int fd) {
        return mmap(length, prot, flags, fd, 0L);
    }

    /** mmap of a socket's ring at {@code offset} (AF_XDP selects each ring by its offset); NULL on failure. */
    public MemorySegment mmap(long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment p = (MemorySegment) MMAP.invokeExact(callState, MemorySegment.NULL, length, prot, flags, fd, offset);
            return p.address() == -1L ? MemorySegment.NULL : p.reinterpret(length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int munmap(MemorySegment address, long length) {
        try {
            return (int) MUNMAP.invokeExact(callState, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int poll(MemorySegment pollFds, long count, int timeoutMs) {
        try {
            return (int) POLL.invokeExact(callState, pollFds, count, timeoutMs);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int sendmmsg(int fd, MemorySegment messages, int count, int flags) {
        try {
            return (int) SENDMMSG.invokeExact(callState, fd, messages, count, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long sendto(int fd, MemorySegment buffer, long length, int flags, MemorySegment address, int addressLength) {
        try {
            return (long) SENDTO.invokeExact(callState, fd, buffer, length, flags, address, addressLength);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long recv(int fd, MemorySegment buffer, long length, int flags) {
        try {
            return (long) RECV.invokeExact(callState, fd, buffer, length, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** accept4(2): {@code address} receives the peer's sockaddr, {@code lengthInOut} holds its capacity. */
    public int accept4(int fd, MemorySegment address, MemorySegment lengthInOut, int flags) {
        try {
            return (int) ACCEPT4.invokeExact(callState, fd, address, lengthInOut, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int connect(int fd, MemorySegment address, int length) {
        try {
            return (int) CONNECT.invokeExact(callState, fd, address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int getsockname(int fd, MemorySegment address, MemorySegment lengthInOut) {
        try {
            return (int) GETSOCKNAME.invokeExact(callState, fd, address, lengthInOut);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** shutdown(2); {@code how}: {@link #SHUT_WR} (the only direction the relay shuts itself). */
    public int shutdown(int fd, int how) {
        try {
            return (int) SHUTDOWN.invokeExact(callState, fd, how);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** recv(2) into native memory at {@code address}. */
    public long recvAt(int fd, long address, long length, int flags) {
        try {
            return (long) RECV_AT.invokeExact(callState, fd, address, length, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** send(2) from native memory at {@code address}. */
    public long sendAt(int fd, long address, long length, int flags) {
        try {
            return (long) SEND_AT.invokeExact(callState, fd, address, length, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * pipe2(2): the read end's fd into the int at {@code fds}, the write end's into the int after it. 0 or -1.
     */
    public int pipe2At(long fds, int flags) {
        try {
            return (int) PIPE2.invokeExact(callState, fds, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** fcntl(2) with an int argument ({@link #F_SETPIPE_SZ}): the command's result, or -1. */
    public int fcntlInt(int fd, int cmd, int argument) {
        try {
            return (int) FCNTL_INT.invokeExact(callState, fd, cmd, argument);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * splice(2) of up to {@code length} bytes from {@code in} to {@code out}, one of them a pipe, neither with an
     * offset (sockets and pipes have none): bytes moved, 0 at the end of the input, or -1.
     */
    public long splice(int in, int out, long length, int flags) {
        try {
            return (long) SPLICE.invokeExact(callState, in, 0L, out, 0L, length, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * recvmmsg(2) of up to {@code count} datagrams into the {@code struct mmsghdr} array at {@code messages}
     * (no timeout): datagrams read, or -1.
     */
    public int recvmmsgAt(int fd, long messages, int count, int flags) {
        try {
            return (int) RECVMMSG_AT.invokeExact(callState, fd, messages, count, flags, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sendmmsg(2) of the {@code count} messages of the {@code struct mmsghdr} array at {@code messages}. */
    public int sendmmsgAt(int fd, long messages, int count, int flags) {
        try {
            return (int) SENDMMSG_AT.invokeExact(callState, fd, messages, count, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** setsockopt(2) of an int option, for the per-connection options of the TCP relay. */
    public int setsockoptIntFast(int fd, int level, int name, int value) {
        MemorySegment v = scratchInt();
        v.set(JAVA_INT, 0, value);
        try {
            return (int) SETSOCKOPT_FAST.invokeExact(callState, fd, level, name, v, 4);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int ioctl(int fd, long request, MemorySegment argument) {
        try {
            return (int) IOCTL.invokeExact(callState, fd, request, argument);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** read(2) of at most {@code length} bytes into {@code buffer}; bytes read, 0 at end, or -1. */
    public long read(int fd, MemorySegment buffer, long length) {
        try {
            return (long) READ.invokeExact(callState, fd, buffer, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** lseek(2): the new offset, or -1. */
    public long lseek(int fd, long offset, int whence) {
        try {
            return (long) LSEEK.invokeExact(callState, fd, offset, whence);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Whether the C library has {@code getdents64} (glibc 2.30+). */
    public boolean hasGetdents64() {
        return GETDENTS64 != null;
    }

    /**
     * getdents64(2): directory entries of {@code fd} (struct linux_dirent64) into {@code buffer}; bytes read, 0 at
     * the end, or -1.
     *
     * @throws UnsupportedOperationException when the C library has no getdents64 ({@link #hasGetdents64()})
     */
    public long getdents64(int fd, MemorySegment buffer, long length) {
        if (GETDENTS64 == null) {
            throw new UnsupportedOperationException("the C library has no getdents64");
        }
        try {
            return (long) GETDENTS64.invokeExact(callState, fd, buffer, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Interface index of {@code name} in the calling thread's network namespace, or 0 when there is none. */
    public int ifNameToIndex(String name) {
        try (Arena call = Arena.ofConfined()) { // per call: the C string
            return (int) IF_NAMETOINDEX.invokeExact(callState, call.allocateFrom(name));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Every network interface of the calling thread's network namespace, by index (if_nameindex). Empty if the
     * kernel refused the query.
     */
    public java.util.Map<Integer, String> interfaces() {
        java.util.Map<Integer, String> out = new java.util.TreeMap<>();
        try {
            MemorySegment list = (MemorySegment) IF_NAMEINDEX.invokeExact();
            if (list.equals(MemorySegment.NULL)) {
                return out;
            }
            try {
                MemorySegment entries = list.reinterpret(Long.MAX_VALUE);
                for (long o = 0; ; o += 16) { // struct if_nameindex { unsigned if_index; char *if_name; }
                    int index = entries.get(JAVA_INT, o);
                    if (index == 0) {
                        break;
                    }
                    MemorySegment name = entries.get(ADDRESS, o + 8).reinterpret(64);
                    out.put(index, name.getString(0));
                }
            } finally {
                IF_FREENAMEINDEX.invokeExact(list);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return out;
    }

    /** Pins the calling thread to {@code cpu}. */
    public int pinCurrentThread(int cpu) {
        if (cpu < 0 || cpu >= 1024) {
            throw new IllegalArgumentException("cpu must be 0..1023, was " + cpu);
        }
        try (Arena call = Arena.ofConfined()) { // per call: the CPU mask
            MemorySegment mask = call.allocate(128, 8);
            mask.set(JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
            return (int) SCHED_SETAFFINITY.invokeExact(callState, 0, 128L, mask);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Moves the calling thread into the network namespace at {@code nsPath} (e.g. /run/netns/NAME). Sockets the
     * thread creates afterwards belong to that namespace; sockets created before keep theirs.
     */
    public int setNetworkNamespace(String nsPath) {
        try (Arena call = Arena.ofConfined()) { // per call: the path
            int fd = (int) OPEN.invokeExact(callState, call.allocateFrom(nsPath), O_CLOEXEC /* | O_RDONLY (0) */);
            if (fd < 0) {
                return fd;
            }
            int r = (int) SETNS.invokeExact(callState, fd, CLONE_NEWNET);
            int saved = errno();
            closeFd(fd);
            if (r < 0) {
                callState.set(JAVA_INT, 0, saved);
            }
            return r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** open(2) of {@code path} with {@code flags} (e.g. {@link #O_RDWR} | {@link #O_CLOEXEC}); a file descriptor or -1. */
    public int open(String path, int flags) {
        try (Arena call = Arena.ofConfined()) { // per call: the path
            return (int) OPEN.invokeExact(callState, call.allocateFrom(path), flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private MemorySegment intScratch;

    private MemorySegment scratchInt() {
        if (intScratch == null) {
            intScratch = arena.allocate(JAVA_INT);
        }
        return intScratch;
    }

    /** The C library's text for {@code errno} plus its number, e.g. "Operation not permitted (errno 1)". */
    public static String describe(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0) + " (errno " + errno + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** fcntl(F_DUPFD_CLOEXEC): a second descriptor (the lowest free one) for the open file {@code fd} refers to. */
    public int dupCloexec(int fd) {
        try {
            return (int) FCNTL_INT.invokeExact(callState, fd, F_DUPFD_CLOEXEC, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * getsockopt of an int option: the value, or -1 with errno set (no option read this way is -1 when it works).
     * Its 8 bytes of scratch are per call, freed before it returns: for setup, not for a hot path.
     */
    public int getsockoptInt(int fd, int level, int name) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment value = call.allocate(8);
            value.set(JAVA_INT, 4, 4);
            int r = getsockopt(fd, level, name, value, value.asSlice(4, 4));
            return r < 0 ? -1 : value.get(JAVA_INT, 0);
        }
    }

    /** Network byte order of a 16-bit host value. */
    public static short htons(int v) {
        return Short.reverseBytes((short) v);
    }

    @Override
    public void close() {
        arena.close();
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
}
