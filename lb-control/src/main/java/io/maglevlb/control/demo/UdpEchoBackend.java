package io.maglevlb.control.demo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A demo UDP backend for {@code maglevd run --demo-backends}: answers every datagram with {@code <name>\n}
 * when it holds only whitespace, else with {@code <name>: <payload>}, so a client sees which backend its
 * flow reached:
 *
 * <pre>
 *   $ echo hi | nc -u -q1 127.0.0.1 8053
 *   dns-2: hi
 * </pre>
 *
 * <p>It also listens on TCP on the same address (unless told not to) and answers {@code <name>\n} to each
 * connection, so the default {@code tcp} health check (and a human with {@code nc}) sees it up, as a DNS
 * server would be.
 *
 * <p>Threading: one virtual thread serves the UDP socket, one accepts TCP connections. Not for production
 * traffic: it exists to show and test forwarding.
 */
public final class UdpEchoBackend implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(UdpEchoBackend.class);

    private final String name;
    private final DatagramChannel udp;
    private final ServerSocketChannel tcp;
    private final Thread udpThread;
    private final Thread tcpThread;

    private UdpEchoBackend(String name, DatagramChannel udp, ServerSocketChannel tcp) {
        this.name = name;
        this.udp = udp;
        this.tcp = tcp;
        this.udpThread = Thread.ofVirtual().name("demo-udp-" + name).unstarted(this::serveUdp);
        this.tcpThread = tcp == null ? null
                : Thread.ofVirtual().name("demo-udp-tcp-" + name).unstarted(this::serveTcp);
    }

    /**
     * Binds UDP and TCP on {@code address} (port 0: a free port, the same for both when possible) and starts
     * answering.
     *
     * @throws IOException when either socket cannot be bound; nothing stays open then
     */
    public static UdpEchoBackend start(String name, InetSocketAddress address) throws IOException {
        return start(name, address, true);
    }

    /**
     * Like {@link #start(String, InetSocketAddress)}; with {@code tcpToo} false it answers UDP only (when
     * something else serves TCP on the address).
     */
    public static UdpEchoBackend start(String name, InetSocketAddress address, boolean tcpToo) throws IOException {
        Objects.requireNonNull(name, "name");
        StandardProtocolFamily family = address.getAddress() instanceof java.net.Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
        // With port 0 the UDP port the kernel picks may be taken on TCP: try a few ports.
        int attempts = address.getPort() == 0 ? 20 : 1;
        IOException last = null;
        for (int i = 0; i < attempts; i++) {
            DatagramChannel udp = DatagramChannel.open(family);
            ServerSocketChannel tcp = null;
            InetSocketAddress bound = address;
            try {
                udp.bind(address);
                bound = (InetSocketAddress) udp.getLocalAddress();
                if (tcpToo) {
                    tcp = ServerSocketChannel.open(family);
                    tcp.bind(bound);
                }
                UdpEchoBackend backend = new UdpEchoBackend(name, udp, tcp);
                backend.udpThread.start();
                if (backend.tcpThread != null) {
                    backend.tcpThread.start();
                }
                return backend;
            } catch (IOException e) {
                udp.close();
                if (tcp != null) {
                    tcp.close();
                }
                last = new IOException("demo backend " + name + ": cannot bind " + bound + ": " + e.getMessage(), e);
            }
        }
        throw last;
    }

    public String name() {
        return name;
    }

    /** Where it listens (UDP and TCP). */
    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) udp.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException("demo backend " + name + " is closed", e);
        }
    }

    /** The answer to one datagram's payload. */
    static byte[] answer(String name, byte[] payload, int length) {
        boolean blank = true;
        for (int i = 0; i < length; i++) {
            if (!Character.isWhitespace(payload[i])) {
                blank = false;
                break;
            }
        }
        byte[] prefix = (blank ? name + "\n" : name + ": ").getBytes(StandardCharsets.UTF_8);
        if (blank) {
            return prefix;
        }
        byte[] out = new byte[prefix.length + length];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(payload, 0, out, prefix.length, length);
        return out;
    }

    private void serveUdp() {
        ByteBuffer in = ByteBuffer.allocate(65535);
        while (udp.isOpen()) {
            try {
                in.clear();
                SocketAddress from = udp.receive(in);
                byte[] reply = answer(name, in.array(), in.position());
                if (reply.length > 65507) {
                    reply = java.util.Arrays.copyOf(reply, 65507); // a datagram cannot carry more
                }
                udp.send(ByteBuffer.wrap(reply), from);
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                // One client's error (for example ICMP for a vanished client) must not stop the backend.
                log.debug("demo backend {}: {}", name, e.toString());
            }
        }
    }

    private void serveTcp() {
        byte[] line = (name + "\n").getBytes(StandardCharsets.UTF_8);
        while (tcp.isOpen()) {
            try (SocketChannel c = tcp.accept()) {
                c.write(ByteBuffer.wrap(line));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                log.debug("demo backend {} (tcp): {}", name, e.toString());
            }
        }
    }

    @Override
    public void close() {
        try {
            udp.close();
        } catch (IOException e) {
            log.debug("demo backend {}: close: {}", name, e.toString());
        }
        try {
            if (tcp != null) {
                tcp.close();
            }
        } catch (IOException e) {
            log.debug("demo backend {} (tcp): close: {}", name, e.toString());
        }
        try {
            udpThread.join(2_000);
            if (tcpThread != null) {
                tcpThread.join(2_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
