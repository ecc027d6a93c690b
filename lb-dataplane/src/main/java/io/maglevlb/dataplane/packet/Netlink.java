package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.NetlinkException;
import io.maglevlb.dataplane.linux.NetlinkSocket;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Route and neighbour queries (the same information as {@code ip route get} and {@code ip neigh}) and the
 * ingress tc filters of the packet engine, over an rtnetlink socket ({@link NetlinkSocket}, which does the
 * framing), for the engine's control side: never on a forwarding thread. Works for IPv4 and IPv6 in the calling
 * process's network namespace.
 */
final class Netlink implements AutoCloseable {
    private static final int HDR = NetlinkSocket.NLMSG_HEADER;
    private static final int NLM_F_REQUEST = NetlinkSocket.NLM_F_REQUEST;
    private static final int NLM_F_ACK = NetlinkSocket.NLM_F_ACK;
    private static final int NLM_F_EXCL = NetlinkSocket.NLM_F_EXCL;
    private static final int NLM_F_CREATE = NetlinkSocket.NLM_F_CREATE;
    private static final int NLM_F_DUMP = NetlinkSocket.NLM_F_DUMP;
    private static final int RTM_NEWROUTE = 24;
    private static final int RTM_GETROUTE = 26;
    private static final int RTM_NEWNEIGH = 28;
    private static final int RTM_GETNEIGH = 30;
    private static final int RTM_NEWQDISC = 36;
    private static final int RTM_NEWTFILTER = 44;
    private static final int RTM_DELTFILTER = 45;
    private static final int RTM_GETTFILTER = 46;
    private static final int RTA_OIF = 4;
    private static final int RTA_GATEWAY = 5;
    private static final int NDA_DST = 1;
    private static final int NDA_LLADDR = 2;
    static final int NUD_INCOMPLETE = 0x01;
    static final int NUD_FAILED = 0x20;
    // traffic control (linux/pkt_sched.h, linux/rtnetlink.h, linux/pkt_cls.h)
    private static final int TC_H_CLSACT = 0xffff_fff1;
    /** The clsact (or ingress) qdisc's ingress hook, as a filter's parent. */
    private static final int TC_H_INGRESS_HOOK = 0xffff_fff2;
    private static final int TCA_KIND = 1;
    private static final int TCA_OPTIONS = 2;
    private static final int TCA_BPF_OPS_LEN = 4;
    private static final int TCA_BPF_OPS = 5;
    private static final int TCA_BPF_CLASSID = 3;
    private static final int TCA_BPF_FLAGS = 8;
    private static final int TCA_BPF_FLAG_ACT_DIRECT = 1;
    private static final int ETH_P_ALL_NETWORK_ORDER = 0x0300;

    /** One neighbour entry: IP address bytes, Ethernet address (low 48 bits), NUD state, interface. */
    record Neighbour(byte[] address, long mac, int state, int ifindex) {
        boolean usable() {
            return mac != 0 && (state & (NUD_INCOMPLETE | NUD_FAILED)) == 0;
        }
    }

    /** The route to a destination: the gateway (null when on-link) and the outgoing interface index. */
    record Route(InetAddress gateway, int outputInterface) {}

    private final NetlinkSocket socket;
    private final MemorySegment request;
    private final MemorySegment buffer;

    Netlink() throws PacketEngineException {
        try {
            socket = NetlinkSocket.open();
        } catch (NetlinkException e) {
            throw new PacketEngineException(e.getMessage(), e);
        }
        request = socket.request();
        buffer = socket.reply();
    }

    /** All neighbour entries of {@code family} (AF_INET / AF_INET6) on interface {@code ifindex}. */
    List<Neighbour> neighbours(int family, int ifindex) throws PacketEngineException {
        List<Neighbour> out = new ArrayList<>();
        try {
            socket.begin(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, HDR + 12);
            request.set(JAVA_BYTE, HDR, (byte) family);
            socket.send(HDR + 12);
            socket.readDump("neighbour dump", false, (p, len, type) -> {
                if (type == RTM_NEWNEIGH && len >= 28) {
                    int msgFamily = buffer.get(JAVA_BYTE, p + 16) & 0xff;
                    int index = buffer.get(JAVA_INT, p + 20);
                    int state = buffer.get(JAVA_SHORT, p + 24) & 0xffff;
                    byte[][] dst = {null};
                    long[] mac = {0};
                    socket.attributes(p + 28, p + len, (atype, payload, alen) -> {
                        if (atype == NDA_DST) {
                            dst[0] = buffer.asSlice(payload, alen).toArray(JAVA_BYTE);
                        } else if (atype == NDA_LLADDR && alen == 6) {
                            mac[0] = Bytes.mac(buffer, payload);
                        }
                    });
                    if (msgFamily == family && index == ifindex && dst[0] != null) {
                        out.add(new Neighbour(dst[0], mac[0], state, index));
                    }
                }
            });
        } catch (NetlinkException e) {
            throw wrap(e);
        }
        return out;
    }

