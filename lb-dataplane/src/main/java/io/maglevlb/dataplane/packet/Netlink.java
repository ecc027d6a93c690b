package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Route and neighbour queries over an rtnetlink socket (the same information as {@code ip route get} and
 * {@code ip neigh}), for the engine's control side: never on a forwarding thread. Works for IPv4 and IPv6 in
 * the calling process's network namespace.
 */
final class Netlink implements AutoCloseable {
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;
    private static final int RTM_NEWROUTE = 24;
    private static final int RTM_GETROUTE = 26;
    private static final int RTM_NEWNEIGH = 28;
    private static final int RTM_GETNEIGH = 30;
    private static final int RTM_NEWQDISC = 36;
    private static final int RTM_NEWTFILTER = 44;
    private static final int RTM_DELTFILTER = 45;
    private static final int RTM_GETTFILTER = 46;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLM_F_ACK = 4;
    private static final int NLM_F_EXCL = 0x200;
    private static final int NLM_F_CREATE = 0x400;
    private static final int NLM_F_DUMP = 0x300;
    private static final int RTA_OIF = 4;
    private static final int RTA_GATEWAY = 5;
    private static final int NDA_DST = 1;
    private static final int NDA_LLADDR = 2;
    static final int NUD_INCOMPLETE = 0x01;
    static final int NUD_FAILED = 0x20;
    private static final int BUFFER = 1 << 16;
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
    private static final int EEXIST = 17;
    private static final int ENOENT = 2;
    private static final int EINVAL = 22;

    /** One neighbour entry: IP address bytes, Ethernet address (low 48 bits), NUD state, interface. */
    record Neighbour(byte[] address, long mac, int state, int ifindex) {
        boolean usable() {
            return mac != 0 && (state & (NUD_INCOMPLETE | NUD_FAILED)) == 0;
        }
    }

    /** The route to a destination: the gateway (null when on-link) and the outgoing interface index. */
    record Route(InetAddress gateway, int outputInterface) {}

    private final LinuxNative sys = new LinuxNative();
    private final int fd;
    private final MemorySegment buffer;
    private final MemorySegment pollFd;
    private final MemorySegment request;
    private final MemorySegment kernelAddress;
    private int sequence = 1;

    Netlink() throws PacketEngineException {
        fd = sys.socket(LinuxNative.AF_NETLINK, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC,
                LinuxNative.NETLINK_ROUTE);
        if (fd < 0) {
            int errno = sys.errno();
            sys.close();
            throw new PacketEngineException("netlink socket: " + LinuxNative.describe(errno));
        }
        buffer = sys.allocate(BUFFER);
        pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
        request = sys.allocate(2048);
        kernelAddress = sys.allocate(12);
        kernelAddress.set(JAVA_SHORT, 0, (short) LinuxNative.AF_NETLINK);
    }

    /** All neighbour entries of {@code family} (AF_INET / AF_INET6) on interface {@code ifindex}. */
    List<Neighbour> neighbours(int family, int ifindex) throws PacketEngineException {
        MemorySegment req = request;
        int seq = sequence++;
        header(req, 28, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq);
        req.set(JAVA_BYTE, 16, (byte) family);
        send(req, 28);
        List<Neighbour> out = new ArrayList<>();
        readDump("neighbour dump", false, (p, len, type) -> {
            if (type == RTM_NEWNEIGH && len >= 28) {
                int msgFamily = buffer.get(JAVA_BYTE, p + 16) & 0xff;
                int index = buffer.get(JAVA_INT, p + 20);
                int state = buffer.get(JAVA_SHORT, p + 24) & 0xffff;
                byte[] dst = null;
                long mac = 0;
                long a = p + 28;
                while (a + 4 <= p + len) {
                    int alen = buffer.get(JAVA_SHORT, a) & 0xffff;
                    int atype = buffer.get(JAVA_SHORT, a + 2) & 0x3fff;
                    if (alen < 4 || a + alen > p + len) {
                        break;
                    }
                    if (atype == NDA_DST) {
                        dst = buffer.asSlice(a + 4, alen - 4).toArray(JAVA_BYTE);
                    } else if (atype == NDA_LLADDR && alen - 4 == 6) {
                        mac = Bytes.mac(buffer, a + 4);
                    }
                    a += align(alen);
                }
                if (msgFamily == family && index == ifindex && dst != null) {
                    out.add(new Neighbour(dst, mac, state, index));
                }
            }
        });
        return out;
    }

