package io.maglevlb.control.it;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;

/**
 * A backend that speaks only UDP, on 127.0.0.1: answers each datagram with {@code <name>: <payload>}. Nothing
 * listens on TCP at its port. Closing it closes the port, so the kernel answers further datagrams to it with
 * ICMP port unreachable. Blocking I/O on a virtual thread.
 */
final class UdpOnlyBackend implements AutoCloseable {
    private final String name;
    private final DatagramSocket socket;
    private final Thread reader;

    UdpOnlyBackend(String name) throws IOException {
        this.name = name;
        this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.reader = Thread.ofVirtual().name("udp-only-" + name).start(this::serve);
    }

    String name() {
        return name;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** {@code 127.0.0.1:port}, as the configuration writes it. */
    String configAddress() {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    private void serve() {
        byte[] buf = new byte[65535];
        byte[] prefix = (name + ": ").getBytes(StandardCharsets.UTF_8);
        while (!socket.isClosed()) {
            DatagramPacket in = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(in);
                byte[] out = new byte[prefix.length + in.getLength()];
                System.arraycopy(prefix, 0, out, 0, prefix.length);
                System.arraycopy(in.getData(), 0, out, prefix.length, in.getLength());
                socket.send(new DatagramPacket(out, out.length, in.getSocketAddress()));
            } catch (SocketException closed) {
                return;
            } catch (IOException e) {
                // one failed datagram: keep serving
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        socket.close();
        reader.join(5000);
    }
}
