package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.maglevlb.dataplane.linux.Bpf;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.NetlinkException;
import io.maglevlb.dataplane.linux.XdpLink;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The XDP side of the AF_XDP engine on one interface: the {@link XdpVipProgram}, its VIP map and its XSKMAP
 * (queue index to AF_XDP socket), loaded with {@code bpf(2)} and attached over rtnetlink.
 *
 * <p><b>Lifetime.</b> {@link #create} makes the maps and loads the program (nothing is attached yet, which is how
 * {@code BPF_PROG_TEST_RUN} tests use it); {@link #attach} puts it on the interface, native mode first, generic
 * if the driver has no XDP; {@link #close} detaches it, if the interface still carries this very program, and
 * closes the descriptors, which frees program and maps (nothing pins them).
 *
 * <p><b>Ownership.</b> The program is named {@code maglev_<pid>}. An interface that carries a program of a
 * maglevd process that no longer runs (killed before it could detach) gets it replaced; one of a running
 * maglevd, or of anything else, is never touched: {@link #attach} fails with what to do instead.
 *
 * <p><b>Threading.</b> Control side only; methods are synchronized (start, reload and stop may run on different
 * threads). Forwarding threads never call it.
 */
final class XdpRedirect implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(XdpRedirect.class);
    static final String NAME_PREFIX = "maglev_";
    private static final long SELF = ProcessHandle.current().pid();
    /** Entries of the VIP map: two per VIP (port and address entries). */
    static final int MAX_VIP_KEYS = 1024;
    private static final int ENOMEM = 12;

    /**
     * System property {@value}: {@code generic} attaches in generic mode even where the driver has native XDP (a
     * diagnostic: on a veth, native XDP runs on the sending CPU, generic after RPS; see docs/dsr.md).
     */
    static final String MODE_PROPERTY = "maglev.dsr.xdpMode";

    /** How the program is attached. */
    enum Mode { NATIVE, GENERIC }

    private final Bpf bpf;
    private final LinuxNative sys;
    private final int vipMapFd;
    private final int socketMapFd;
    private final int progFd;
    private final int queues;
    private final String name;
    private final MemorySegment key;
    private final MemorySegment value;
    private final Set<String> vipKeys = new HashSet<>();
    private int ifindex;
    private String interfaceName;
    private Mode mode;
    private boolean closed;

    private XdpRedirect(Bpf bpf, LinuxNative sys, int vipMapFd, int socketMapFd, int progFd, int queues, String name) {
        this.bpf = bpf;
        this.sys = sys;
        this.vipMapFd = vipMapFd;
        this.socketMapFd = socketMapFd;
        this.progFd = progFd;
        this.queues = queues;
        this.name = name;
        this.key = bpf.allocate(XdpVipProgram.KEY_SIZE);
        this.value = bpf.allocate(8);
    }

    /** Creates the maps (an XSKMAP of {@code queues} entries) and loads the program; attaches nothing. */
    static XdpRedirect create(int queues) throws PacketEngineException {
        if (queues < 1 || queues > 1024) {
            throw new IllegalArgumentException("queues must be 1..1024, was " + queues);
        }
        Bpf bpf = new Bpf();
        LinuxNative sys = new LinuxNative();
        List<Integer> fds = new ArrayList<>();
        try {
            int vips = bpf.createMap(Bpf.MAP_TYPE_HASH, XdpVipProgram.KEY_SIZE, XdpVipProgram.VALUE_SIZE,
                    MAX_VIP_KEYS, "maglev_vips");
            if (vips < 0) {
                throw bpfError("creating the VIP map", bpf.errno());
            }
            fds.add(vips);
            int sockets = bpf.createMap(Bpf.MAP_TYPE_XSKMAP, 4, 4, queues, "maglev_xsks");
            if (sockets < 0) {
                throw bpfError("creating the XSKMAP", bpf.errno());
            }
            fds.add(sockets);
            String name = NAME_PREFIX + SELF;
            Bpf.Loaded loaded = bpf.loadProgram(Bpf.PROG_TYPE_XDP, XdpVipProgram.build(vips, sockets), name);
            if (loaded.fd() < 0) {
                if (loaded.errno() == LinuxNative.EPERM) {
                    throw bpfError("loading the XDP program", loaded.errno());
                }
                throw new PacketEngineException("the kernel refused maglevd's XDP program: "
                        + LinuxNative.describe(loaded.errno()) + "; verifier log:\n" + loaded.verifierLog());
            }
            return new XdpRedirect(bpf, sys, vips, sockets, loaded.fd(), queues, name);
        } catch (PacketEngineException | RuntimeException e) {
            fds.forEach(sys::closeFd);
            sys.close();
            bpf.close();
            throw e;
        }
    }

    private static PacketEngineException bpfError(String what, int errno) {
        if (errno == LinuxNative.EPERM || errno == LinuxNative.EACCES) {
            return new PacketEngineException(what + " failed: " + LinuxNative.describe(errno) + ". AF_XDP needs the "
                    + "CAP_BPF and CAP_NET_ADMIN capabilities (and CAP_NET_RAW for the sockets); run maglevd as root "
                    + "or grant them (AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_NET_RAW). On kernels before 5.11 "
                    + "BPF memory counts against the memlock limit: raise it (LimitMEMLOCK=infinity, ulimit -l)");
        }
        if (errno == ENOMEM) {
            return new PacketEngineException(what + " failed: " + LinuxNative.describe(errno)
                    + ". Raise the memlock limit (LimitMEMLOCK=infinity in the systemd unit, ulimit -l unlimited)");
        }
        return new PacketEngineException(what + " failed: " + LinuxNative.describe(errno));
    }

    int programFd() {
        return progFd;
    }

    String programName() {
        return name;
    }

    int queues() {
        return queues;
    }

    /** Native or generic; null before {@link #attach}. */
    synchronized Mode mode() {
        return mode;
    }

    /**
     * Makes the VIP map hold exactly {@code keys} ({@link XdpVipProgram#key} values): adds the new ones first,
     * then removes the gone ones, so a VIP present before and after never misses a packet. The program stays.
     */
    synchronized void updateVips(Set<byte[]> keys) throws PacketEngineException {
        HexFormat hex = HexFormat.of();
        Set<String> wanted = new HashSet<>();
        for (byte[] k : keys) {
            wanted.add(hex.formatHex(k));
        }
        if (wanted.size() > MAX_VIP_KEYS) {
            throw new PacketEngineException("at most " + MAX_VIP_KEYS / 2 + " VIPs per interface on AF_XDP");
        }
        value.set(JAVA_INT, 0, 1);
        for (String k : wanted) {
            if (!vipKeys.contains(k)) {
                setKey(hex.parseHex(k));
                if (bpf.updateElement(vipMapFd, key, value, Bpf.BPF_ANY) < 0) {
                    throw new PacketEngineException("adding a VIP to the XDP program's map failed: "
                            + LinuxNative.describe(bpf.errno()));
                }
                vipKeys.add(k);
            }
        }
        for (String k : List.copyOf(vipKeys)) {
            if (!wanted.contains(k)) {
                setKey(hex.parseHex(k));
                if (bpf.deleteElement(vipMapFd, key) < 0 && bpf.errno() != LinuxNative.ENOENT) {
                    throw new PacketEngineException("removing a VIP from the XDP program's map failed: "
                            + LinuxNative.describe(bpf.errno()));
                }
                vipKeys.remove(k);
            }
        }
    }

    private void setKey(byte[] k) {
        MemorySegment.copy(MemorySegment.ofArray(k), 0, key, 0, k.length);
    }

    /** Counts the entries of the VIP map as the kernel has them (tests, diagnostics). */
    synchronized int vipMapSize() {
        MemorySegment next = bpf.allocate(XdpVipProgram.KEY_SIZE);
        int n = 0;
        MemorySegment current = MemorySegment.NULL;
        while (bpf.nextKey(vipMapFd, current, next) == 0) {
            n++;
            MemorySegment.copy(next, 0, key, 0, XdpVipProgram.KEY_SIZE);
            current = key;
        }
        return n;
    }

    /** Points queue {@code queue}'s XSKMAP entry at AF_XDP socket {@code socketFd}. */
    synchronized void registerSocket(int queue, int socketFd) throws PacketEngineException {
        key.set(JAVA_INT, 0, queue);
        value.set(JAVA_INT, 0, socketFd);
        if (bpf.updateElement(socketMapFd, key, value, Bpf.BPF_ANY) < 0) {
            throw new PacketEngineException("putting the AF_XDP socket of queue " + queue + " into the XSKMAP failed: "
                    + LinuxNative.describe(bpf.errno()));
        }
    }

    /**
     * Attaches the program to {@code iface}: replaces a stale maglevd program, refuses anything else, then tries
     * native mode and falls back to generic mode.
     */
    synchronized void attach(InterfaceInfo iface, String vipName) throws PacketEngineException {
        if (ifindex != 0) {
            throw new IllegalStateException("already attached to " + interfaceName);
        }
        claim(iface);
        try (XdpLink link = XdpLink.open()) {
            boolean genericOnly = "generic".equals(System.getProperty(MODE_PROPERTY));
            int error = genericOnly ? -1
                    : link.set(iface.index(), progFd, XdpLink.FLAG_IF_NOEXIST | XdpLink.FLAG_DRV_MODE, -1);
            Mode used = Mode.NATIVE;
            String why = "";
            if (genericOnly) {
                why = " (-D" + MODE_PROPERTY + "=generic)";
                error = link.set(iface.index(), progFd, XdpLink.FLAG_IF_NOEXIST | XdpLink.FLAG_SKB_MODE, -1);
                used = Mode.GENERIC;
            } else if (error != 0 && error != LinuxNative.EBUSY && error != LinuxNative.EEXIST) {
                why = " (the driver refused native mode: " + LinuxNative.describe(error) + ")";
                error = link.set(iface.index(), progFd, XdpLink.FLAG_IF_NOEXIST | XdpLink.FLAG_SKB_MODE, -1);
                used = Mode.GENERIC;
            }
            if (error == LinuxNative.EBUSY || error == LinuxNative.EEXIST) {
                throw new PacketEngineException("interface " + iface.name() + " got another XDP program while maglevd "
                        + "attached its own; maglevd does not replace it");
            }
            if (error == LinuxNative.EPERM || error == LinuxNative.EACCES) {
                throw bpfError("attaching the XDP program to " + iface.name(), error);
            }
            if (error != 0) {
                throw new PacketEngineException("attaching the XDP program to " + iface.name() + " failed: "
                        + LinuxNative.describe(error));
            }
            ifindex = iface.index();
            interfaceName = iface.name();
            mode = used;
            log.info("vip {}: XDP program {} attached to {} in {} mode{}", vipName, name, iface.name(),
                    used == Mode.NATIVE ? "native (driver)" : "generic (skb)", why);
        } catch (NetlinkException e) {
            throw new PacketEngineException("attaching the XDP program to " + iface.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Checks that {@code iface} carries no XDP program, or a stale one of maglevd, which it removes; else fails
     * with whose program it is and what to do. {@link #attach} does it too; call it before binding sockets so
     * the operator gets that reason rather than a busy queue.
     */
    synchronized void claim(InterfaceInfo iface) throws PacketEngineException {
        try (XdpLink link = XdpLink.open()) {
            XdpLink.Attached present = link.query(iface.index());
            if (present.programId() != 0) {
                removeStale(link, iface, present);
            }
        } catch (NetlinkException e) {
            throw new PacketEngineException("reading the XDP program of " + iface.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes the program on the interface if a maglevd process that no longer runs left it; else explains whose
     * it is and what to do.
     */
    private void removeStale(XdpLink link, InterfaceInfo iface, XdpLink.Attached present)
            throws PacketEngineException, NetlinkException {
        int fd = bpf.programById(present.programId());
        if (fd < 0) {
            return; // detached meanwhile
        }
        try {
            Bpf.ProgramInfo info = bpf.programInfo(fd);
            String owner = info == null ? "" : info.name();
            long pid = ownerPid(owner);
            if (pid < 0) {
                throw new PacketEngineException("interface " + iface.name() + " already carries an XDP program (id "
                        + present.programId() + (owner.isEmpty() ? "" : ", name " + owner) + ") that is not "
                        + "maglevd's; maglevd does not replace it. Remove it (ip link set dev " + iface.name()
                        + " xdp off) if it is not needed, or set dsr.io: af_packet for this VIP");
            }
            if (pid == SELF || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                throw new PacketEngineException("interface " + iface.name() + " already carries the XDP program of "
                        + (pid == SELF ? "this maglevd process (a port it opened already)" : "maglevd process " + pid)
                        + ": on AF_XDP one maglevd process serves an interface's DSR VIPs; set dsr.io: af_packet "
                        + "for this one's");
            }
            int flags = present.mode() == XdpLink.ATTACHED_SKB ? XdpLink.FLAG_SKB_MODE : XdpLink.FLAG_DRV_MODE;
            int error = link.set(iface.index(), -1, flags, fd);
            if (error != 0) {
                throw new PacketEngineException("removing the stale XDP program " + owner + " from " + iface.name()
                        + " failed: " + LinuxNative.describe(error));
            }
            log.warn("removed a stale XDP program ({}, id {}) from {}: its maglevd process {} is gone", owner,
                    present.programId(), iface.name(), pid);
        } finally {
            sys.closeFd(fd);
        }
    }

    /** The pid in a program name {@code maglev_<pid>}, or -1 when it is not one of maglevd's. */
    static long ownerPid(String programName) {
        if (!programName.startsWith(NAME_PREFIX)) {
            return -1;
        }
        try {
            return Long.parseLong(programName.substring(NAME_PREFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Detaches the program if the interface still carries it, and closes program and maps (the kernel frees
     * them with their last descriptor). Idempotent; never throws.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ifindex != 0) {
            try (XdpLink link = XdpLink.open()) {
                int flags = mode == Mode.GENERIC ? XdpLink.FLAG_SKB_MODE : XdpLink.FLAG_DRV_MODE;
                int error = link.set(ifindex, -1, flags, progFd);
                if (error != 0 && error != LinuxNative.EEXIST && error != LinuxNative.ENODEV) {
                    log.warn("could not detach XDP program {} from {}: {}; remove it with 'ip link set dev {} xdp off'",
                            name, interfaceName, LinuxNative.describe(error), interfaceName);
                }
            } catch (NetlinkException | RuntimeException e) {
                log.warn("could not detach XDP program {} from {}: {}; remove it with 'ip link set dev {} xdp off'",
                        name, interfaceName, e.getMessage(), interfaceName);
            }
        }
        sys.closeFd(progFd);
        sys.closeFd(socketMapFd);
        sys.closeFd(vipMapFd);
        sys.close();
        bpf.close();
    }
}
