package io.maglevlb.dataplane.udp;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** A real UDP backend on 127.0.0.1 (ephemeral port) served by one thread. */
final class UdpTestBackend implements AutoCloseable {
    enum Mode {
        /** Answers every datagram with {@code <name>\n}. */
        NAME,
        /** Answers every datagram with its own payload, byte for byte. */
        ECHO,
        /** Reads and counts, never answers. */
        SILENT,
        /** Answers every datagram with {@link #TRICKLE_REPLIES} datagrams {@code <name>\n}, 150 ms apart. */
        TRICKLE
    }

    static final int TRICKLE_REPLIES = 5;
    static final long TRICKLE_GAP_MS = 150;

    final String name;
    private final Mode mode;
    private final DatagramSocket socket;
    private final Thread thread;
    private final AtomicLong received = new AtomicLong();
    /** Source addresses (the forwarder's session sockets) datagrams arrived from. */
    final Set<InetSocketAddress> peers = ConcurrentHashMap.newKeySet();

    UdpTestBackend(String name, Mode mode) throws SocketException {
        this(name, mode, 0);
    }

    UdpTestBackend(String name, Mode mode, int receiveBufferBytes) throws SocketException {
        this(name, mode, receiveBufferBytes, InetAddress.getLoopbackAddress());
    }

    UdpTestBackend(String name, Mode mode, int receiveBufferBytes, InetAddress bindAddress) throws SocketException {
        this(name, mode, receiveBufferBytes, new InetSocketAddress(bindAddress, 0));
    }

    UdpTestBackend(String name, Mode mode, int receiveBufferBytes, InetSocketAddress bindTo) throws SocketException {
        this.name = name;
        this.mode = mode;
        this.socket = new DatagramSocket(bindTo);
        if (receiveBufferBytes > 0) {
            socket.setReceiveBufferSize(receiveBufferBytes);
        }
        this.thread = Thread.ofPlatform().daemon().name("udp-backend-" + name).start(this::serve);
    }

    InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    long received() {
        return received.get();
    }

    private void serve() {
        byte[] buf = new byte[65535];
        byte[] nameLine = (name + "\n").getBytes(StandardCharsets.UTF_8);
        DatagramPacket in = new DatagramPacket(buf, buf.length);
        while (!socket.isClosed()) {
            try {
                in.setData(buf);
                socket.receive(in);
                received.incrementAndGet();
                peers.add((InetSocketAddress) in.getSocketAddress());
                switch (mode) {
                    case NAME -> socket.send(new DatagramPacket(nameLine, nameLine.length, in.getSocketAddress()));
                    case ECHO -> socket.send(new DatagramPacket(Arrays.copyOf(buf, in.getLength()), in.getLength(),
                            in.getSocketAddress()));
                    case SILENT -> { }
                    case TRICKLE -> {
                        for (int i = 0; i < TRICKLE_REPLIES; i++) {
                            if (i > 0) {
                                Thread.sleep(TRICKLE_GAP_MS);
                            }
                            socket.send(new DatagramPacket(nameLine, nameLine.length, in.getSocketAddress()));
                        }
                    }
                }
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        socket.close();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
