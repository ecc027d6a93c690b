package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.packet.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Routes, policy rules and neighbour entries over rtnetlink (what {@code ip route}, {@code ip rule} and
 * {@code ip neigh} do), in the network namespace of the thread that created the instance. Everything maglevd
 * adds carries {@link #PROTOCOL} as its {@code rtm_protocol} / {@code FRA_PROTOCOL} ({@code ip route show proto
 * 77}, {@code ip rule show} prints {@code proto 77}), so that maglevd recognises what it made and never deletes
 * what it did not: every delete names the protocol, and the kernel deletes a route or rule only when it matches.
 *
 * <p>Threading: one instance is used by one thread at a time (its methods are synchronized); it owns its
 * socket and buffers (freed by {@link #close}).
 */
public final class PolicyRouting implements AutoCloseable {
    /** rtm_protocol / FRA_PROTOCOL of every route and rule maglevd adds ('M'; unassigned in rt_protos). */
    public static final int PROTOCOL = 77;

    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;
    private static final int RTM_NEWROUTE = 24;
    private static final int RTM_DELROUTE = 25;
    private static final int RTM_GETROUTE = 26;
    private static final int RTM_NEWNEIGH = 28;
    private static final int RTM_NEWRULE = 32;
    private static final int RTM_DELRULE = 33;
    private static final int RTM_GETRULE = 34;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_ACK = 4;
    private static final int NLM_F_REPLACE = 0x100;
    private static final int NLM_F_EXCL = 0x200;
    private static final int NLM_F_CREATE = 0x400;
    private static final int NLM_F_DUMP = 0x300;
    // route attributes (linux/rtnetlink.h)
    private static final int RTA_DST = 1;
    private static final int RTA_OIF = 4;
    private static final int RTA_GATEWAY = 5;
    private static final int RTA_PRIORITY = 6;
    private static final int RTA_PREFSRC = 7;
    private static final int RTA_TABLE = 15;
    private static final int RTN_UNICAST = 1;
    private static final int RT_SCOPE_UNIVERSE = 0;
    private static final int RTNH_F_ONLINK = 4;
    // rule attributes (linux/fib_rules.h)
    private static final int FRA_PRIORITY = 6;
    private static final int FRA_FWMARK = 10;
    private static final int FRA_TABLE = 15;
    private static final int FRA_FWMASK = 16;
    private static final int FRA_PROTOCOL = 21;
    private static final int FR_ACT_TO_TBL = 1;
    // neighbours (linux/neighbour.h)
    private static final int NDA_DST = 1;
    private static final int NDA_LLADDR = 2;
    private static final int NUD_PERMANENT = 0x80;
    private static final int ENOENT = 2;
    private static final int ESRCH = 3;
    private static final int BUFFER = 1 << 16;

    /** One route of a dump: table, destination/prefix, gateway (or null), interface, metric, protocol. */
    public record Route(int table, InetAddress destination, int prefixLength, InetAddress gateway, int outputInterface,
            long metric, int protocol) {}

    /** One rule of a dump: priority, fwmark and mask (0 if none), table, protocol. */
    public record Rule(int family, int priority, long mark, long mask, int table, int protocol) {}

    private final LinuxNative sys = new LinuxNative();
    private final int fd;
    private final MemorySegment buffer;
    private final MemorySegment request;
    private final MemorySegment pollFd;
    private final MemorySegment kernel;
    private int sequence = 1;

    /** Opens an rtnetlink socket in the calling thread's network namespace. */
    public PolicyRouting() throws IOException {
        fd = sys.socket(LinuxNative.AF_NETLINK, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC,
                LinuxNative.NETLINK_ROUTE);
        if (fd < 0) {
            int errno = sys.errno();
            sys.close();
            throw new IOException("netlink socket: " + LinuxNative.describe(errno));
        }
        // Owned by this instance (its arena), freed by close().
        buffer = sys.allocate(BUFFER);
        request = sys.allocate(1024);
        pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
        kernel = sys.allocate(12);
        kernel.set(JAVA_SHORT, 0, (short) LinuxNative.AF_NETLINK);
    }

    // ---- routes

    /**
     * Adds (or, with {@code replace}, replaces) unicast route {@code destination/prefix} in {@code table} with
     * protocol {@link #PROTOCOL}.
     *
     * @param gateway next hop, or null for an on-link route
     * @param onlink take the gateway as on-link on {@code ifindex} without a route to it
     * @param preferredSource source address for locally generated packets, or null to let the kernel choose
     * @param metric the route's priority; maglevd stores its process id here (see the class comment of the caller)
     */
    public synchronized void addRoute(int table, InetAddress destination, int prefix, InetAddress gateway,
            int ifindex, boolean onlink, InetAddress preferredSource, long metric, boolean replace) throws IOException {
        int family = family(destination);
        int p = begin(RTM_NEWROUTE, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
        request.set(JAVA_BYTE, 16, (byte) family);
        request.set(JAVA_BYTE, 17, (byte) prefix);
        request.set(JAVA_BYTE, 20, (byte) (table < 256 ? table : 252)); // RT_TABLE_COMPAT when it needs RTA_TABLE
        request.set(JAVA_BYTE, 21, (byte) PROTOCOL);
        request.set(JAVA_BYTE, 22, (byte) RT_SCOPE_UNIVERSE);
        request.set(JAVA_BYTE, 23, (byte) RTN_UNICAST);
        request.set(JAVA_INT, 24, onlink ? RTNH_F_ONLINK : 0);
        p += 12;
        p = attr(p, RTA_TABLE, table);
        p = attr(p, RTA_DST, destination.getAddress());
        if (gateway != null) {
            p = attr(p, RTA_GATEWAY, gateway.getAddress());
        }
        p = attr(p, RTA_OIF, ifindex);
        if (preferredSource != null) {
            p = attr(p, RTA_PREFSRC, preferredSource.getAddress());
        }
        p = attr(p, RTA_PRIORITY, (int) metric);
        check(acknowledged(p), "adding route " + destination.getHostAddress() + "/" + prefix + " to table " + table);
    }

    /**
     * Deletes route {@code destination/prefix} of protocol {@link #PROTOCOL} from {@code table}.
     *
     * @return false when there was none (or only routes of another protocol)
     */
    public synchronized boolean deleteRoute(int table, InetAddress destination, int prefix, long metric)
            throws IOException {
        int p = begin(RTM_DELROUTE, 0);
        request.set(JAVA_BYTE, 16, (byte) family(destination));
        request.set(JAVA_BYTE, 17, (byte) prefix);
        request.set(JAVA_BYTE, 20, (byte) (table < 256 ? table : 252));
        request.set(JAVA_BYTE, 21, (byte) PROTOCOL);
        p += 12;
        p = attr(p, RTA_TABLE, table);
        p = attr(p, RTA_DST, destination.getAddress());
        p = attr(p, RTA_PRIORITY, (int) metric);
        int error = acknowledged(p);
        if (error == ESRCH || error == ENOENT) {
            return false;
        }
        check(error, "deleting route " + destination.getHostAddress() + "/" + prefix + " from table " + table);
        return true;
    }

    /** Every route of {@code family} (AF_INET / AF_INET6) in every table. */
    public synchronized List<Route> routes(int family) throws IOException {
        int p = begin(RTM_GETROUTE, NLM_F_DUMP);
        request.set(JAVA_BYTE, 16, (byte) family);
        p += 12;
        List<Route> out = new ArrayList<>();
        dump(p, "route dump", (m, len) -> {
            if (len < 28) {
                return;
            }
            int prefix = buffer.get(JAVA_BYTE, m + 17) & 0xff;
            int table = buffer.get(JAVA_BYTE, m + 20) & 0xff;
            int protocol = buffer.get(JAVA_BYTE, m + 21) & 0xff;
            InetAddress dst = null;
            InetAddress gw = null;
            int oif = 0;
            long metric = 0;
            for (long a = m + 28; a + 4 <= m + len; ) {
                int alen = buffer.get(JAVA_SHORT, a) & 0xffff;
                int type = buffer.get(JAVA_SHORT, a + 2) & 0x3fff;
                if (alen < 4 || a + alen > m + len) {
                    break;
                }
                switch (type) {
                    case RTA_TABLE -> table = alen >= 8 ? buffer.get(JAVA_INT, a + 4) : table;
                    case RTA_DST -> dst = address(a + 4, alen - 4);
                    case RTA_GATEWAY -> gw = address(a + 4, alen - 4);
                    case RTA_OIF -> oif = alen >= 8 ? buffer.get(JAVA_INT, a + 4) : 0;
                    case RTA_PRIORITY -> metric = alen >= 8 ? Integer.toUnsignedLong(buffer.get(JAVA_INT, a + 4)) : 0;
                    default -> { }
                }
                a += align(alen);
            }
            out.add(new Route(table, dst, prefix, gw, oif, metric, protocol));
        });
        return out;
    }

    // ---- rules

    /** Adds rule {@code priority: fwmark mark/0xffffffff lookup table} with protocol {@link #PROTOCOL}. */
    public synchronized void addMarkRule(int family, int priority, int mark, int table) throws IOException {
        int p = ruleMessage(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, family, priority, mark, table);
        check(acknowledged(p), "adding rule 'fwmark 0x" + Integer.toHexString(mark) + " lookup " + table + "'");
    }

    /**
     * Deletes rule {@code priority: fwmark mark/0xffffffff lookup table} if it has protocol {@link #PROTOCOL}.
     *
     * @return false when there was no such rule
     */
    public synchronized boolean deleteMarkRule(int family, int priority, int mark, int table) throws IOException {
        int p = ruleMessage(RTM_DELRULE, 0, family, priority, mark, table);
        int error = acknowledged(p);
        if (error == ENOENT || error == ESRCH) {
            return false;
        }
        check(error, "deleting rule 'fwmark 0x" + Integer.toHexString(mark) + " lookup " + table + "'");
        return true;
    }

    private int ruleMessage(int type, int flags, int family, int priority, int mark, int table) {
        int p = begin(type, flags);
        request.set(JAVA_BYTE, 16, (byte) family);
        request.set(JAVA_BYTE, 20, (byte) (table < 256 ? table : 252));
        request.set(JAVA_BYTE, 23, (byte) FR_ACT_TO_TBL);
        p += 12;
        p = attr(p, FRA_PRIORITY, priority);
        p = attr(p, FRA_FWMARK, mark);
        p = attr(p, FRA_FWMASK, 0xffff_ffff);
        p = attr(p, FRA_TABLE, table);
        p = attr8(p, FRA_PROTOCOL, PROTOCOL);
        return p;
    }

    /** Every policy rule of {@code family}. */
    public synchronized List<Rule> rules(int family) throws IOException {
        int p = begin(RTM_GETRULE, NLM_F_DUMP);
        request.set(JAVA_BYTE, 16, (byte) family);
        p += 12;
        List<Rule> out = new ArrayList<>();
        dump(p, "rule dump", (m, len) -> {
            if (len < 28) {
                return;
            }
            int table = buffer.get(JAVA_BYTE, m + 20) & 0xff;
            int priority = 0;
            long mark = 0;
            long mask = 0;
            int protocol = 0;
            for (long a = m + 28; a + 4 <= m + len; ) {
                int alen = buffer.get(JAVA_SHORT, a) & 0xffff;
                int type = buffer.get(JAVA_SHORT, a + 2) & 0x3fff;
                if (alen < 4 || a + alen > m + len) {
                    break;
                }
                switch (type) {
                    case FRA_TABLE -> table = alen >= 8 ? buffer.get(JAVA_INT, a + 4) : table;
                    case FRA_PRIORITY -> priority = alen >= 8 ? buffer.get(JAVA_INT, a + 4) : 0;
                    case FRA_FWMARK -> mark = alen >= 8 ? Integer.toUnsignedLong(buffer.get(JAVA_INT, a + 4)) : 0;
                    case FRA_FWMASK -> mask = alen >= 8 ? Integer.toUnsignedLong(buffer.get(JAVA_INT, a + 4)) : 0;
                    case FRA_PROTOCOL -> protocol = alen >= 5 ? buffer.get(JAVA_BYTE, a + 4) & 0xff : 0;
                    default -> { }
                }
                a += align(alen);
            }
            out.add(new Rule(family, priority, mark, mask, table, protocol));
        });
        return out;
    }

    // ---- neighbours

    /** Adds or replaces a permanent IPv4 neighbour entry {@code address lladdr mac} on {@code ifindex}. */
    public synchronized void setPermanentNeighbour(int ifindex, InetAddress address, long mac) throws IOException {
        int p = begin(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE);
        request.set(JAVA_BYTE, 16, (byte) family(address));
        request.set(JAVA_INT, 20, ifindex);
        request.set(JAVA_SHORT, 24, (short) NUD_PERMANENT);
        p += 12;
        p = attr(p, NDA_DST, address.getAddress());
        byte[] lladdr = new byte[6];
        for (int i = 0; i < 6; i++) {
            lladdr[i] = (byte) (mac >>> (40 - 8 * i));
        }
        p = attr(p, NDA_LLADDR, lladdr);
        check(acknowledged(p), "adding neighbour " + address.getHostAddress());
    }

    // ---- plumbing

    private interface Visitor {
        void message(long offset, int length) throws IOException;
    }

    /** Zeroes the request and writes its nlmsghdr; returns the offset of the family header (16). */
    private int begin(int type, int flags) {
        request.fill((byte) 0);
        request.set(JAVA_SHORT, 4, (short) type);
        request.set(JAVA_SHORT, 6, (short) (NLM_F_REQUEST | flags | ((flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK)));
        request.set(JAVA_INT, 8, sequence++);
        return 16;
    }

    private int attr(int p, int type, int value) {
        request.set(JAVA_SHORT, p, (short) 8);
        request.set(JAVA_SHORT, p + 2, (short) type);
        request.set(JAVA_INT, p + 4, value);
        return p + 8;
    }

    private int attr8(int p, int type, int value) {
        request.set(JAVA_SHORT, p, (short) 5);
        request.set(JAVA_SHORT, p + 2, (short) type);
        request.set(JAVA_BYTE, p + 4, (byte) value);
        return p + 8;
    }

    private int attr(int p, int type, byte[] value) {
        request.set(JAVA_SHORT, p, (short) (4 + value.length));
        request.set(JAVA_SHORT, p + 2, (short) type);
        MemorySegment.copy(MemorySegment.ofArray(value), 0, request, p + 4, value.length);
        return p + (int) align(4 + value.length);
    }

    /** Sends the request of {@code length} bytes; returns 0 or the kernel's errno. */
    private int acknowledged(int length) throws IOException {
        int seq = request.get(JAVA_INT, 8);
        send(length);
        while (true) {
            int n = receive();
            for (long p = 0; p + 16 <= n; ) {
                int len = buffer.get(JAVA_INT, p);
                int type = buffer.get(JAVA_SHORT, p + 4) & 0xffff;
                if (len < 16 || p + len > n) {
                    throw new IOException("netlink: malformed acknowledgement");
                }
                if (type == NLMSG_ERROR && len >= 20 && buffer.get(JAVA_INT, p + 8) == seq) {
                    return -buffer.get(JAVA_INT, p + 16);
                }
                p += align(len);
            }
        }
    }

    private void dump(int length, String what, Visitor visitor) throws IOException {
        send(length);
        while (true) {
            int n = receive();
            for (long p = 0; p + 16 <= n; ) {
                int len = buffer.get(JAVA_INT, p);
                int type = buffer.get(JAVA_SHORT, p + 4) & 0xffff;
                if (len < 16 || p + len > n) {
                    throw new IOException("netlink: malformed " + what);
                }
                if (type == NLMSG_DONE) {
                    return;
                }
                if (type == NLMSG_ERROR) {
                    int error = len >= 20 ? -buffer.get(JAVA_INT, p + 16) : 0;
                    if (error == 0) {
                        return;
                    }
                    throw new IOException("netlink " + what + ": " + LinuxNative.describe(error));
                }
                visitor.message(p, len);
                p += align(len);
            }
        }
    }

    private void send(int length) throws IOException {
        request.set(JAVA_INT, 0, length);
        if (sys.sendto(fd, request, length, 0, kernel, 12) < 0) {
            throw new IOException("netlink send: " + LinuxNative.describe(sys.errno()));
        }
    }

    private int receive() throws IOException {
        if (sys.poll(pollFd, 1, 2000) <= 0) {
            throw new IOException("netlink: no answer from the kernel within 2 s");
        }
        long n = sys.recv(fd, buffer, BUFFER, 0);
        if (n < 0) {
            throw new IOException("netlink receive: " + LinuxNative.describe(sys.errno()));
        }
        return (int) n;
    }

    private InetAddress address(long offset, int length) throws IOException {
        try {
            return InetAddress.getByAddress(buffer.asSlice(offset, length).toArray(JAVA_BYTE));
        } catch (UnknownHostException e) {
            throw new IOException("netlink: bad address attribute of " + length + " bytes", e);
        }
    }

    private static void check(int error, String what) throws IOException {
        if (error != 0) {
            throw new IOException(what + ": " + LinuxNative.describe(error));
        }
    }

    private static int family(InetAddress a) {
        return a instanceof Inet4Address ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
    }

    private static long align(int length) {
        return (length + 3L) & ~3L;
    }

    @Override
    public synchronized void close() {
        sys.closeFd(fd);
        sys.close();
    }
}
