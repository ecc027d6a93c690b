package io.maglevlb.control.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real TCP backend on 127.0.0.1 for end-to-end tests: greets every connection with its name and a newline,
 * then echoes. It can be stopped (listener and connections closed, so health checks are refused) and
 * started again on the same port. Blocking I/O on virtual threads.
 */
final class NamedEchoBackend implements AutoCloseable {
    private final String name;
    private final int port;
    private final AtomicInteger accepted = new AtomicInteger();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket server;

    NamedEchoBackend(String name) throws IOException {
        this(name, 0);
    }

    private NamedEchoBackend(String name, int port) throws IOException {
        this.name = name;
        this.server = bind(port);
        this.port = server.getLocalPort();
        startAccepting(server);
    }

    private static ServerSocket bind(int port) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1024);
        return s;
    }

    private void startAccepting(ServerSocket s) {
        Thread.ofVirtual().name("backend-" + name).start(() -> {
            while (!s.isClosed()) {
                Socket c;
                try {
                    c = s.accept();
                } catch (IOException e) {
                    return;
                }
                accepted.incrementAndGet();
                open.add(c);
                Thread.ofVirtual().start(() -> serve(c));
            }
        });
    }

    private void serve(Socket c) {
        try (c) {
            OutputStream out = c.getOutputStream();
            out.write((name + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = c.getInputStream();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // client went away or we were stopped
        } finally {
            open.remove(c);
        }
    }

    String name() {
        return name;
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    int port() {
        return port;
    }

    /** Connections accepted since creation (including health checks). */
    int accepted() {
        return accepted.get();
    }

    /** Connections open now. */
    int openConnections() {
        return open.size();
    }

    /** Closes the listener and every connection: the backend is dead, connects are refused. */
    void stop() throws IOException {
        server.close();
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** Listens again on the same port. */
    void start() throws IOException {
        if (!server.isClosed()) {
            return;
        }
        server = bind(port);
        startAccepting(server);
    }

    @Override
    public void close() throws IOException {
        stop();
    }
}
