package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * Waits until every {@code --tcp} address accepts a connection and every {@code --udp} address echoes a datagram
 * back, or {@code --timeout-ms} passes. Exit status 0 when all answered; otherwise prints which did not and
 * exits 1, so scripts/bench can tell "peer not up yet" from "peer cannot do this". With {@code --watch-pid} it
 * gives up as soon as that process (the peer being started) has exited.
 */
final class Probe {

    private Probe() {
    }

    static void run(Args args) throws IOException, InterruptedException {
        List<InetSocketAddress> tcp = args.string("tcp", "").isEmpty() ? List.of() : args.addresses("tcp");
        List<InetSocketAddress> udp = args.string("udp", "").isEmpty() ? List.of() : args.addresses("udp");
        long timeoutMs = args.longValue("timeout-ms", 10_000);
        long watchPid = args.longValue("watch-pid", 0);
        args.rejectUnknown();
        long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        Optional<ProcessHandle> watched = watchPid > 0 ? ProcessHandle.of(watchPid) : Optional.empty();
        if (watchPid > 0 && watched.isEmpty()) {
            System.out.println("probe: process " + watchPid + " is not running");
            System.exit(1);
        }
        for (InetSocketAddress address : tcp) {
            if (!waitTcp(address, deadlineNs, watched)) {
                System.out.println(watched.isPresent() && !watched.get().isAlive()
                        ? "probe: process " + watchPid + " exited before " + format(address) + " accepted"
                        : "probe: no TCP listener on " + format(address) + " after " + timeoutMs + " ms");
                System.exit(1);
            }
        }
        for (InetSocketAddress address : udp) {
            if (!waitUdp(address, deadlineNs)) {
                System.out.println("probe: no UDP echo through " + format(address) + " after " + timeoutMs + " ms");
                System.exit(1);
            }
        }
    }

    private static boolean waitTcp(InetSocketAddress address, long deadlineNs, Optional<ProcessHandle> watched)
            throws InterruptedException {
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(address, 1000);
                return true;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadlineNs || watched.isPresent() && !watched.get().isAlive()) {
                    return false;
                }
                Thread.sleep(50);
            }
        }
    }

    private static boolean waitUdp(InetSocketAddress address, long deadlineNs) throws IOException {
        byte[] payload = "maglev-bench-probe".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer reply = ByteBuffer.allocate(2048);
        try (DatagramChannel channel = DatagramChannel.open(); Selector selector = Selector.open()) {
            channel.configureBlocking(false);
            channel.connect(address);
            channel.register(selector, SelectionKey.OP_READ);
            while (System.nanoTime() < deadlineNs) {
                try {
                    channel.write(ByteBuffer.wrap(payload));
                } catch (IOException refusedUntilBound) {
                    // ICMP port unreachable from an earlier datagram surfaces here; try again.
                }
                if (selector.select(200) > 0) {
                    selector.selectedKeys().clear();
                    try {
                        if (channel.read(reply.clear()) == payload.length) {
                            return true;
                        }
                    } catch (IOException refused) {
                        // nothing listening yet
                    }
                }
            }
            return false;
        }
    }

    static String format(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }
}
