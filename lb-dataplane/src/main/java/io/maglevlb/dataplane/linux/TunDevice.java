package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * A non-persistent TUN device owned by this process: it exists while {@link #open} 's file descriptor is open,
 * so the kernel removes it, and every route through it, when the process exits for any reason (SIGKILL and
 * crashes included) or when {@link #close()} is called. maglevd points its announced VIP routes at one
 * ({@code announce.device}); nothing reads or writes packets on it.
 *
 * <p>Created with {@code IFF_TUN | IFF_NO_PI} through the {@code TUNSETIFF} ioctl and set up with
 * {@code RTM_NEWLINK}. A device of the same name that exists already is refused rather than attached to: a
 * persistent TUN device of that name would survive this process, and with it the routes.
 *
 * <p>Ownership: this object owns the descriptor and its {@link LinuxNative} (whose arena holds the ifreq) from
 * {@link #open} until {@link #close()}; one thread at a time.
 */
public final class TunDevice implements AutoCloseable {
    private static final long TUNSETIFF = 0x400454caL;
    private static final short IFF_TUN = 0x0001;
    private static final short IFF_NO_PI = 0x1000;
    private static final int IFF_UP = 0x1;
    private static final int RTM_NEWLINK = 16;
    private static final int IFINFOMSG = 16;

    private final LinuxNative sys;
    private final int fd;
    private final String name;
    private final int index;
    private boolean closed;

    private TunDevice(LinuxNative sys, int fd, String name, int index) {
        this.sys = sys;
        this.fd = fd;
        this.name = name;
        this.index = index;
    }

    /**
     * Creates TUN device {@code name} in the calling thread's network namespace and sets it up.
     *
     * @throws NetlinkException with a message saying what failed; errno {@link LinuxNative#EPERM} without
     *     CAP_NET_ADMIN, {@link LinuxNative#EEXIST} when a device of that name exists
     */
    public static TunDevice open(String name) throws NetlinkException {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length == 0 || nameBytes.length >= LinuxNative.IFNAMSIZ) {
            throw new NetlinkException("device name '" + name + "' must be 1 to " + (LinuxNative.IFNAMSIZ - 1)
                    + " characters", LinuxNative.EINVAL);
        }
        LinuxNative sys = new LinuxNative();
        int fd = -1;
        try {
            if (sys.ifNameToIndex(name) != 0) {
                throw new NetlinkException("a network device named " + name + " exists already (another maglevd, or "
                        + "a device someone else made?); maglevd creates its own and removes it when it exits",
                        LinuxNative.EEXIST);
            }
            fd = sys.open("/dev/net/tun", LinuxNative.O_RDWR | LinuxNative.O_CLOEXEC);
            if (fd < 0) {
                int errno = sys.errno();
                throw new NetlinkException("cannot open /dev/net/tun: " + LinuxNative.describe(errno), errno);
            }
            MemorySegment ifreq = sys.allocate(LinuxNative.IFREQ_SIZE); // freed with sys, at close()
            MemorySegment.copy(MemorySegment.ofArray(nameBytes), 0, ifreq, 0, nameBytes.length);
            ifreq.set(JAVA_BYTE, nameBytes.length, (byte) 0);
            ifreq.set(JAVA_SHORT, LinuxNative.IFNAMSIZ, (short) (IFF_TUN | IFF_NO_PI));
            if (sys.ioctl(fd, TUNSETIFF, ifreq) < 0) {
                int errno = sys.errno();
                throw new NetlinkException("cannot create TUN device " + name + ": " + LinuxNative.describe(errno)
                        + (errno == LinuxNative.EPERM ? " (needs CAP_NET_ADMIN)" : ""), errno);
            }
            int index = sys.ifNameToIndex(name);
            if (index == 0) {
                throw new NetlinkException("TUN device " + name + " has no interface index after creation");
            }
            setUp(index, name);
            return new TunDevice(sys, fd, name, index);
        } catch (NetlinkException | RuntimeException e) {
            if (fd >= 0) {
                sys.closeFd(fd); // the kernel removes the half-made device
            }
            sys.close();
            throw e;
        }
    }

    /** RTM_NEWLINK on {@code index}: flags IFF_UP, change mask IFF_UP (what {@code ip link set NAME up} sends). */
    private static void setUp(int index, String name) throws NetlinkException {
        try (NetlinkSocket socket = NetlinkSocket.open()) {
            socket.begin(RTM_NEWLINK, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_ACK, 0);
            MemorySegment m = socket.request();
            int h = NetlinkSocket.NLMSG_HEADER;
            m.set(JAVA_BYTE, h, (byte) 0); // AF_UNSPEC
            m.set(JAVA_INT, h + 4, index);
            m.set(JAVA_INT, h + 8, IFF_UP);
            m.set(JAVA_INT, h + 12, IFF_UP);
            int error = socket.acknowledged(h + IFINFOMSG);
            if (error != 0) {
                throw new NetlinkException("cannot set " + name + " up: " + LinuxNative.describe(error), error);
            }
        }
    }

    public String name() {
        return name;
    }

    /** The device's interface index (what routes name as their output interface). */
    public int index() {
        return index;
    }

    /** Closes the descriptor: the kernel removes the device and every route through it. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        sys.closeFd(fd);
        sys.close();
    }
}
