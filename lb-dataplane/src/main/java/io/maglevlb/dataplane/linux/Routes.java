package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Adds, deletes and lists unicast IPv4 and IPv6 routes in any kernel routing table over rtnetlink (what
 * {@code ip route add|del|show table N} do), in the network namespace of the thread that opened it.
 *
 * <p>Ownership: every route carries a protocol tag (rtm_protocol). maglevd tags its routes with
 * {@link #PROTOCOL_MAGLEVD}; {@link #delete} passes the route's tag to the kernel, which then matches only a route
 * with that tag (IPv4 and IPv6 alike), so a delete of ours can never remove a route someone else installed for
 * the same prefix. {@link #add} never replaces: a route of the same key already in the table is
 * {@link LinuxNative#EEXIST}.
 *
 * <p>Threading: one thread at a time (it owns one {@link NetlinkSocket}); control side only.
 */
public final class Routes implements AutoCloseable {
    /**
     * The rtm_protocol value of maglevd's routes ({@code ip route show proto 77}; name it by adding
     * {@code 77 maglevd} to {@code /etc/iproute2/rt_protos.d/maglevd.conf}). Unassigned in iproute2's list.
     */
    public static final int PROTOCOL_MAGLEVD = 77;

    private static final int RTM_NEWROUTE = 24;
    private static final int RTM_DELROUTE = 25;
    private static final int RTM_GETROUTE = 26;
    private static final int RTMSG = 12;
    private static final int RTA_DST = 1;
    private static final int RTA_OIF = 4;
    private static final int RTA_GATEWAY = 5;
    private static final int RTA_PRIORITY = 6;
    private static final int RTA_PREFSRC = 7;
    private static final int RTNH_F_ONLINK = 4;
    private static final int RTA_TABLE = 15;
    private static final int RT_TABLE_COMPAT = 252;
    private static final int RT_SCOPE_UNIVERSE = 0;
    private static final int RT_SCOPE_LINK = 253;
    private static final int RT_SCOPE_NOWHERE = 255;
    private static final int RTN_UNICAST = 1;

    private final NetlinkSocket socket;
    private final boolean strict;

    private Routes(NetlinkSocket socket) {
        this.socket = socket;
        this.strict = socket.strictDumps();
    }

    /** Opens a route socket in the calling thread's network namespace. */
    public static Routes open() throws NetlinkException {
        return new Routes(NetlinkSocket.open());
    }

    /**
     * Adds {@code route}; never replaces one that is there. Throws with errno {@link LinuxNative#EEXIST} when the
     * table holds a route of the same destination already (whoever owns it), {@link LinuxNative#EPERM} without
     * CAP_NET_ADMIN, {@link LinuxNative#ENODEV} when the interface is gone.
     */
    public void add(Route route) throws NetlinkException {
        int length = message(RTM_NEWROUTE, NetlinkSocket.NLM_F_CREATE | NetlinkSocket.NLM_F_EXCL, route,
                route.gateway() == null && route.outputInterface() != 0 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
        int error = socket.acknowledged(length);
        if (error != 0) {
            throw new NetlinkException("adding route " + route + ": " + LinuxNative.describe(error), error);
        }
    }

    /**
     * Deletes the route of {@code route}'s destination, table, interface and protocol tag. Returns false when
     * there is none (a route of the same destination with another tag is left alone).
     */
    public boolean delete(Route route) throws NetlinkException {
        int length = message(RTM_DELROUTE, 0, route, RT_SCOPE_NOWHERE);
        int error = socket.acknowledged(length);
        if (error == LinuxNative.ESRCH || error == LinuxNative.ENOENT) {
            return false;
        }
        if (error != 0) {
            throw new NetlinkException("deleting route " + route + ": " + LinuxNative.describe(error), error);
        }
        return true;
    }

    /**
     * Every unicast route of {@code family} (AF_INET / AF_INET6) in every table, whoever installed it, with its
     * metric, preferred source and onlink flag ({@link #dump(int, int)} leaves those out).
     */
    public List<Route> dumpAll(int family) throws NetlinkException {
        socket.begin(RTM_GETROUTE, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_DUMP, 0);
        socket.request().set(JAVA_BYTE, NetlinkSocket.NLMSG_HEADER, (byte) family);
        socket.send(NetlinkSocket.NLMSG_HEADER + RTMSG);
        List<Route> out = new ArrayList<>();
        readRoutes(family, ALL_TABLES, true, out, socket.reply());
        return out;
    }

    /** Every unicast route of {@code family} (AF_INET / AF_INET6) in {@code table}, whoever installed it. */
    public List<Route> dump(int family, int table) throws NetlinkException {
        socket.begin(RTM_GETROUTE, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_DUMP, 0);
        MemorySegment q = socket.request();
        q.set(JAVA_BYTE, NetlinkSocket.NLMSG_HEADER, (byte) family);
        int length = NetlinkSocket.NLMSG_HEADER + RTMSG;
        if (strict) {
            // the kernel dumps this table only (a router's full table in main is not walked); filtered below anyway
            q.set(JAVA_BYTE, NetlinkSocket.NLMSG_HEADER + 4, (byte) (table < 256 ? table : RT_TABLE_COMPAT));
            length = NetlinkSocket.attributeInt(q, length, RTA_TABLE, table);
        }
        socket.send(length);
        List<Route> out = new ArrayList<>();
        MemorySegment r = socket.reply();
        try {
            readRoutes(family, table, false, out, r);
        } catch (NetlinkException e) {
            if (strict && e.errno() == LinuxNative.ENOENT) {
                return out; // "FIB table does not exist": a table is made by its first route
            }
            throw e;
        }
        return out;
    }

    private static final int ALL_TABLES = -1;

    private void readRoutes(int family, int table, boolean details, List<Route> out, MemorySegment r)
            throws NetlinkException {
        socket.readDump("route dump", false, (p, len, type) -> {
            if (type != RTM_NEWROUTE || len < NetlinkSocket.NLMSG_HEADER + RTMSG) {
                return;
            }
            long m = p + NetlinkSocket.NLMSG_HEADER;
            int msgFamily = r.get(JAVA_BYTE, m) & 0xff;
            int dstLength = r.get(JAVA_BYTE, m + 1) & 0xff;
            int[] tableOf = {r.get(JAVA_BYTE, m + 4) & 0xff};
            int protocol = r.get(JAVA_BYTE, m + 5) & 0xff;
            int routeType = r.get(JAVA_BYTE, m + 7) & 0xff;
            if (msgFamily != family || routeType != RTN_UNICAST) {
                return;
            }
            byte[][] dst = {null};
            byte[][] gateway = {null};
            byte[][] source = {null};
            long[] metric = {0};
            int[] oif = {0};
            boolean onlink = (r.get(JAVA_INT, m + 8) & RTNH_F_ONLINK) != 0;
            socket.attributes(m + RTMSG, p + len, (atype, payload, alen) -> {
                switch (atype) {
                    case RTA_DST -> dst[0] = r.asSlice(payload, alen).toArray(JAVA_BYTE);
                    case RTA_GATEWAY -> gateway[0] = r.asSlice(payload, alen).toArray(JAVA_BYTE);
                    case RTA_OIF -> oif[0] = alen >= 4 ? r.get(JAVA_INT, payload) : 0;
                    case RTA_TABLE -> tableOf[0] = alen >= 4 ? r.get(JAVA_INT, payload) : tableOf[0];
                    case RTA_PRIORITY -> metric[0] = alen >= 4 ? Integer.toUnsignedLong(r.get(JAVA_INT, payload)) : 0;
                    case RTA_PREFSRC -> source[0] = r.asSlice(payload, alen).toArray(JAVA_BYTE);
                    default -> { }
                }
            });
            if (table != ALL_TABLES && tableOf[0] != table) {
                return;
            }
            byte[] destination = dst[0] != null ? dst[0] : new byte[family == LinuxNative.AF_INET ? 4 : 16];
            if (tableOf[0] <= 0) {
                return;
            }
            InetAddress via = gateway[0] == null ? null : address(gateway[0]);
            out.add(details
                    ? new Route(address(destination), dstLength, tableOf[0], oif[0], via, protocol, metric[0],
                            source[0] == null ? null : address(source[0]), onlink)
                    : new Route(address(destination), dstLength, tableOf[0], oif[0], via, protocol));
        });
    }

    /** Whether dumps are filtered by the kernel (NETLINK_GET_STRICT_CHK accepted). */
    boolean kernelFiltersDumps() {
        return strict;
    }

    /** The routes of both families in {@code table}, whoever installed them. */
    public List<Route> dump(int table) throws NetlinkException {
        List<Route> out = new ArrayList<>(dump(LinuxNative.AF_INET, table));
        out.addAll(dump(LinuxNative.AF_INET6, table));
        return out;
    }

    /** struct nlmsghdr + struct rtmsg + RTA_TABLE, RTA_DST, RTA_OIF, RTA_GATEWAY; returns the length. */
    private int message(int type, int flags, Route route, int scope) {
        socket.begin(type, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_ACK | flags, 0);
        MemorySegment m = socket.request();
        int h = NetlinkSocket.NLMSG_HEADER;
        m.set(JAVA_BYTE, h, (byte) route.family());
        m.set(JAVA_BYTE, h + 1, (byte) route.prefixLength());
        m.set(JAVA_BYTE, h + 4, (byte) (route.table() < 256 ? route.table() : RT_TABLE_COMPAT));
        m.set(JAVA_BYTE, h + 5, (byte) route.protocol());
        m.set(JAVA_BYTE, h + 6, (byte) scope);
        m.set(JAVA_BYTE, h + 7, (byte) RTN_UNICAST);
        if (route.onlink()) {
            m.set(JAVA_INT, h + 8, RTNH_F_ONLINK);
        }
        int p = h + RTMSG;
        p = NetlinkSocket.attributeInt(m, p, RTA_TABLE, route.table());
        p = NetlinkSocket.attribute(m, p, RTA_DST, route.destination().getAddress());
        if (route.outputInterface() != 0) {
            p = NetlinkSocket.attributeInt(m, p, RTA_OIF, route.outputInterface());
        }
        if (route.gateway() != null) {
            p = NetlinkSocket.attribute(m, p, RTA_GATEWAY, route.gateway().getAddress());
        }
        if (route.metric() != 0) {
            p = NetlinkSocket.attributeInt(m, p, RTA_PRIORITY, (int) route.metric());
        }
        if (route.preferredSource() != null && type == RTM_NEWROUTE) {
            p = NetlinkSocket.attribute(m, p, RTA_PREFSRC, route.preferredSource().getAddress());
        }
        return p;
    }

    private static InetAddress address(byte[] bytes) throws NetlinkException {
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new NetlinkException("netlink: address attribute of " + bytes.length + " bytes");
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
