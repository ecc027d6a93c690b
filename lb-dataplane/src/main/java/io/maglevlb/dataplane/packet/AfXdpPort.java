package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The AF_XDP side of one DSR engine on one interface: one {@link AfXdpIo} per receive queue (so one per
 * forwarding thread) and the {@link XdpRedirect} program that feeds them the VIP's packets.
 *
 * <p>Order on {@link #open}: program and maps, the VIP's keys, every socket into the XSKMAP, and only then the
 * attach, so the program never redirects into a half-built set of sockets. On {@link #close}: detach first (the
 * host gets every packet back at once), then the sockets; the kernel frees maps and program with their last
 * descriptor.
 *
 * <p><b>Threading.</b> Opened and closed on the control side; each socket is then owned by its forwarding thread.
 */
final class AfXdpPort implements AutoCloseable {
    private static final long SIOCETHTOOL = 0x8946;
    private static final int ETHTOOL_GCHANNELS = 0x3c;

    private final XdpRedirect redirect;
    private final List<AfXdpIo> sockets;

    private AfXdpPort(XdpRedirect redirect, List<AfXdpIo> sockets) {
        this.redirect = redirect;
        this.sockets = sockets;
    }

    /**
     * Sets up AF_XDP for {@code config}'s VIP on {@code iface}, or fails with the reason and what to change.
     * Nothing stays attached or open on failure.
     */
    static AfXdpPort open(DsrEngineConfig config, InterfaceInfo iface) throws PacketEngineException {
        int queues;
        try (LinuxNative sys = new LinuxNative()) {
            queues = queueCount(sys, iface.name());
        }
        if (queues != config.threads()) {
            throw new PacketEngineException("interface " + iface.name() + " has " + queues + " receive queue(s) and vip "
                    + config.vipName() + " has " + config.threads() + " forwarding thread(s): AF_XDP needs one thread "
                    + "per queue. Set the VIP's DSR threads to " + queues + ", or the queues to " + config.threads()
                    + " (ethtool -L " + iface.name() + " combined " + config.threads() + ")");
        }
        XdpRedirect redirect = XdpRedirect.create(queues);
        List<AfXdpIo> sockets = new ArrayList<>();
        try {
            var vip = config.vip();
            int protocol = config.protocol().ipProtocol();
            redirect.updateVips(Set.of(XdpVipProgram.key(vip.getAddress(), vip.getPort(), protocol),
                    XdpVipProgram.key(vip.getAddress(), 0, protocol)));
            redirect.claim(iface);
            for (int q = 0; q < queues; q++) {
                sockets.add(AfXdpIo.open(iface, q, redirect));
            }
            redirect.attach(iface, config.vipName());
            return new AfXdpPort(redirect, List.copyOf(sockets));
        } catch (PacketEngineException | RuntimeException e) {
            redirect.close();
            sockets.forEach(AfXdpIo::close);
            throw e;
        }
    }

    /**
     * Receive queues of {@code name} as ethtool reports them ({@code ETHTOOL_GCHANNELS}: the combined channels, or
     * the receive-only ones where a driver counts those); 1 when the driver does not say.
     */
    static int queueCount(LinuxNative sys, String name) throws PacketEngineException {
        int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new PacketEngineException("socket for the ethtool query failed: " + LinuxNative.describe(sys.errno()));
        }
        try {
            MemorySegment channels = sys.allocate(36); // struct ethtool_channels
            channels.set(JAVA_INT, 0, ETHTOOL_GCHANNELS);
            MemorySegment ifreq = sys.allocate(LinuxNative.IFREQ_SIZE);
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(MemorySegment.ofArray(n), 0, ifreq, 0, Math.min(n.length, LinuxNative.IFNAMSIZ - 1));
            ifreq.set(ADDRESS, 16, channels);
            if (sys.ioctl(fd, SIOCETHTOOL, ifreq) < 0) {
                return 1;
            }
            int rx = channels.get(JAVA_INT, 20);
            int combined = channels.get(JAVA_INT, 32);
            return Math.max(1, Math.max(rx, combined));
        } finally {
            sys.closeFd(fd);
        }
    }

    List<AfXdpIo> sockets() {
        return sockets;
    }

    XdpRedirect.Mode mode() {
        return redirect.mode();
    }

    /** Whether the kernel gave every socket zero-copy. */
    boolean zeroCopy() {
        return sockets.stream().allMatch(AfXdpIo::zeroCopy);
    }

    /** Detaches the program (the host gets the VIP's packets back); the sockets close with {@link #close}. */
    void detach() {
        redirect.close();
    }

    /** Detaches if still attached and closes the sockets: only after their forwarding threads stopped. */
    @Override
    public void close() {
        redirect.close();
        sockets.forEach(AfXdpIo::close);
    }
}