    /** The kernel's route to {@code destination} (as {@code ip route get}). */
    Route route(InetAddress destination) throws PacketEngineException {
        byte[] addr = destination.getAddress();
        int family = addr.length == 4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
        int total = HDR + 12 + 4 + addr.length;
        InetAddress[] gateway = {null};
        int[] oif = {0};
        try {
            socket.begin(RTM_GETROUTE, NLM_F_REQUEST, total);
            request.set(JAVA_BYTE, 16, (byte) family);
            request.set(JAVA_BYTE, 17, (byte) (addr.length * 8)); // rtm_dst_len
            NetlinkSocket.attribute(request, 28, 1 /* RTA_DST */, addr);
            socket.send(total);
            socket.readReplies("route reply", (p, len, type) -> {
                if (type == NetlinkSocket.NLMSG_ERROR) {
                    int errno = socket.errno(p);
                    throw new NetlinkException("no route to " + destination.getHostAddress() + ": "
                            + LinuxNative.describe(errno), errno);
                }
                if (type != RTM_NEWROUTE || len < 28) {
                    throw new NetlinkException("netlink: unexpected route reply type " + type);
                }
                socket.attributes(p + 28, p + len, (atype, payload, alen) -> {
                    if (atype == RTA_OIF && alen >= 4) {
                        oif[0] = buffer.get(JAVA_INT, payload);
                    } else if (atype == RTA_GATEWAY) {
                        try {
                            gateway[0] = InetAddress.getByAddress(buffer.asSlice(payload, alen).toArray(JAVA_BYTE));
                        } catch (UnknownHostException e) {
                            throw new NetlinkException("netlink: bad gateway attribute");
                        }
                    }
                });
                return true;
            });
        } catch (NetlinkException e) {
            throw wrap(e);
        }
        return new Route(gateway[0], oif[0]);
    }

    /**
     * Adds a clsact qdisc to interface {@code ifindex}, the home of ingress filters. Returns false when the
     * interface already has one (or an {@code ingress} qdisc, whose ingress hook filters attach to the same way).
     */
    boolean addClsactQdisc(int ifindex) throws PacketEngineException {
        tcMessage(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0xffff_0000, TC_H_CLSACT, 0);
        int length = NetlinkSocket.attribute(request, 36, TCA_KIND, "clsact");
        int error = acknowledged(length);
        if (error == LinuxNative.EEXIST) {
            return false;
        }
        if (error != 0) {
            throw new PacketEngineException("adding a clsact qdisc: " + LinuxNative.describe(error));
        }
        return true;
    }

