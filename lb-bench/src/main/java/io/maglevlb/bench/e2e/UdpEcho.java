package io.maglevlb.bench.e2e;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * UDP echo servers for the datagram test: one thread serves every address. It shares the load core with udp-load,
 * so every system call it saves is load the client can generate instead; per batch of up to {@link #BATCH}
 * datagrams on one socket it makes one {@code recvmmsg} and one {@code sendmmsg}, and sends the very slots it
 * received into, each back to its own source address (no copy, no allocation). Sockets are watched by a
 * level-triggered epoll, so a batch shorter than {@link #BATCH} needs no extra read to find the socket empty:
 * anything that arrives later wakes the next wait.
 *
 * <p>A reply that cannot be sent (send buffer full, say) is dropped and counted; the client counts it as lost.
 */
final class UdpEcho {

    static final int BATCH = 64;
    private static final int BUFFER_SIZE = 65_536;
    private static final int SOCKET_BUFFER = 4 << 20;
    private static final int WAIT_MS = 500;

    private final List<InetSocketAddress> addresses;
    private final DatagramIo io;
    private final int[] fds;
    private final int epfd;
    private final DatagramIo.Vector vector;
    private final MemorySegment events;
    // Counters: written only by the serving thread, printed by it when it ends.
    private long echoed;
    private long dropped;
    private long receiveErrors;

    private UdpEcho(List<InetSocketAddress> addresses, DatagramIo io, int[] fds, int epfd) {
        this.addresses = addresses;
        this.io = io;
        this.fds = fds;
        this.epfd = epfd;
        this.vector = io.vector(BATCH, BUFFER_SIZE, true);
        this.events = io.epollEvents(fds.length);
    }

    /** Binds every address (failing here, before READY, if one is taken). */
    static UdpEcho open(List<InetSocketAddress> addresses) throws IOException {
        DatagramIo io = new DatagramIo();
        int[] fds = new int[addresses.size()];
        int epfd = io.epollCreate();
        for (int i = 0; i < fds.length; i++) {
            fds[i] = io.openBound(addresses.get(i), SOCKET_BUFFER, SOCKET_BUFFER);
            io.epollAdd(epfd, fds[i], i);
        }
        return new UdpEcho(addresses, io, fds, epfd);
    }

    /** Echoes until {@code deadlineNs}, then closes the sockets and prints what it did. */
    void serve(long deadlineNs) {
        long leftNs;
        while ((leftNs = deadlineNs - System.nanoTime()) > 0) {
            int ready = io.epollWait(epfd, events, (int) Math.min(WAIT_MS, leftNs / 1_000_000 + 1));
            if (ready < 0) {
                if (io.errno() == DatagramIo.EINTR) {
                    continue;
                }
                System.err.println("backends: udp echo: epoll_wait failed: " + LinuxNative.describe(io.errno()));
                System.exit(1);
            }
            for (int k = 0; k < ready; k++) {
                echoBatch(fds[DatagramIo.eventToken(events, k)]);
            }
        }
        for (int fd : fds) {
            io.closeFd(fd);
        }
        io.closeFd(epfd);
        System.out.println("backends: udp echo on " + addresses.size() + " address(es): " + echoed + " echoed, "
                + dropped + " replies dropped, " + receiveErrors + " receive errors");
    }

    private void echoBatch(int fd) {
        int received = io.receive(fd, vector, BATCH);
        if (received <= 0) {
            if (received < 0 && io.errno() != DatagramIo.EAGAIN) {
                receiveErrors++;
            }
            return;
        }
        vector.replyWithReceived(received);
        int next = 0;
        int failed = 0;
        while (next < received) {
            int n = io.send(fd, vector, next, received - next);
            if (n > 0) {
                next += n;
            } else if (io.errno() == DatagramIo.EAGAIN || io.errno() == LinuxNative.ENOBUFS) {
                break; // no room now: drop the rest of the batch rather than wait
            } else {
                next++; // this datagram cannot go (to that address); skip it and send the rest
                failed++;
            }
        }
        echoed += next - failed;
        dropped += received - next + failed;
        vector.readyToReceive(received);
    }
}
