package io.maglevlb.dataplane.tcp;

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
 * A real TCP server on loopback for proxy tests: blocking sockets, one virtual thread per connection, so its
 * behaviour does not depend on the Netty code under test.
 */
final class TestBackend implements AutoCloseable {
    /** What the backend does with one accepted connection; the socket is closed afterwards. */
    interface Behaviour {
        void serve(Socket socket, TestBackend backend) throws IOException;
    }

    private final String name;
    private final ServerSocket server;
    private final Behaviour behaviour;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;

    private TestBackend(String name, ServerSocket server, Behaviour behaviour) {
        this.name = name;
        this.server = server;
        this.behaviour = behaviour;
        this.acceptor = Thread.ofPlatform().daemon().name("test-backend-" + name).start(this::acceptLoop);
    }

    static TestBackend start(String name, Behaviour behaviour) throws IOException {
        return start(name, InetAddress.getLoopbackAddress(), behaviour);
    }

    static TestBackend start(String name, InetAddress address, Behaviour behaviour) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(address, 0), 1024);
        return new TestBackend(name, server, behaviour);
    }

    /** Writes {@code name\n}, ends its output, then waits for the client's end. */
    static Behaviour sendsName() {
        return (socket, backend) -> {
            OutputStream out = socket.getOutputStream();
            out.write((backend.name() + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.shutdownOutput();
            InputStream in = socket.getInputStream();
            byte[] sink = new byte[1024];
            while (in.read(sink) >= 0) {
                // drain until the client closes
            }
        };
    }

    /** Echoes everything back; ends its output when the client ends its own. */
    static Behaviour echoes() {
        return (socket, backend) -> {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                out.flush();
            }
            socket.shutdownOutput();
        };
    }

    /** A port on loopback nothing listens on: connects to it are refused. */
    static InetSocketAddress refusedAddress() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), s.getLocalPort());
        }
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            open.add(socket);
            Thread.ofVirtual().start(() -> {
                try (socket) {
                    behaviour.serve(socket, this);
                } catch (IOException e) {
                    // the peer went away: fine for a test backend
                } finally {
                    open.remove(socket);
                }
            });
        }
    }

    String name() {
        return name;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    int accepted() {
        return accepted.get();
    }

    int openConnections() {
        return open.size();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : open) {
            s.close();
        }
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
