package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Prints ports that are free right now for both TCP and UDP on every address (bound on the wildcard), one a line.
 *
 * <p>The default range 20000-32000 lies below Linux's default ephemeral range (32768-60999) so the loads' own
 * outgoing connections never take a port that a peer is about to listen on. Candidates start at a random point so
 * two runs at once are unlikely to pick the same ports; the window between this check and the real bind is small
 * and a lost race fails the peer's start loudly.
 */
final class FreePorts {

    private FreePorts() {
    }

    static void run(Args args) {
        int count = args.intValue("count", 1);
        int from = args.intValue("from", 20000);
        int to = args.intValue("to", 32000);
        args.rejectUnknown();
        if (from < 1 || to > 65535 || to - from < count) {
            throw new IllegalArgumentException("free-ports: range " + from + "-" + to + " too small for " + count);
        }
        int span = to - from + 1;
        int start = ThreadLocalRandom.current().nextInt(span);
        int found = 0;
        for (int i = 0; i < span && found < count; i++) {
            int port = from + (start + i) % span;
            if (isFree(port)) {
                System.out.println(port);
                found++;
            }
        }
        if (found < count) {
            throw new IllegalArgumentException("free-ports: only " + found + " of " + count + " ports free");
        }
    }

    private static boolean isFree(int port) {
        try (ServerSocketChannel tcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
                DatagramChannel udp = DatagramChannel.open(StandardProtocolFamily.INET)) {
            tcp.bind(new InetSocketAddress(port));
            udp.bind(new InetSocketAddress(port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
