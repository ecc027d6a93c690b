package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries health probes of {@code ipip}/{@code gue} VIPs to their backend encapsulated exactly as the engine
 * encapsulates client packets ({@link Encapsulation}, same outer source, GUE port and flow-hashed source port).
 *
 * <p>How: a TAP device ({@code mlbhc0}, {@code mlbhc1}, ... : the kernel picks a free number) that exists exactly
 * as long as this object holds its descriptor, so a killed maglevd leaves no device and no route behind. A probe
 * socket's mark selects a routing table whose route sends {@code VIP} "via" the backend's address on this
 * device; a permanent neighbour entry gives that address the Ethernet address {@code 02:00:<backend IPv4>}, so
 * the frame the kernel writes to the device names its backend in its destination MAC. This object's thread
 * reads each frame, looks up (VIP, backend), writes the outer headers in front of the probe's IP packet and
 * sends the result on the VIP's interface to the backend's next hop through a send-only AF_PACKET socket. The
 * backend decapsulates and answers from the VIP straight to the probe's source address, as it answers clients.
 *
 * <p>Frames to anything not registered (router solicitations the kernel sends on any new device, probes for a
 * path already released) are dropped. Nothing here touches the engine's sockets, flow tables or counters.
 *
 * <p>Threading: {@link #register}/{@link #unregister} from any thread; one daemon thread forwards. Native memory:
 * the frame buffers belong to the forwarding thread's {@link LinuxNative} arena, freed when the thread ends.
 */
final class HealthTunnel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HealthTunnel.class);
    private static final long TUNSETIFF = 0x400454caL;
    private static final int IFF_TAP = 0x0002;
    private static final int IFF_NO_PI = 0x1000;
    private static final long SIOCGIFFLAGS = 0x8913;
    private static final long SIOCSIFFLAGS = 0x8914;
    private static final long SIOCGIFINDEX = 0x8933;
    private static final int IFF_UP = 1;
    private static final int FRAME = 2048;
    private static final int HEADROOM = Encapsulation.ETHERNET + Encapsulation.OUTER_IPV4 + Encapsulation.UDP
            + Encapsulation.GUE;
    private static final int DISCARD_PORT = 9;

    /** Where probes of one (VIP, backend) go and how they are wrapped. */
    record Spec(DsrMethod method, InterfaceInfo iface, Ipv4Range outerSource, int guePort, InetAddress backend) {}

    /** Closes the TAP descriptor at {@link #close()}; owned by this tunnel, for its life (allocates nothing). */
    private final LinuxNative control = new LinuxNative();
    private final int tapFd;
    private final String name;
    private final int index;
    private final ConcurrentHashMap<Long, Spec> paths = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    private HealthTunnel(int tapFd, String name, int index) {
        this.tapFd = tapFd;
        this.name = name;
        this.index = index;
        this.thread = Thread.ofPlatform().daemon().name("maglev-health-tunnel").unstarted(this::run);
    }

    /** Creates the TAP device in the calling thread's network namespace, brings it up and starts forwarding. */
    static HealthTunnel open() throws IOException {
        try (LinuxNative sys = new LinuxNative()) { // per call: the ifreq, freed on return
            int fd = sys.open("/dev/net/tun", LinuxNative.O_RDWR | LinuxNative.O_CLOEXEC);
            if (fd < 0) {
                throw new IOException("cannot open /dev/net/tun for the health-check tunnel device: "
                        + LinuxNative.describe(sys.errno()) + " (needs the tun module and CAP_NET_ADMIN)");
            }
            MemorySegment ifr = sys.allocate(LinuxNative.IFREQ_SIZE);
            ifr.setString(0, "mlbhc%d");
            ifr.set(JAVA_SHORT, 16, (short) (IFF_TAP | IFF_NO_PI));
            if (sys.ioctl(fd, TUNSETIFF, ifr) < 0) {
                int errno = sys.errno();
                sys.closeFd(fd);
                throw new IOException("cannot create the health-check tunnel device: " + LinuxNative.describe(errno));
            }
            String name = ifr.getString(0);
            int sock = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
            try {
                ifr.fill((byte) 0);
                ifr.setString(0, name);
                if (sock < 0 || sys.ioctl(sock, SIOCGIFFLAGS, ifr) < 0) {
                    throw new IOException("reading flags of " + name + ": " + LinuxNative.describe(sys.errno()));
                }
                ifr.set(JAVA_SHORT, 16, (short) (ifr.get(JAVA_SHORT, 16) | IFF_UP));
                if (sys.ioctl(sock, SIOCSIFFLAGS, ifr) < 0) {
                    throw new IOException("bringing " + name + " up: " + LinuxNative.describe(sys.errno()));
                }
                if (sys.ioctl(sock, SIOCGIFINDEX, ifr) < 0) {
                    throw new IOException("index of " + name + ": " + LinuxNative.describe(sys.errno()));
                }
                int index = ifr.get(JAVA_INT, 16);
                HealthTunnel tunnel = new HealthTunnel(fd, name, index);
                tunnel.thread.start();
                log.info("health-check tunnel device {} (index {}) for ipip/gue probes", name, index);
                return tunnel;
            } catch (IOException | RuntimeException e) {
                sys.closeFd(fd);
                throw e;
            } finally {
                if (sock >= 0) {
                    sys.closeFd(sock);
                }
            }
        }
    }

    String name() {
        return name;
    }

    int index() {
        return index;
    }

    /** The device's neighbour address for {@code backend}: 02:00 followed by its IPv4 address. */
    static long macFor(InetAddress backend) {
        return 0x0200_0000_0000L | Integer.toUnsignedLong(Bytes.u32(MemorySegment.ofArray(backend.getAddress()), 0));
    }

    void register(InetAddress vip, Spec spec) {
        paths.put(key(vip, spec.backend()), spec);
    }

    void unregister(InetAddress vip, InetAddress backend) {
        paths.remove(key(vip, backend));
    }

    private static long key(InetAddress vip, InetAddress backend) {
        return (Integer.toUnsignedLong(ipv4(vip)) << 32) | Integer.toUnsignedLong(ipv4(backend));
    }

    private static int ipv4(InetAddress a) {
        return Bytes.u32(MemorySegment.ofArray(a.getAddress()), 0);
    }

    // ---- forwarding thread

    private void run() {
        // Native memory: per thread (this loop's life): the frame buffers, poll entry and link address, allocated
        // once here and freed when the thread ends.
        try (LinuxNative sys = new LinuxNative(); Netlink netlink = new Netlink()) {
            MemorySegment in = sys.allocate(FRAME);
            MemorySegment out = sys.allocate(FRAME + HEADROOM);
            MemorySegment pollFd = sys.allocate(8);
            pollFd.set(JAVA_INT, 0, tapFd);
            pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
            MemorySegment link = sys.allocate(20);
            int packetFd = sys.socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC, 0);
            if (packetFd < 0) {
                log.error("health-check tunnel: no AF_PACKET socket ({}); ipip/gue probes cannot be sent",
                        LinuxNative.describe(sys.errno()));
                return;
            }
            try {
                while (running) {
                    if (sys.poll(pollFd, 1, 200) <= 0) {
                        continue;
                    }
                    long n = sys.read(tapFd, in, FRAME);
                    if (n > 14 + 20) {
                        forward(sys, netlink, packetFd, in, (int) n, out, link);
                    }
                }
            } finally {
                sys.closeFd(packetFd);
            }
        } catch (PacketEngineException | RuntimeException e) {
            if (running) {
                log.error("health-check tunnel stopped: {}", e.toString());
            }
        }
    }

    private void forward(LinuxNative sys, Netlink netlink, int packetFd, MemorySegment in, int n, MemorySegment out,
            MemorySegment link) {
        if (Bytes.u16(in, 12) != 0x0800 || (Bytes.u8(in, 14) >>> 4) != 4) {
            return; // not IPv4: the device's own chatter
        }
        long dstMac = Bytes.mac(in, 0);
        if ((dstMac >>> 32) != 0x0200) {
            return;
        }
        int backend = (int) dstMac;
        int vip = Bytes.u32(in, 14 + 16);
        Spec spec = paths.get((Integer.toUnsignedLong(vip) << 32) | Integer.toUnsignedLong(backend));
        if (spec == null) {
            return;
        }
        int ipLength = Math.min(Bytes.u16(in, 14 + 2), n - 14);
        int ihl = (Bytes.u8(in, 14) & 0x0f) * 4;
        int protocol = Bytes.u8(in, 14 + 9);
        int srcPort = 0;
        int dstPort = 0;
        if ((protocol == 6 || protocol == 17) && ipLength >= ihl + 4) {
            srcPort = Bytes.u16(in, 14 + ihl);
            dstPort = Bytes.u16(in, 14 + ihl + 2);
        }
        long hash = FlowHash.fiveTuple(protocol, FlowHash.v4Hi(), FlowHash.v4Lo(Bytes.u32(in, 14 + 12)), srcPort,
                FlowHash.v4Hi(), FlowHash.v4Lo(vip), dstPort);
        long mac = nextHopMac(netlink, spec);
        if (mac == 0) {
            return; // the probe times out; its detail says the next hop is unknown only via the log
        }
        int headers = Encapsulation.writeOuterHeaders(out, spec.method(), mac, spec.iface().mac(),
                spec.outerSource().pick(hash), backend, Bytes.u8(in, 14 + 1), 4, ipLength,
                Encapsulation.gueSourcePort(hash), spec.guePort());
        MemorySegment.copy(in, 14, out, headers, ipLength);
        int length = headers + ipLength;
        if (length - Encapsulation.ETHERNET > spec.iface().mtu()) {
            return;
        }
        // struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8]
        link.fill((byte) 0);
        link.set(JAVA_SHORT, 0, (short) LinuxNative.AF_PACKET);
        link.set(JAVA_SHORT, 2, LinuxNative.htons(LinuxNative.ETH_P_IP));
        link.set(JAVA_INT, 4, spec.iface().index());
        link.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 11, (byte) 6);
        Bytes.putMac(link, 12, mac);
        if (sys.sendto(packetFd, out, length, 0, link, 20) < 0) {
            log.debug("health-check tunnel: send on {} failed: {}", spec.iface().name(),
                    LinuxNative.describe(sys.errno()));
        }
    }

    /** The Ethernet address of the backend's next hop on the VIP's interface; resolves it if needed (0: none yet). */
    private static long nextHopMac(Netlink netlink, Spec spec) {
        try {
            Netlink.Route route = netlink.route(spec.backend());
            InetAddress hop = route.gateway() != null ? route.gateway() : spec.backend();
            for (int attempt = 0; attempt < 10; attempt++) {
                Netlink.Neighbour n = Netlink.find(netlink.neighbours(LinuxNative.AF_INET, spec.iface().index()), hop);
                if (n != null && n.usable()) {
                    return n.mac();
                }
                if (attempt == 0) {
                    try (DatagramChannel c = DatagramChannel.open()) { // the kernel ARPs for it
                        c.send(ByteBuffer.wrap(new byte[] {0}), new InetSocketAddress(hop, DISCARD_PORT));
                    } catch (IOException e) {
                        return 0;
                    }
                }
                Thread.sleep(20);
            }
        } catch (PacketEngineException e) {
            log.debug("health-check tunnel: no next hop for {}: {}", spec.backend().getHostAddress(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    static boolean isIpv4(InetAddress a) {
        return a instanceof Inet4Address;
    }

    /** Stops the thread and closes the device: the kernel removes it and every route through it. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        control.closeFd(tapFd);
        control.close();
    }
}
