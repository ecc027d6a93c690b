package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark's Java backends, in one process that scripts/bench pins to the load core:
 * <ul>
 *   <li>{@code --hold}: TCP servers for the idle-connection memory test. Each accepted connection gets a one-byte
 *       greeting (so the client knows the load balancer really connected through to a backend) and is then held
 *       open, anything it sends discarded, until the client closes it.</li>
 *   <li>{@code --udp-echo}: UDP echo servers, one thread for all addresses ({@link UdpEcho}), for the datagram
 *       test.</li>
 * </ul>
 * Prints {@code READY} once every socket is bound and exits by itself after {@code --max-seconds}.
 */
final class Backends {

    private static final int BACKLOG = 4096;
    private static final ByteBuffer GREETING = ByteBuffer.wrap(new byte[] {'+'}).asReadOnlyBuffer();

    private Backends() {
    }

    static void run(Args args) throws IOException, InterruptedException {
        List<InetSocketAddress> hold = args.string("hold", "").isEmpty() ? List.of() : args.addresses("hold");
        List<InetSocketAddress> echo = args.string("udp-echo", "").isEmpty() ? List.of() : args.addresses("udp-echo");
        long maxSeconds = args.longValue("max-seconds", 0);
        args.rejectUnknown();
        if (maxSeconds <= 0) {
            throw new IllegalArgumentException("backends: --max-seconds must be > 0 (every backend is bounded)");
        }
        long deadlineNs = System.nanoTime() + maxSeconds * 1_000_000_000L;
        List<Thread> threads = new ArrayList<>();
        if (!hold.isEmpty()) {
            Selector selector = Selector.open();
            for (InetSocketAddress address : hold) {
                ServerSocketChannel server = ServerSocketChannel.open();
                server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                server.bind(address, BACKLOG);
                server.configureBlocking(false);
                server.register(selector, SelectionKey.OP_ACCEPT);
            }
            threads.add(Thread.ofPlatform().daemon().name("hold").unstarted(() -> hold(selector, deadlineNs)));
        }
        if (!echo.isEmpty()) {
            UdpEcho server = UdpEcho.open(echo);
            threads.add(Thread.ofPlatform().daemon().name("udp-echo").unstarted(() -> server.serve(deadlineNs)));
        }
        threads.forEach(Thread::start);
        System.out.println("READY hold=" + hold.size() + " udp-echo=" + echo.size());
        System.out.flush();
        long leftMs;
        while ((leftMs = (deadlineNs - System.nanoTime()) / 1_000_000) > 0) {
            Thread.sleep(Math.min(leftMs, 1000));
        }
        for (Thread thread : threads) {
            thread.join(1000); // each notices the deadline within its 500 ms wait
        }
        System.out.println("backends: --max-seconds reached, exiting");
        System.exit(0);
    }

    /**
     * One selector for every hold listener and connection; connections only ever read to detect the close. A
     * connection that fails (reset before its greeting, say, when a load balancer gives up on it) is closed and
     * counted; only a failing selector or listener ends the process.
     */
    private static void hold(Selector selector, long deadlineNs) {
        ByteBuffer sink = ByteBuffer.allocateDirect(64 * 1024);
        long open = 0;
        long failed = 0;
        try {
            while (System.nanoTime() < deadlineNs) {
                if (selector.select(500) == 0) {
                    continue;
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        SocketChannel conn;
                        while ((conn = accept((ServerSocketChannel) key.channel())) != null) {
                            try {
                                conn.configureBlocking(false);
                                conn.write(GREETING.duplicate());
                                conn.register(selector, SelectionKey.OP_READ);
                                open++;
                            } catch (IOException e) {
                                failed++;
                                conn.close();
                            }
                        }
                    } else if (key.isReadable()) {
                        SocketChannel conn = (SocketChannel) key.channel();
                        int n;
                        try {
                            do {
                                sink.clear();
                                n = conn.read(sink);
                            } while (n > 0);
                        } catch (IOException reset) {
                            n = -1;
                        }
                        if (n < 0) {
                            key.cancel();
                            conn.close();
                            open--;
                        }
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException e) {
            System.err.println("backends: hold server failed with " + open + " connections open (" + failed
                    + " failed before): " + e);
            System.exit(1);
        }
    }

    /** The next pending connection, or null; running out of descriptors waits a little instead of failing. */
    private static SocketChannel accept(ServerSocketChannel listener) throws IOException {
        try {
            return listener.accept();
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("Too many open files")) {
                System.err.println("backends: out of file descriptors, accept paused: " + e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }
            throw e;
        }
    }
}
