package io.maglevlb.dataplane.packet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Echo-style servers inside a backend namespace, bound to the VIP (which the backend has on lo): a TCP server
 * that answers each line with "NAME LINE", and a UDP server that answers each datagram with
 * "NAME LENGTH". Replies leave from the VIP straight to the client: the LB never sees them.
 */
final class TestBackends implements AutoCloseable {
    private final List<AutoCloseable> sockets = new ArrayList<>();
    final AtomicInteger udpDatagrams = new AtomicInteger();

    void startTcp(String namespace, String name, InetAddress vip, int port) throws Exception {
        ServerSocket server = NetLab.inNamespace(namespace, () -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(vip, port), 200);
            return s;
        });
        synchronized (sockets) {
            sockets.add(server);
        }
        Thread.ofPlatform().daemon().name("tcp-" + name).start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket c = server.accept();
                    synchronized (sockets) {
                        sockets.add(c);
                    }
                    Thread.ofPlatform().daemon().name("tcp-" + name + "-conn").start(() -> serve(name, c));
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    private static void serve(String name, Socket c) {
        try (c; BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
            OutputStream out = c.getOutputStream();
            String line;
            while ((line = in.readLine()) != null) {
                out.write((name + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (IOException ignored) {
            // client went away or reset
        }
    }

    void startUdp(String namespace, String name, InetAddress vip, int port) throws Exception {
        DatagramSocket socket = NetLab.inNamespace(namespace, () -> new DatagramSocket(new InetSocketAddress(vip, port)));
        synchronized (sockets) {
            sockets.add(socket);
        }
        Thread.ofPlatform().daemon().name("udp-" + name).start(() -> {
            byte[] buf = new byte[65536];
            while (!socket.isClosed()) {
                try {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    socket.receive(p);
                    udpDatagrams.incrementAndGet();
                    byte[] reply = (name + " " + p.getLength()).getBytes(StandardCharsets.UTF_8);
                    socket.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    @Override
    public void close() {
        synchronized (sockets) {
            for (AutoCloseable s : sockets) {
                try {
                    s.close();
                } catch (Exception ignored) {
                    // closing anyway
                }
            }
            sockets.clear();
        }
    }
}
