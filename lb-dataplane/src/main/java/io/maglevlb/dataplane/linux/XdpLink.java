package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * Attaching an XDP program to an interface, detaching it, and asking which program an interface carries, over
 * rtnetlink ({@code RTM_SETLINK} / {@code RTM_GETLINK} with the nested {@code IFLA_XDP} attribute): what
 * {@code ip link set dev IF xdp ...} does. Control side only; one instance per thread at a time.
 */
public final class XdpLink implements AutoCloseable {
    private static final int HDR = NetlinkSocket.NLMSG_HEADER;
    private static final int RTM_NEWLINK = 16;
    private static final int RTM_GETLINK = 18;
    private static final int RTM_SETLINK = 19;
    private static final int IFINFOMSG = 16;
    private static final int IFLA_XDP = 43;
    private static final int NLA_F_NESTED = 0x8000;
    private static final int IFLA_XDP_FD = 1;
    private static final int IFLA_XDP_ATTACHED = 2;
    private static final int IFLA_XDP_FLAGS = 3;
    private static final int IFLA_XDP_PROG_ID = 4;
    private static final int IFLA_XDP_EXPECTED_FD = 8;

    /** Fail if the interface already has a program (XDP_FLAGS_UPDATE_IF_NOEXIST). */
    public static final int FLAG_IF_NOEXIST = 1;
    /** Generic (skb) mode: works on every interface, after the kernel built an skb. */
    public static final int FLAG_SKB_MODE = 2;
    /** Native (driver) mode: the driver runs the program before it allocates anything. */
    public static final int FLAG_DRV_MODE = 4;
    /** Replace only the program given as expected (XDP_FLAGS_REPLACE, with IFLA_XDP_EXPECTED_FD). */
    public static final int FLAG_REPLACE = 16;

    /** IFLA_XDP_ATTACHED values. */
    public static final int ATTACHED_NONE = 0;
    public static final int ATTACHED_DRV = 1;
    public static final int ATTACHED_SKB = 2;

    /** What an interface carries: the attach mode ({@code ATTACHED_*}) and the program's id (0: none). */
    public record Attached(int mode, int programId) {}

    private final NetlinkSocket socket;

    private XdpLink(NetlinkSocket socket) {
        this.socket = socket;
    }

    public static XdpLink open() throws NetlinkException {
        return new XdpLink(NetlinkSocket.open());
    }

    /**
     * Sets {@code progFd} (-1: detach) on {@code ifindex} with {@code flags}; when {@code expectedFd >= 0}, only if
     * the interface carries exactly that program now ({@link #FLAG_REPLACE} is added). Returns 0 or the errno.
     */
    public int set(int ifindex, int progFd, int flags, int expectedFd) throws NetlinkException {
        socket.begin(RTM_SETLINK, NetlinkSocket.NLM_F_REQUEST | NetlinkSocket.NLM_F_ACK, HDR + IFINFOMSG);
        MemorySegment m = socket.request();
        m.set(JAVA_BYTE, HDR, (byte) 0); // AF_UNSPEC
        m.set(JAVA_INT, HDR + 4, ifindex);
        int nest = HDR + IFINFOMSG;
        int p = nest + 4;
        p = NetlinkSocket.attributeInt(m, p, IFLA_XDP_FD, progFd);
        int f = flags | (expectedFd >= 0 ? FLAG_REPLACE : 0);
        if (f != 0) {
            p = NetlinkSocket.attributeInt(m, p, IFLA_XDP_FLAGS, f);
        }
        if (expectedFd >= 0) {
            p = NetlinkSocket.attributeInt(m, p, IFLA_XDP_EXPECTED_FD, expectedFd);
        }
        m.set(JAVA_SHORT, nest, (short) (p - nest));
        m.set(JAVA_SHORT, nest + 2, (short) (IFLA_XDP | NLA_F_NESTED));
        return socket.acknowledged(p);
    }

    /** The XDP program on {@code ifindex} now (the kernel's IFLA_XDP attribute of the link). */
    public Attached query(int ifindex) throws NetlinkException {
        socket.begin(RTM_GETLINK, NetlinkSocket.NLM_F_REQUEST, HDR + IFINFOMSG);
        MemorySegment m = socket.request();
        m.set(JAVA_INT, HDR + 4, ifindex);
        int seq = m.get(JAVA_INT, 8);
        socket.send(HDR + IFINFOMSG);
        MemorySegment reply = socket.reply();
        int[] found = {ATTACHED_NONE, 0};
        socket.readReplies("link query", (p, len, type) -> {
            if (reply.get(JAVA_INT, p + 8) != seq) {
                return false;
            }
            if (type == NetlinkSocket.NLMSG_ERROR) {
                int errno = socket.errno(p);
                throw new NetlinkException("link query of interface " + ifindex + ": " + LinuxNative.describe(errno),
                        errno);
            }
            if (type == RTM_NEWLINK) {
                socket.attributes(p + HDR + IFINFOMSG, p + len, (atype, payload, alen) -> {
                    if (atype == IFLA_XDP) {
                        socket.attributes(payload, payload + alen, (xtype, xpayload, xlen) -> {
                            if (xtype == IFLA_XDP_ATTACHED && xlen >= 1) {
                                found[0] = reply.get(JAVA_BYTE, xpayload) & 0xff;
                            } else if (xtype == IFLA_XDP_PROG_ID && xlen >= 4) {
                                found[1] = reply.get(JAVA_INT, xpayload);
                            }
                        });
                    }
                });
                return true;
            }
            return false;
        });
        return new Attached(found[0], found[1]);
    }

    @Override
    public void close() {
        socket.close();
    }
}