    /** Receives the messages of a dump up to NLMSG_DONE (visitor: offset, length, type of each message). */
    private interface DumpVisitor {
        void message(long offset, int length, int type);
    }

    /** One reply message (offset, length, type in the buffer); true when it was the last one wanted. */
    private interface ReplyVisitor {
        boolean message(long offset, int length, int type) throws PacketEngineException;
    }

    /**
     * Hands every message of the dump just requested to {@code visitor}, until NLMSG_DONE. An NLMSG_ERROR ends
     * the dump too: quietly when {@code errorEndsDump}, else with an exception naming {@code what}.
     */
    private void readDump(String what, boolean errorEndsDump, DumpVisitor visitor) throws PacketEngineException {
        readReplies(what, (p, len, type) -> {
            if (type == NLMSG_DONE) {
                return true;
            }
            if (type == NLMSG_ERROR) {
                if (errorEndsDump) {
                    return true;
                }
                throw new PacketEngineException("netlink " + what + ": " + errorText(p));
            }
            visitor.message(p, len, type);
            return false;
        });
    }

    /** Receives reply messages, checking each one's length, until {@code visitor} has seen the last it wants. */
    private void readReplies(String what, ReplyVisitor visitor) throws PacketEngineException {
        while (true) {
            int n = receive();
            long p = 0;
            while (p + 16 <= n) {
                int len = buffer.get(JAVA_INT, p);
                int type = buffer.get(JAVA_SHORT, p + 4) & 0xffff;
                if (len < 16 || p + len > n) {
                    throw new PacketEngineException("netlink: malformed " + what);
                }
                if (visitor.message(p, len, type)) {
                    return;
                }
                p += align(len);
            }
        }
    }

    /** The kernel's route to {@code destination} (as {@code ip route get}). */
    Route route(InetAddress destination) throws PacketEngineException {
        byte[] addr = destination.getAddress();
        int family = addr.length == 4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
        int total = 16 + 12 + 4 + addr.length;
        MemorySegment req = request;
        int seq = sequence++;
        header(req, total, RTM_GETROUTE, NLM_F_REQUEST, seq);
        req.set(JAVA_BYTE, 16, (byte) family);
        req.set(JAVA_BYTE, 17, (byte) (addr.length * 8)); // rtm_dst_len
        req.set(JAVA_SHORT, 28, (short) (4 + addr.length));
        req.set(JAVA_SHORT, 30, (short) 1); // RTA_DST
        MemorySegment.copy(MemorySegment.ofArray(addr), 0, req, 32, addr.length);
        send(req, total);
        int n = receive();
        if (n < 16) {
            throw new PacketEngineException("netlink: short route reply");
        }
        int len = buffer.get(JAVA_INT, 0);
        int type = buffer.get(JAVA_SHORT, 4) & 0xffff;
        if (type == NLMSG_ERROR) {
            throw new PacketEngineException("no route to " + destination.getHostAddress() + ": " + errorText(0));
        }
        if (type != RTM_NEWROUTE || len > n || len < 28) {
            throw new PacketEngineException("netlink: unexpected route reply type " + type);
        }
        InetAddress gateway = null;
        int oif = 0;
        long a = 28;
        while (a + 4 <= len) {
            int alen = buffer.get(JAVA_SHORT, a) & 0xffff;
            int atype = buffer.get(JAVA_SHORT, a + 2) & 0x3fff;
            if (alen < 4 || a + alen > len) {
                break;
            }
            if (atype == RTA_OIF && alen >= 8) {
                oif = buffer.get(JAVA_INT, a + 4);
            } else if (atype == RTA_GATEWAY) {
                try {
                    gateway = InetAddress.getByAddress(buffer.asSlice(a + 4, alen - 4).toArray(JAVA_BYTE));
                } catch (UnknownHostException e) {
                    throw new PacketEngineException("netlink: bad gateway attribute", e);
                }
            }
            a += align(alen);
        }
        return new Route(gateway, oif);
    }

