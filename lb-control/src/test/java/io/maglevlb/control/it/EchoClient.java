package io.maglevlb.control.it;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One client connection through a VIP to a {@link NamedEchoBackend}: learns which backend it reached from the
 * greeting, then does echo round trips. Blocking, for virtual threads.
 */
final class EchoClient implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final String backend;

    private EchoClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        this.backend = readLine(socket.getInputStream());
    }

    /** Connects to the VIP on 127.0.0.1:{@code port} and reads the backend's greeting. */
    static EchoClient connect(int port) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        try {
            return new EchoClient(s);
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Connects {@code bound} (a socket already bound to a chosen source) to the VIP on 127.0.0.1:{@code port}. */
    static EchoClient connect(Socket bound, int port) throws IOException {
        try {
            bound.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            return new EchoClient(bound);
        } catch (IOException e) {
            bound.close();
            throw e;
        }
    }

    /** The client end: the flow's source address and port. */
    java.net.InetSocketAddress local() {
        return (java.net.InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** The backend this connection reached. */
    String backend() {
        return backend;
    }

    /** Sends {@code value} and checks it comes back; throws on any error (reset, EOF, mismatch). */
    void roundTrip(int value) throws IOException {
        out.write(new byte[] {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value});
        out.flush();
        int back = in.readInt();
        if (back != value) {
            throw new IOException("echo mismatch: sent " + value + ", got " + back);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c < 0) {
                throw new IOException("connection closed before the backend's greeting"
                        + (sb.isEmpty() ? "" : " (got '" + sb + "')"));
            }
            sb.append((char) c);
        }
        return new String(sb.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
