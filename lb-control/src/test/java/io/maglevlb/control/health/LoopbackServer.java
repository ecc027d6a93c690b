package io.maglevlb.control.health;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real TCP server on 127.0.0.1 for health check tests: accepts connections and, per mode, closes them,
 * answers one HTTP status line, or holds them open without a word. Blocking I/O on virtual threads.
 *
 * <p>The {@code *_UNTIL_CLIENT_CLOSES} modes keep each connection until the client ends it and record how it
 * ended ({@link #endings()}): they are the backends of a check that closes first, which is where a FIN close
 * leaves the client in TIME_WAIT.
 */
public final class LoopbackServer implements AutoCloseable {
    public enum Mode {
        ACCEPT_AND_CLOSE, HTTP_STATUS, SILENT, GARBAGE,
        /** Reads until the client closes (EOF or reset), then closes. */
        HOLD_UNTIL_CLIENT_CLOSES,
        /** Answers the request head with a status line, then reads until the client closes, then closes. */
        HTTP_STATUS_UNTIL_CLIENT_CLOSES,
        /** Reads the request head, then closes with a reset (SO_LINGER 0) without answering. */
        RESET_AFTER_REQUEST
    }

    /** How a connection of a {@code *_UNTIL_CLIENT_CLOSES} server ended. */
    public enum Ending { EOF, RESET }

    private final ServerSocket server;
    private final Mode mode;
    private volatile int status;
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final List<Ending> endings = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private LoopbackServer(int port, Mode mode, int status) throws IOException {
        this(InetAddress.getLoopbackAddress(), port, mode, status);
    }

    private LoopbackServer(InetAddress address, int port, Mode mode, int status) throws IOException {
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(address, port), 64);
        this.mode = mode;
        this.status = status;
        this.acceptor = Thread.ofVirtual().name("loopback-server-" + server.getLocalPort()).start(this::acceptLoop);
    }

    public static LoopbackServer tcp() throws IOException {
        return new LoopbackServer(0, Mode.ACCEPT_AND_CLOSE, 0);
    }

    /** A TCP server on a port a closed server used, to bring a backend back at the same address. */
    public static LoopbackServer tcpOn(int port) throws IOException {
        return new LoopbackServer(port, Mode.ACCEPT_AND_CLOSE, 0);
    }

    public static LoopbackServer http(int status) throws IOException {
        return new LoopbackServer(0, Mode.HTTP_STATUS, status);
    }

    public static LoopbackServer silent() throws IOException {
        return new LoopbackServer(0, Mode.SILENT, 0);
    }

    public static LoopbackServer garbage() throws IOException {
        return new LoopbackServer(0, Mode.GARBAGE, 0);
    }

    /** A server of {@code mode} on {@code address} (a loopback address: 127.0.0.0/8), on a free port. */
    public static LoopbackServer on(InetAddress address, Mode mode, int status) throws IOException {
        return new LoopbackServer(address, 0, mode, status);
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
    }

    /** How the connections of a {@code *_UNTIL_CLIENT_CLOSES} server ended, in the order they did. */
    public List<Ending> endings() {
        return endings;
    }

    public int port() {
        return server.getLocalPort();
    }

    public int accepted() {
        return accepted.get();
    }

    public List<String> requests() {
        return requests;
    }

    public void setStatus(int status) {
        this.status = status;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            Thread.ofVirtual().start(() -> serve(s));
        }
    }

    private void serve(Socket s) {
        try {
            switch (mode) {
                case ACCEPT_AND_CLOSE -> s.close();
                case SILENT -> held.add(s);
                case HTTP_STATUS -> {
                    String request = readHead(s.getInputStream());
                    requests.add(request);
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 " + status + " Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    s.close();
                }
                case HOLD_UNTIL_CLIENT_CLOSES -> readUntilClientCloses(s);
                case HTTP_STATUS_UNTIL_CLIENT_CLOSES -> {
                    requests.add(readHead(s.getInputStream()));
                    // No Content-Length and no Connection: close: the body runs until the connection ends.
                    s.getOutputStream().write(("HTTP/1.1 " + status + " Whatever\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    readUntilClientCloses(s);
                }
                case RESET_AFTER_REQUEST -> {
                    requests.add(readHead(s.getInputStream()));
                    s.setSoLinger(true, 0);
                    s.close();
                }
                case GARBAGE -> {
                    readHead(s.getInputStream());
                    s.getOutputStream().write("SSH-2.0-OpenSSH\r\n".getBytes(StandardCharsets.US_ASCII));
                    s.close();
                }
            }
        } catch (IOException e) {
            closeQuietly(s);
        }
    }

    private void readUntilClientCloses(Socket s) throws IOException {
        Ending ending;
        try {
            InputStream in = s.getInputStream();
            byte[] buffer = new byte[512];
            while (in.read(buffer) >= 0) {
                // discard
            }
            ending = Ending.EOF;
        } catch (SocketException e) {
            if (!String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT).contains("reset")) {
                throw e;
            }
            ending = Ending.RESET;
        }
        s.close();
        endings.add(ending); // after close: a reader that sees the ending sees the socket closed
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while (sb.length() < 8192 && (c = in.read()) >= 0) {
            sb.append((char) c);
            if (sb.length() >= 4 && sb.substring(sb.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        return sb.toString();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : held) {
            closeQuietly(s);
        }
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
