package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What the engine needs to know of the interface it forwards on, read once at start in the calling thread's
 * network namespace.
 *
 * @param name interface name
 * @param index kernel interface index
 * @param mac the interface's Ethernet address in the low 48 bits
 * @param mtu the interface MTU (largest IP packet it sends)
 * @param ipv4 the interface's primary IPv4 address in network order as an int, 0 when it has none
 */
public record InterfaceInfo(String name, int index, long mac, int mtu, int ipv4) {

    /**
     * Reads {@code name}'s index, MAC, MTU and IPv4 address; fails with a clear message when it does not exist. Its
     * scratch memory (name, ifreq) comes from {@code sys}'s arena: the caller's, freed when the caller closes it.
     */
    public static InterfaceInfo read(LinuxNative sys, String name) throws PacketEngineException {
        if (name == null || name.isEmpty() || name.length() >= LinuxNative.IFNAMSIZ) {
            throw new PacketEngineException("interface name must be 1.." + (LinuxNative.IFNAMSIZ - 1)
                    + " characters, was '" + name + "'");
        }
        int index = sys.ifNameToIndex(name);
        if (index == 0) {
            throw new PacketEngineException("no network interface '" + name + "' in this network namespace ("
                    + LinuxNative.describe(sys.errno()) + ")");
        }
        int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new PacketEngineException("socket(AF_INET) for interface queries failed: "
                    + LinuxNative.describe(sys.errno()));
        }
        try {
            MemorySegment ifr = sys.allocate(LinuxNative.IFREQ_SIZE);
            setName(ifr, name);
            if (sys.ioctl(fd, LinuxNative.SIOCGIFHWADDR, ifr) < 0) {
                throw new PacketEngineException("SIOCGIFHWADDR " + name + ": " + LinuxNative.describe(sys.errno()));
            }
            int hwType = ifr.get(ValueLayout.JAVA_SHORT, 16) & 0xffff;
            if (hwType != 1 /* ARPHRD_ETHER */) {
                throw new PacketEngineException("interface " + name + " is not Ethernet (ARPHRD " + hwType
                        + "); the packet engine forwards Ethernet frames only");
            }
            long mac = Bytes.mac(ifr, 18);
            setName(ifr, name);
            if (sys.ioctl(fd, LinuxNative.SIOCGIFMTU, ifr) < 0) {
                throw new PacketEngineException("SIOCGIFMTU " + name + ": " + LinuxNative.describe(sys.errno()));
            }
            int mtu = ifr.get(ValueLayout.JAVA_INT, 16);
            setName(ifr, name);
            int ipv4 = 0;
            if (sys.ioctl(fd, LinuxNative.SIOCGIFADDR, ifr) == 0) {
                ipv4 = Bytes.u32(ifr, 20);
            }
            return new InterfaceInfo(name, index, mac, mtu, ipv4);
        } finally {
            sys.closeFd(fd);
        }
    }

    private static void setName(MemorySegment ifr, String name) {
        ifr.fill((byte) 0);
        byte[] bytes = name.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, ifr, 0, bytes.length);
    }

    /** The MAC as aa:bb:cc:dd:ee:ff. */
    public static String formatMac(long mac) {
        StringBuilder sb = new StringBuilder(17);
        for (int shift = 40; shift >= 0; shift -= 8) {
            if (shift != 40) {
                sb.append(':');
            }
            sb.append(String.format("%02x", (mac >>> shift) & 0xff));
        }
        return sb.toString();
    }
}