    /**
     * Adds (or replaces) classic BPF filter {@code handle} at {@code priority} on the ingress hook of interface
     * {@code ifindex}, in direct-action mode: the program's return value is the tc verdict. {@code tag} is stored
     * as the filter's class id, which direct-action filters do not use: the kernel keeps no name for classic
     * programs, and a tag is how a later process recognises the filter.
     */
    void addIngressBpf(int ifindex, int priority, int handle, BpfProgram program, int tag)
            throws PacketEngineException {
        MemorySegment m = request;
        tcMessage(RTM_NEWTFILTER, NLM_F_CREATE, ifindex, handle, TC_H_INGRESS_HOOK,
                (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
        int p = NetlinkSocket.attribute(m, 36, TCA_KIND, "bpf");
        int options = p;
        p += 4;
        m.set(JAVA_SHORT, p, (short) 6);
        m.set(JAVA_SHORT, p + 2, (short) TCA_BPF_OPS_LEN);
        m.set(JAVA_SHORT, p + 4, (short) program.length());
        p += 8;
        int opsLength = 4 + 8 * program.length();
        if (p + opsLength + 64 > m.byteSize()) {
            throw new PacketEngineException("BPF program of " + program.length() + " instructions is too long");
        }
        m.set(JAVA_SHORT, p, (short) opsLength);
        m.set(JAVA_SHORT, p + 2, (short) TCA_BPF_OPS);
        for (int i = 0; i < program.length(); i++) {
            long o = p + 4 + 8L * i;
            m.set(JAVA_SHORT, o, (short) program.code(i));
            m.set(JAVA_BYTE, o + 2, (byte) program.jt(i));
            m.set(JAVA_BYTE, o + 3, (byte) program.jf(i));
            m.set(JAVA_INT, o + 4, program.k(i));
        }
        p += (int) NetlinkSocket.align(opsLength);
        p = NetlinkSocket.attributeInt(m, p, TCA_BPF_CLASSID, tag);
        p = NetlinkSocket.attributeInt(m, p, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        m.set(JAVA_SHORT, options, (short) (p - options));
        m.set(JAVA_SHORT, options + 2, (short) TCA_OPTIONS);
        int error = acknowledged(p);
        if (error != 0) {
            throw new PacketEngineException("adding an ingress BPF filter: " + LinuxNative.describe(error));
        }
    }

    /** One bpf filter on an ingress hook: its handle and its tag (class id; 0 if none). */
    record IngressFilter(int handle, int tag) {}

    /** The bpf filters at {@code priority} on the ingress hook of interface {@code ifindex} (none: empty). */
    List<IngressFilter> ingressFilters(int ifindex, int priority) throws PacketEngineException {
        List<IngressFilter> out = new ArrayList<>();
        try {
            socket.begin(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, 36);
            request.set(JAVA_INT, 20, ifindex);
            request.set(JAVA_INT, 28, TC_H_INGRESS_HOOK);
            request.set(JAVA_INT, 32, (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
            socket.send(36);
            // an error here means the interface has no ingress qdisc, so no filters
            socket.readDump("filter dump", true, (p, len, type) -> {
                int handle = len >= 36 ? buffer.get(JAVA_INT, p + 24) : 0;
                if (handle != 0) { // handle 0 is the priority's own entry, not a filter
                    out.add(new IngressFilter(handle, bpfClassId(p + 36, p + len)));
                }
            });
        } catch (NetlinkException e) {
            throw wrap(e);
        }
        return out;
    }

    /** TCA_OPTIONS / TCA_BPF_CLASSID among the attributes in [from, to) of the buffer, or 0. */
    private int bpfClassId(long from, long to) throws NetlinkException {
        int[] classId = {0};
        socket.attributes(from, to, (atype, payload, alen) -> {
            if (atype == TCA_OPTIONS) {
                socket.attributes(payload, payload + alen, (btype, value, blen) -> {
                    if (btype == TCA_BPF_CLASSID && blen >= 4) {
                        classId[0] = buffer.get(JAVA_INT, value);
                    }
                });
            }
        });
        return classId[0];
    }

    /** Removes ingress filter {@code handle} at {@code priority}; false when it was not there. */
    boolean deleteIngressFilter(int ifindex, int priority, int handle) throws PacketEngineException {
        tcMessage(RTM_DELTFILTER, 0, ifindex, handle, TC_H_INGRESS_HOOK, (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
        int length = NetlinkSocket.attribute(request, 36, TCA_KIND, "bpf");
        int error = acknowledged(length);
        if (error == LinuxNative.ENOENT || error == LinuxNative.EINVAL) { // EINVAL: the interface lost its qdisc
            return false;
        }
        if (error != 0) {
            throw new PacketEngineException("removing an ingress filter: " + LinuxNative.describe(error));
        }
        return true;
    }

    /** struct nlmsghdr + struct tcmsg (36 bytes) for a tc request; the length is set by {@link #acknowledged}. */
    private void tcMessage(int type, int flags, int ifindex, int handle, int parent, int info) {
        socket.begin(type, NLM_F_REQUEST | NLM_F_ACK | flags, 36);
        request.set(JAVA_INT, 20, ifindex);
        request.set(JAVA_INT, 24, handle);
        request.set(JAVA_INT, 28, parent);
        request.set(JAVA_INT, 32, info);
    }

    private int acknowledged(int length) throws PacketEngineException {
        try {
            return socket.acknowledged(length);
        } catch (NetlinkException e) {
            throw wrap(e);
        }
    }

    /** The usable neighbour entry for {@code address} in {@code entries}, or null. */
    static Neighbour find(List<Neighbour> entries, InetAddress address) {
        byte[] a = address.getAddress();
        for (Neighbour n : entries) {
            if (Arrays.equals(n.address(), a)) {
                return n;
            }
        }
        return null;
    }

    private static PacketEngineException wrap(NetlinkException e) {
        return new PacketEngineException(e.getMessage(), e);
    }

    @Override
    public void close() {
        socket.close();
    }
}