    /**
     * Adds a clsact qdisc to interface {@code ifindex}, the home of ingress filters. Returns false when the
     * interface already has one (or an {@code ingress} qdisc, whose ingress hook filters attach to the same way).
     */
    boolean addClsactQdisc(int ifindex) throws PacketEngineException {
        MemorySegment m = tcMessage(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0xffff_0000, TC_H_CLSACT, 0);
        int length = attribute(m, 36, TCA_KIND, "clsact");
        int error = acknowledged(m, length);
        if (error == EEXIST) {
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
        MemorySegment m = tcMessage(RTM_NEWTFILTER, NLM_F_CREATE, ifindex, handle, TC_H_INGRESS_HOOK,
                (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
        int p = attribute(m, 36, TCA_KIND, "bpf");
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
        p += (int) align(opsLength);
        m.set(JAVA_SHORT, p, (short) 8);
        m.set(JAVA_SHORT, p + 2, (short) TCA_BPF_CLASSID);
        m.set(JAVA_INT, p + 4, tag);
        p += 8;
        m.set(JAVA_SHORT, p, (short) 8);
        m.set(JAVA_SHORT, p + 2, (short) TCA_BPF_FLAGS);
        m.set(JAVA_INT, p + 4, TCA_BPF_FLAG_ACT_DIRECT);
        p += 8;
        m.set(JAVA_SHORT, options, (short) (p - options));
        m.set(JAVA_SHORT, options + 2, (short) TCA_OPTIONS);
        int error = acknowledged(m, p);
        if (error != 0) {
            throw new PacketEngineException("adding an ingress BPF filter: " + LinuxNative.describe(error));
        }
    }

    /** One bpf filter on an ingress hook: its handle and its tag (class id; 0 if none). */
    record IngressFilter(int handle, int tag) {}

    /** The bpf filters at {@code priority} on the ingress hook of interface {@code ifindex} (none: empty). */
    List<IngressFilter> ingressFilters(int ifindex, int priority) throws PacketEngineException {
        request.fill((byte) 0);
        int seq = sequence++;
        header(request, 36, RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, seq);
        request.set(JAVA_INT, 20, ifindex);
        request.set(JAVA_INT, 28, TC_H_INGRESS_HOOK);
        request.set(JAVA_INT, 32, (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
        send(request, 36);
        List<IngressFilter> out = new ArrayList<>();
        // an error here means the interface has no ingress qdisc, so no filters
        readDump("filter dump", true, (p, len, type) -> {
            int handle = len >= 36 ? buffer.get(JAVA_INT, p + 24) : 0;
            if (handle != 0) { // handle 0 is the priority's own entry, not a filter
                out.add(new IngressFilter(handle, bpfClassId(p + 36, p + len)));
            }
        });
        return out;
    }

    /** TCA_OPTIONS / TCA_BPF_CLASSID among the attributes in [from, to) of the buffer, or 0. */
    private int bpfClassId(long from, long to) {
        for (long a = from; a + 4 <= to; ) {
            int alen = buffer.get(JAVA_SHORT, a) & 0xffff;
            int atype = buffer.get(JAVA_SHORT, a + 2) & 0x3fff;
            if (alen < 4 || a + alen > to) {
                break;
            }
            if (atype == TCA_OPTIONS) {
                for (long b = a + 4; b + 4 <= a + alen; ) {
                    int blen = buffer.get(JAVA_SHORT, b) & 0xffff;
                    int btype = buffer.get(JAVA_SHORT, b + 2) & 0x3fff;
                    if (blen < 4 || b + blen > a + alen) {
                        break;
                    }
                    if (btype == TCA_BPF_CLASSID && blen >= 8) {
                        return buffer.get(JAVA_INT, b + 4);
                    }
                    b += align(blen);
                }
            }
            a += align(alen);
        }
        return 0;
    }

    /** Removes ingress filter {@code handle} at {@code priority}; false when it was not there. */
    boolean deleteIngressFilter(int ifindex, int priority, int handle) throws PacketEngineException {
        MemorySegment m = tcMessage(RTM_DELTFILTER, 0, ifindex, handle, TC_H_INGRESS_HOOK,
                (priority << 16) | ETH_P_ALL_NETWORK_ORDER);
        int length = attribute(m, 36, TCA_KIND, "bpf");
        int error = acknowledged(m, length);
        if (error == ENOENT || error == EINVAL) { // EINVAL: the interface has no ingress qdisc any more
            return false;
        }
        if (error != 0) {
            throw new PacketEngineException("removing an ingress filter: " + LinuxNative.describe(error));
        }
        return true;
    }

    /** struct nlmsghdr + struct tcmsg (36 bytes) for a tc request; the length is set by {@link #acknowledged}. */
    private MemorySegment tcMessage(int type, int flags, int ifindex, int handle, int parent, int info) {
        request.fill((byte) 0); // attribute padding included
        header(request, 36, type, NLM_F_REQUEST | NLM_F_ACK | flags, sequence++);
        request.set(JAVA_INT, 20, ifindex);
        request.set(JAVA_INT, 24, handle);
        request.set(JAVA_INT, 28, parent);
        request.set(JAVA_INT, 32, info);
        return request;
    }

    /** Writes a NUL-terminated string attribute at {@code offset}; returns the offset after it. */
    private static int attribute(MemorySegment m, int offset, int type, String value) {
        byte[] text = value.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int length = 4 + text.length + 1;
        m.set(JAVA_SHORT, offset, (short) length);
        m.set(JAVA_SHORT, offset + 2, (short) type);
        MemorySegment.copy(MemorySegment.ofArray(text), 0, m, offset + 4, text.length);
        m.set(JAVA_BYTE, offset + 4 + text.length, (byte) 0);
        return offset + (int) align(length);
    }

    /** Sends a request that asked for an acknowledgement; returns 0 or the kernel's errno. */
    private int acknowledged(MemorySegment m, int length) throws PacketEngineException {
        int seq = m.get(JAVA_INT, 8);
        m.set(JAVA_INT, 0, length);
        send(m, length);
        int[] error = new int[1];
        readReplies("acknowledgement", (p, len, type) -> {
            if (type == NLMSG_ERROR && len >= 20 && buffer.get(JAVA_INT, p + 8) == seq) {
                error[0] = -buffer.get(JAVA_INT, p + 16);
                return true;
            }
            return false;
        });
        return error[0];
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

    private static void header(MemorySegment m, int length, int type, int flags, int seq) {
        m.asSlice(0, length).fill((byte) 0);
        m.set(JAVA_INT, 0, length);
        m.set(JAVA_SHORT, 4, (short) type);
        m.set(JAVA_SHORT, 6, (short) flags);
        m.set(JAVA_INT, 8, seq);
    }

    private void send(MemorySegment req, int length) throws PacketEngineException {
        if (sys.sendto(fd, req, length, 0, kernelAddress, 12) < 0) {
            throw new PacketEngineException("netlink send: " + LinuxNative.describe(sys.errno()));
        }
    }

    private int receive() throws PacketEngineException {
        if (sys.poll(pollFd, 1, 2000) <= 0) {
            throw new PacketEngineException("netlink: no answer from the kernel within 2 s");
        }
        long n = sys.recv(fd, buffer, BUFFER, 0);
        if (n < 0) {
            throw new PacketEngineException("netlink receive: " + LinuxNative.describe(sys.errno()));
        }
        return (int) n;
    }

    private String errorText(long message) {
        int error = buffer.get(JAVA_INT, message + 16);
        return LinuxNative.describe(-error);
    }

    private static long align(int length) {
        return (length + 3L) & ~3L;
    }

    @Override
    public void close() {
        sys.closeFd(fd);
        sys.close();
    }
}
