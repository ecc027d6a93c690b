package io.maglevlb.control.it;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Clients that wait in a VIP's accept queue, for the tests of what becomes of that queue (a reload that moves the
 * listener, a graceful stop). The queue is filled deterministically: with {@code max_connections: 1} and one
 * held connection ({@link #holdTheOnlySlot}) the listeners pause, so every further client completes its handshake
 * in the kernel, sends its request ({@code '!'}) and waits. Each expects one whole exchange with a
 * {@link NamedEchoBackend}: its greeting line, the echo, and the end once it half-closes.
 */
final class QueuedClients {
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicLong served = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();

    private QueuedClients() {}

    /** {@code count} clients connect to {@code port} now, send their request and wait for the exchange. */
    static QueuedClients start(int port, int count, Duration readTimeout) throws IOException {
        QueuedClients q = new QueuedClients();
        for (int i = 0; i < count; i++) {
            Socket s = new Socket();
            s.setSoTimeout((int) readTimeout.toMillis());
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 20_000);
            s.getOutputStream().write('!');
            int n = i;
            q.threads.add(Thread.ofPlatform().name("queued-" + i).start(() -> {
                try (s) {
                    exchange(s);
                    q.served.incrementAndGet();
                } catch (IOException | RuntimeException e) {
                    q.failures.add("queued " + n + ": " + e);
                }
            }));
        }
        return q;
    }

    /** Waits for every client, each for up to {@code limit}. */
    void join(Duration limit) throws InterruptedException {
        for (Thread t : threads) {
            t.join(limit);
        }
    }

    /** A connection that takes the VIP's only slot (max_connections 1): once it is served, the listeners pause. */
    static Socket holdTheOnlySlot(int port, Duration readTimeout) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout((int) readTimeout.toMillis());
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 20_000);
        readGreeting(s.getInputStream());
        return s;
    }

    /** The request sent, then the backend's greeting, the echo, and the end: one exchange on {@code s}. */
    static void exchange(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        readGreeting(in);
        if (in.read() != '!') {
            throw new IOException("echo missing");
        }
        s.shutdownOutput();
        if (in.read() != -1) {
            throw new IOException("bytes after the echo");
        }
    }

    static void readGreeting(InputStream in) throws IOException {
        int c;
        int greeting = 0;
        while ((c = in.read()) >= 0 && c != '\n') {
            greeting++;
        }
        if (c < 0 || greeting == 0) {
            throw new IOException("connection ended before the backend's greeting");
        }
    }
}
