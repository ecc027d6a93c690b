package io.maglevlb.control.it;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/** UDP ports for daemons that tests start in another process. */
final class UdpPorts {
    private UdpPorts() {}

    /**
     * A free UDP port on loopback below the kernel's ephemeral range: a port from that range, free when the
     * test looks, can be taken as a source port by any other process's datagram socket (the suite runs beside
     * UDP load tests) before the daemon binds it.
     */
    static int freeBelowEphemeralRange() throws IOException {
        return freeBelowEphemeralRange(false);
    }

    /** As {@link #freeBelowEphemeralRange()}, free on TCP too: for a demo backend that answers on both. */
    static int freeUdpAndTcpBelowEphemeralRange() throws IOException {
        return freeBelowEphemeralRange(true);
    }

    private static int freeBelowEphemeralRange(boolean alsoTcp) throws IOException {
        int ephemeralLow = 32768;
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).strip();
            ephemeralLow = Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            // keep the usual default
        }
        int low = 10_000;
        int high = Math.max(low + 1000, ephemeralLow);
        java.util.SplittableRandom random = new java.util.SplittableRandom();
        for (int attempt = 0; attempt < 100; attempt++) {
            int port = random.nextInt(low, high);
            try (DatagramSocket s = new DatagramSocket(port, InetAddress.getLoopbackAddress());
                    ServerSocket tcp = alsoTcp ? new ServerSocket(port, 1, InetAddress.getLoopbackAddress()) : null) {
                return s.getLocalPort();
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free UDP port in " + low + "-" + (high - 1));
    }

}
