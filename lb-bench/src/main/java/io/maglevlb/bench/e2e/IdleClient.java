package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens {@code --count} TCP connections to {@code --target} (a load balancer in front of {@link Backends} hold
 * servers) and keeps them idle, for the memory-per-connection test.
 *
 * <p>A connection counts as established only when the backend's one-byte greeting has come back through the load
 * balancer, so the proxy has both of its sockets open. At most {@code --concurrency} connections are being set up
 * at once (the listen backlog stays small). When all are up it prints {@code READY <count> <ms>} and holds them
 * for at most {@code --hold-ms}; scripts/bench samples the balancer's RSS and then ends this process.
 * Exit status 2 when not every connection came up within {@code --timeout-ms}.
 */
final class IdleClient {

    private IdleClient() {
    }

    static int run(Args args) throws IOException, InterruptedException {
        InetSocketAddress target = args.addresses("target").getFirst();
        int count = args.intValue("count", 10_000);
        int concurrency = Math.max(1, args.intValue("concurrency", 256));
        long timeoutMs = args.longValue("timeout-ms", 60_000);
        long holdMs = args.longValue("hold-ms", 60_000);
        args.rejectUnknown();

        long startNs = System.nanoTime();
        long deadlineNs = startNs + timeoutMs * 1_000_000L;
        List<SocketChannel> open = new ArrayList<>(count);
        ByteBuffer greeting = ByteBuffer.allocate(16);
        int started = 0;
        int ready = 0;
        int failed = 0;
        String firstFailure = null;
        try (Selector selector = Selector.open()) {
            while (ready < count && System.nanoTime() < deadlineNs) {
                while (started - ready - failed < concurrency && started < count) {
                    SocketChannel channel = SocketChannel.open();
                    channel.configureBlocking(false);
                    open.add(channel);
                    started++;
                    boolean connected = channel.connect(target);
                    channel.register(selector, connected ? SelectionKey.OP_READ : SelectionKey.OP_CONNECT);
                }
                if (selector.select(200) == 0) {
                    continue;
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    SocketChannel channel = (SocketChannel) key.channel();
                    try {
                        if (key.isConnectable()) {
                            channel.finishConnect();
                            key.interestOps(SelectionKey.OP_READ);
                        } else if (key.isReadable()) {
                            int n = channel.read(greeting.clear());
                            if (n > 0) {
                                key.interestOps(0);
                                ready++;
                            } else if (n < 0) {
                                throw new IOException("closed before the backend's greeting arrived");
                            }
                        }
                    } catch (IOException e) {
                        failed++;
                        if (firstFailure == null) {
                            firstFailure = e.toString();
                        }
                        key.cancel();
                        channel.close();
                    }
                }
                selector.selectedKeys().clear();
                if (failed > 0 && started == count && ready + failed == count) {
                    break;
                }
            }
            long tookMs = (System.nanoTime() - startNs) / 1_000_000;
            if (ready < count) {
                System.out.println("FAILED ready=" + ready + " failed=" + failed + " of " + count + " after "
                        + tookMs + " ms" + (firstFailure == null ? "" : "; first failure: " + firstFailure));
                return 2;
            }
            System.out.println("READY " + ready + " " + tookMs);
            System.out.flush();
            Thread.sleep(holdMs);
            return 0;
        } finally {
            for (SocketChannel channel : open) {
                channel.close();
            }
        }
    }
}
