package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Adds, deletes and lists policy routing rules {@code fwmark M lookup T} over rtnetlink (what {@code ip rule}
 * does), and sets permanent neighbour entries ({@code ip neigh replace ... nud permanent}), in the network
 * namespace of the thread that opened it.
 *
 * <p>Ownership: rules carry a protocol tag (FRA_PROTOCOL, Linux 4.17+) like routes; {@link #deleteMarkRule} names
 * the tag, so the kernel deletes only a rule that has it.
 *
 * <p>Threading: one thread at a time (it owns one {@link NetlinkSocket}); control side only.
 */
public final class Rules implements AutoCloseable {
    private static final int RTM_NEWNEIGH = 28;
    private static final int RTM_NEWRULE = 32;
    private static final int RTM_DELRULE = 33;
    private static final int RTM_GETRULE = 34;
    private static final int NLM_F_REPLACE = 0x100;
    private static final int HEADER = 12; // struct fib_rule_hdr, struct ndmsg
    private static final int FRA_PRIORITY = 6;
    private static final int FRA_FWMARK = 10;
    private static final int FRA_TABLE = 15;
    private static final int FRA_FWMASK = 16;
    private static final int FRA_PROTOCOL = 21;
    private static final int FR_ACT_TO_TBL = 1;
    private static final int RT_TABLE_COMPAT = 252;
    private static final int NDA_DST = 1;
    private static final int NDA_LLADDR = 2;
    private static final int NUD_PERMANENT = 0x80;

    private final NetlinkSocket socket;

    private Rules(NetlinkSocket socket) {
        this.socket = socket;
    }

    /** Opens a socket in the calling thread's network namespace. */
    public static Rules open() throws NetlinkException {
        return new Rules(NetlinkSocket.open());
    }

    /** Adds {@code priority: fwmark mark/0xffffffff lookup table proto protocol}; EEXIST when it is there. */
    public void addMarkRule(int family, int priority, int mark, int table, int protocol) throws NetlinkException {
        int length = markRule(RTM_NEWRULE, NetlinkSocket.NLM_F_CREATE | NetlinkSocket.NLM_F_EXCL, family, priority,
                mark, table, protocol);
        int error = socket.acknowledged(length);
        if (error != 0) {
            throw new NetlinkException("adding rule '" + priority + ": fwmark 0x" + Integer.toHexString(mark)
                    + " lookup " + Integer.toUnsignedString(table) + "': " + LinuxNative.describe(error), error);
        }
    }

    /** Deletes that rule if it carries {@code protocol}; false when there is none. */
    public boolean deleteMarkRule(int family, int priority, int mark, int table, int protocol)
            throws NetlinkException {
        int length = markRule(RTM_DELRULE, 0, family, priority, mark, table, protocol);
        int error = socket.acknowledged(length);
        if (error == LinuxNative.ENOENT || error == LinuxNative.ESRCH) {
            return false;
        }
        if (error != 0) {
            throw new NetlinkException("deleting rule 'fwmark 0x" + Integer.toHexString(mark) + " lookup "
                    + Integer.toUnsignedString(table) + "': " + LinuxNative.describe(error), error);
        }
        return true;
    }

    private int markRule(int type, int flags, int family, int priority, int mark, int table, int protocol) {
        socket.begin(type, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_ACK | flags, 0);
        MemorySegment m = socket.request();
        int h = NetlinkSocket.NLMSG_HEADER;
        m.set(JAVA_BYTE, h, (byte) family);
        m.set(JAVA_BYTE, h + 4, (byte) (Integer.compareUnsigned(table, 256) < 0 ? table : RT_TABLE_COMPAT));
        m.set(JAVA_BYTE, h + 7, (byte) FR_ACT_TO_TBL);
        int p = h + HEADER;
        p = NetlinkSocket.attributeInt(m, p, FRA_PRIORITY, priority);
        p = NetlinkSocket.attributeInt(m, p, FRA_FWMARK, mark);
        p = NetlinkSocket.attributeInt(m, p, FRA_FWMASK, 0xffff_ffff);
        p = NetlinkSocket.attributeInt(m, p, FRA_TABLE, table);
        return NetlinkSocket.attribute(m, p, FRA_PROTOCOL, new byte[] {(byte) protocol});
    }

    /** Every rule of {@code family}, whoever added it. */
    public List<Rule> dump(int family) throws NetlinkException {
        socket.begin(RTM_GETRULE, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_DUMP, 0);
        socket.request().set(JAVA_BYTE, NetlinkSocket.NLMSG_HEADER, (byte) family);
        socket.send(NetlinkSocket.NLMSG_HEADER + HEADER);
        List<Rule> out = new ArrayList<>();
        MemorySegment r = socket.reply();
        socket.readDump("rule dump", false, (p, len, type) -> {
            if (type != RTM_NEWRULE || len < NetlinkSocket.NLMSG_HEADER + HEADER) {
                return;
            }
            long m = p + NetlinkSocket.NLMSG_HEADER;
            long[] v = {0, 0, 0, r.get(JAVA_BYTE, m + 4) & 0xff, 0}; // priority, mark, mask, table, protocol
            socket.attributes(m + HEADER, p + len, (atype, payload, alen) -> {
                switch (atype) {
                    case FRA_PRIORITY -> v[0] = alen >= 4 ? Integer.toUnsignedLong(r.get(JAVA_INT, payload)) : 0;
                    case FRA_FWMARK -> v[1] = alen >= 4 ? Integer.toUnsignedLong(r.get(JAVA_INT, payload)) : 0;
                    case FRA_FWMASK -> v[2] = alen >= 4 ? Integer.toUnsignedLong(r.get(JAVA_INT, payload)) : 0;
                    case FRA_TABLE -> v[3] = alen >= 4 ? Integer.toUnsignedLong(r.get(JAVA_INT, payload)) : v[3];
                    case FRA_PROTOCOL -> v[4] = alen >= 1 ? r.get(JAVA_BYTE, payload) & 0xff : 0;
                    default -> { }
                }
            });
            out.add(new Rule(family, (int) v[0], v[1], v[1] != 0 && v[2] == 0 ? 0xffff_ffffL : v[2], v[3],
                    (int) v[4]));
        });
        return out;
    }

    /** Adds or replaces the permanent neighbour entry {@code address lladdr mac} on interface {@code ifindex}. */
    public void setPermanentNeighbour(int ifindex, java.net.InetAddress address, long mac) throws NetlinkException {
        socket.begin(RTM_NEWNEIGH, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_ACK
                | NetlinkSocket.NLM_F_CREATE | NLM_F_REPLACE, 0);
        MemorySegment m = socket.request();
        int h = NetlinkSocket.NLMSG_HEADER;
        m.set(JAVA_BYTE, h, (byte) (address.getAddress().length == 4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6));
        m.set(JAVA_INT, h + 4, ifindex);
        m.set(java.lang.foreign.ValueLayout.JAVA_SHORT, h + 8, (short) NUD_PERMANENT);
        int p = NetlinkSocket.attribute(m, h + HEADER, NDA_DST, address.getAddress());
        byte[] lladdr = new byte[6];
        for (int i = 0; i < 6; i++) {
            lladdr[i] = (byte) (mac >>> (40 - 8 * i));
        }
        p = NetlinkSocket.attribute(m, p, NDA_LLADDR, lladdr);
        int error = socket.acknowledged(p);
        if (error != 0) {
            throw new NetlinkException("adding neighbour " + address.getHostAddress() + ": "
                    + LinuxNative.describe(error), error);
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
