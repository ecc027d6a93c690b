package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.List;
import java.util.Locale;

/**
 * UDP datagram load: {@code --sockets} client sockets, each connected to one of {@code --targets} (round robin),
 * each keeping {@code --window} datagrams of {@code --size} bytes in flight against echo backends, for
 * {@code --warmup-ms} (not counted) and then {@code --duration-ms}. Prints {@code RESULT <replies per second>}.
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
 */
final class UdpLoad {

    private static final long LOSS_TIMEOUT_NS = 50_000_000L;

    private UdpLoad() {
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

        DatagramChannel[] channels = new DatagramChannel[sockets];
        long[] nextSeq = new long[sockets];
        long[] ackedSeq = new long[sockets];
        long[] lastReplyNs = new long[sockets];
        ByteBuffer payload = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            payload.put(i, (byte) ('a' + i % 26));
        }
        ByteBuffer reply = ByteBuffer.allocateDirect(65536);
        long replies = 0;
        long sent = 0;
        long skipped = 0;
        long timeouts = 0;
        long errors = 0;
        try (Selector selector = Selector.open()) {
            long nowNs = System.nanoTime();
            for (int i = 0; i < sockets; i++) {
                DatagramChannel channel = DatagramChannel.open();
                channel.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
                channel.configureBlocking(false);
                channel.connect(targets.get(i % targets.size()));
                channel.register(selector, SelectionKey.OP_READ, i);
                channels[i] = channel;
                lastReplyNs[i] = nowNs;
            }
            for (int i = 0; i < sockets; i++) {
                sent += fill(channels[i], payload, nextSeq, ackedSeq, i, window);
            }
            long startNs = System.nanoTime();
            long measureFromNs = startNs + warmupMs * 1_000_000L;
            long endNs = measureFromNs + durationMs * 1_000_000L;
            long repliesAtMeasureStart = -1;
            long nextLossCheckNs = startNs + LOSS_TIMEOUT_NS;
            while ((nowNs = System.nanoTime()) < endNs) {
                if (repliesAtMeasureStart < 0 && nowNs >= measureFromNs) {
                    repliesAtMeasureStart = replies;
                }
                if (selector.select(10) > 0) {
                    for (SelectionKey key : selector.selectedKeys()) {
                        int i = (Integer) key.attachment();
                        DatagramChannel channel = channels[i];
                        while (true) {
                            int n;
                            try {
                                n = channel.read(reply.clear());
                            } catch (IOException refused) {
                                errors++;
                                break;
                            }
                            if (n <= 0) {
                                break;
                            }
                            replies++;
                            long seq = n >= Long.BYTES ? reply.getLong(0) : 0;
                            if (seq > ackedSeq[i]) {
                                skipped += seq - ackedSeq[i] - 1;
                                ackedSeq[i] = seq;
                            }
                        }
                        lastReplyNs[i] = System.nanoTime();
                        sent += fill(channel, payload, nextSeq, ackedSeq, i, window);
                    }
                    selector.selectedKeys().clear();
                }
                if (nowNs >= nextLossCheckNs) {
                    nextLossCheckNs = nowNs + LOSS_TIMEOUT_NS / 5;
                    for (int i = 0; i < sockets; i++) {
                        if (nowNs - lastReplyNs[i] > LOSS_TIMEOUT_NS) {
                            timeouts++;
                            ackedSeq[i] = nextSeq[i];
                            lastReplyNs[i] = nowNs;
                            sent += fill(channels[i], payload, nextSeq, ackedSeq, i, window);
                        }
                    }
                }
            }
            if (repliesAtMeasureStart < 0) {
                repliesAtMeasureStart = 0;
            }
            long countedReplies = replies - repliesAtMeasureStart;
            double seconds = (endNs - Math.max(measureFromNs, startNs)) / 1e9;
            double rate = countedReplies / seconds;
            System.out.printf(Locale.ROOT,
                    "udp-load: %d sockets x window %d x %d B to %d target(s): %d replies in %.2f s; sent %d,"
                            + " lost (skipped sequence numbers) %d, window timeouts %d, errors %d%n",
                    sockets, window, size, targets.size(), countedReplies, seconds, sent, skipped, timeouts, errors);
            System.out.printf(Locale.ROOT, "RESULT %.1f%n", rate);
            if (countedReplies == 0) {
                System.exit(3);
            }
        } finally {
            for (DatagramChannel channel : channels) {
                if (channel != null) {
                    channel.close();
                }
            }
        }
    }

    /** Sends datagrams on socket {@code i} until {@code window} are outstanding; returns how many it sent. */
    private static int fill(DatagramChannel channel, ByteBuffer payload, long[] nextSeq, long[] ackedSeq, int i,
            int window) {
        int count = 0;
        while (nextSeq[i] - ackedSeq[i] < window) {
            payload.putLong(0, nextSeq[i] + 1);
            if (!send(channel, payload)) {
                break;
            }
            nextSeq[i]++;
            count++;
        }
        return count;
    }

    private static boolean send(DatagramChannel channel, ByteBuffer payload) {
        try {
            return channel.write(payload.clear()) > 0;
        } catch (IOException refused) {
            return false;
        }
    }
}
