package io.maglevlb.bench.e2e;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * UDP datagram load: {@code --sockets} client sockets, each connected to one of {@code --targets} (round robin),
 * each keeping {@code --window} datagrams of {@code --size} bytes in flight against echo backends, for
 * {@code --warmup-ms} (not counted) and then {@code --duration-ms}. Prints {@code RESULT <replies per second>} and
 * {@code TOTAL <replies>}, the replies of the whole run, warm-up included (what a load balancer relayed while the
 * client ran, for its CPU per datagram).
 *
 * <p>Closed loop on purpose: every reply releases the next datagram, so the rate measures what the path (load
 * balancer included) forwards, not how fast a socket buffer overflows. Each datagram carries its socket's sequence
 * number in its first 8 bytes; a reply for sequence {@code s} acknowledges everything up to {@code s} (datagrams
 * on one flow stay in order on loopback), so lost datagrams free their window slots as soon as a later one comes
 * back and at most {@code --window} are ever outstanding. A socket that hears nothing for {@link #LOSS_TIMEOUT_NS}
 * writes off its whole window and sends a fresh one; both kinds of loss are counted and printed.
 * Each client socket is its own flow (its own source port), so a load balancer sees {@code --sockets} flows.
 * Connected sockets only accept replies from the address they sent to, which checks that replies come back
 * from the VIP.
 *
 * <p>The client shares its core with the echo backends, so its cost per datagram caps the rate of every peer
 * alike. One thread, a level-triggered epoll over all sockets, and per readable socket one {@code recvmmsg} for
 * every pending reply and one {@code sendmmsg} to refill the window; datagrams live in native slots reused for
 * every batch, so the steady state allocates nothing.
 */
final class UdpLoad {

    private static final long LOSS_TIMEOUT_NS = 50_000_000L;
    private static final int SOCKET_RECEIVE_BUFFER = 1 << 20;
    private static final int WAIT_MS = 10;

    private final DatagramIo io;
    private final int[] fds;
    private final int window;
    private final long[] nextSeq;
    private final long[] ackedSeq;
    /** Replies are read into these slots; more than a window's worth, so that a full batch is rare. */
    private final DatagramIo.Vector replies;
    /** The next datagrams of one socket; the kernel copies them on send, so every socket reuses the same slots. */
    private final DatagramIo.Vector requests;
    private long received;
    private long sent;
    private long skipped;
    private long errors;

    private UdpLoad(DatagramIo io, int[] fds, int window, int size) {
        this.io = io;
        this.fds = fds;
        this.window = window;
        this.nextSeq = new long[fds.length];
        this.ackedSeq = new long[fds.length];
        this.replies = io.vector(Math.min(Math.max(2 * window, 16), 256), size, false);
        this.requests = io.vector(Math.min(window, 64), size, false);
        requests.fill(i -> 'a' + i % 26);
    }

    static void run(Args args) throws IOException {
        List<InetSocketAddress> targets = args.addresses("targets");
        int sockets = Math.max(1, args.intValue("sockets", 32));
        int size = args.intValue("size", 64);
        int window = Math.max(1, args.intValue("window", 8));
        long warmupMs = args.longValue("warmup-ms", 0);
        long durationMs = args.longValue("duration-ms", 0);
        args.rejectUnknown();
        if (durationMs <= 0 || durationMs > 600_000) {
            throw new IllegalArgumentException("udp-load: --duration-ms must be in 1..600000");
        }
        if (size < Long.BYTES || size > 65_000) {
            throw new IllegalArgumentException("udp-load: --size must be in 8..65000 (the sequence number takes 8)");
        }

        int[] fds = new int[sockets];
        Arrays.fill(fds, -1);
        int epfd = -1;
        try (DatagramIo io = new DatagramIo()) {
            try {
                epfd = io.epollCreate();
                for (int i = 0; i < sockets; i++) {
                    fds[i] = io.openConnected(targets.get(i % targets.size()), SOCKET_RECEIVE_BUFFER);
                    io.epollAdd(epfd, fds[i], i);
                }
                new UdpLoad(io, fds, window, size).measure(epfd, targets.size(), size, warmupMs, durationMs);
            } finally {
                for (int fd : fds) {
                    if (fd >= 0) {
                        io.closeFd(fd);
                    }
                }
                if (epfd >= 0) {
                    io.closeFd(epfd);
                }
            }
        }
    }

    private void measure(int epfd, int targetCount, int size, long warmupMs, long durationMs) throws IOException {
        int sockets = fds.length;
        long[] lastReplyNs = new long[sockets];
        MemorySegment events = io.epollEvents(sockets);
        long timeouts = 0;
        long nowNs = System.nanoTime();
        for (int i = 0; i < sockets; i++) {
            lastReplyNs[i] = nowNs;
        }
        for (int i = 0; i < sockets; i++) {
            fill(i);
        }
        long startNs = System.nanoTime();
        long measureFromNs = startNs + warmupMs * 1_000_000L;
        long endNs = measureFromNs + durationMs * 1_000_000L;
        long repliesAtMeasureStart = -1;
        long nextLossCheckNs = startNs + LOSS_TIMEOUT_NS;
        while ((nowNs = System.nanoTime()) < endNs) {
            if (repliesAtMeasureStart < 0 && nowNs >= measureFromNs) {
                repliesAtMeasureStart = received;
            }
            int ready = io.epollWait(epfd, events, WAIT_MS);
            if (ready < 0 && io.errno() != DatagramIo.EINTR) {
                throw new IOException("udp-load: epoll_wait: " + LinuxNative.describe(io.errno()));
            }
            if (ready > 0) {
                long wokeNs = System.nanoTime();
                for (int k = 0; k < ready; k++) {
                    int i = DatagramIo.eventToken(events, k);
                    receive(i);
                    lastReplyNs[i] = wokeNs;
                    fill(i);
                }
            }
            if (nowNs >= nextLossCheckNs) {
                nextLossCheckNs = nowNs + LOSS_TIMEOUT_NS / 5;
                for (int i = 0; i < sockets; i++) {
                    if (nowNs - lastReplyNs[i] > LOSS_TIMEOUT_NS) {
                        timeouts++;
                        ackedSeq[i] = nextSeq[i];
                        lastReplyNs[i] = nowNs;
                        fill(i);
                    }
                }
            }
        }
        if (repliesAtMeasureStart < 0) {
            repliesAtMeasureStart = 0;
        }
        long countedReplies = received - repliesAtMeasureStart;
        double seconds = (endNs - Math.max(measureFromNs, startNs)) / 1e9;
        double rate = countedReplies / seconds;
        System.out.printf(Locale.ROOT,
                "udp-load: %d sockets x window %d x %d B to %d target(s): %d replies in %.2f s; sent %d,"
                        + " lost (skipped sequence numbers) %d, window timeouts %d, errors %d%n",
                sockets, window, size, targetCount, countedReplies, seconds, sent, skipped, timeouts, errors);
        System.out.printf(Locale.ROOT, "RESULT %.1f%n", rate);
        System.out.printf(Locale.ROOT, "TOTAL %d%n", received);
        if (countedReplies == 0) {
            System.exit(3);
        }
    }

    /**
     * Reads every pending reply of socket {@code i} in one call and acknowledges the highest sequence number seen.
     * An error (ECONNREFUSED after an ICMP port unreachable) is counted; the kernel reports it once, in place of
     * the replies, and the next call reads on.
     */
    private void receive(int i) {
        int n = io.receive(fds[i], replies, replies.slots());
        if (n < 0) {
            if (io.errno() != DatagramIo.EAGAIN) {
                errors++;
            }
            return;
        }
        received += n;
        for (int k = 0; k < n; k++) {
            long seq = replies.receivedLength(k) >= Long.BYTES ? replies.sequence(k) : 0;
            if (seq > ackedSeq[i]) {
                skipped += seq - ackedSeq[i] - 1;
                ackedSeq[i] = seq;
            }
        }
    }

    /** Sends datagrams on socket {@code i} until {@code window} are outstanding, a batch per call. */
    private void fill(int i) {
        long outstanding;
        while ((outstanding = nextSeq[i] - ackedSeq[i]) < window) {
            int batch = (int) Math.min(window - outstanding, requests.slots());
            for (int k = 0; k < batch; k++) {
                requests.setSequence(k, nextSeq[i] + 1 + k);
            }
            int n = io.send(fds[i], requests, 0, batch);
            if (n <= 0) {
                return; // ECONNREFUSED or a full buffer: the next reply or the loss timeout tries again
            }
            nextSeq[i] += n;
            sent += n;
            if (n < batch) {
                return;
            }
        }
    }
}
