package io.maglevlb.control.health;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real UDP server on 127.0.0.1 for udp health check tests: echoes each datagram, answers each with fixed
 * bytes, or stays silent; it records what it received. Blocking I/O on a virtual thread. Closing it closes the
 * port, so the kernel answers the next datagram to it with ICMP port unreachable.
 */
final class UdpLoopbackBackend implements AutoCloseable {
    private final DatagramSocket socket;
    private final byte[] answer; // null: echo; empty: silent
    private final List<byte[]> received = new CopyOnWriteArrayList<>();
    private final Thread reader;

    private UdpLoopbackBackend(byte[] answer) throws IOException {
        this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.answer = answer;
        this.reader = Thread.ofVirtual().name("udp-backend-" + socket.getLocalPort()).start(this::readLoop);
    }

    static UdpLoopbackBackend echo() throws IOException {
        return new UdpLoopbackBackend(null);
    }

    static UdpLoopbackBackend answering(byte[] answer) throws IOException {
        return new UdpLoopbackBackend(answer.clone());
    }

    static UdpLoopbackBackend silent() throws IOException {
        return new UdpLoopbackBackend(new byte[0]);
    }

    InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** The payloads received so far, in order. */
    List<byte[]> received() {
        return List.copyOf(received);
    }

    private void readLoop() {
        byte[] buf = new byte[65535];
        while (!socket.isClosed()) {
            DatagramPacket in = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(in);
                byte[] payload = Arrays.copyOf(in.getData(), in.getLength());
                received.add(payload);
                byte[] out = answer == null ? payload : answer;
                if (out.length > 0) {
                    socket.send(new DatagramPacket(out, out.length, in.getSocketAddress()));
                }
            } catch (SocketException closed) {
                return;
            } catch (IOException e) {
                // one bad datagram: keep serving
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        socket.close();
        reader.join(5000);
    }
}
