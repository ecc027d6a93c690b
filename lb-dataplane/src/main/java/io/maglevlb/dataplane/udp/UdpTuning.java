package io.maglevlb.dataplane.udp;

import static com.google.common.base.Preconditions.checkArgument;

import java.time.Duration;

/**
 * Socket and batching knobs of the UDP forwarder that are not part of the YAML configuration: the defaults
 * are what docs/udp.md measured; the other values exist so the batching measurement can compare them.
 *
 * @param recvBatch datagrams one {@code recvmmsg} call may read on a socket (on epoll: VIP and backend sockets,
 *     and the size of each loop's native batches; on NIO: the VIP sockets only); 1 = one datagram per call
 * @param deferFlush true: consecutive datagrams of one read batch to the same socket leave in one
 *     {@code sendmmsg}; false: every datagram is sent on its own
 * @param vipReceiveBufferBytes SO_RCVBUF requested for each VIP socket (the kernel caps it at
 *     {@code net.core.rmem_max}); 0 = the kernel default
 * @param vipSendBufferBytes SO_SNDBUF requested for each VIP socket; 0 = the kernel default
 * @param maxExpiryInterval the longest time between two idle sweeps of a loop's flow table
 * @param segmentOffload on epoll, with {@code deferFlush}: consecutive datagrams of one size to one peer leave as
 *     one UDP GSO send ({@code UDP_SEGMENT}), which the kernel passes through its stack once and splits late
 * @param passPauseNanos on epoll: after a pass over the event loop's ready sockets in which a VIP's loop moved only
 *     a few datagrams (fewer than 8) while its datagrams arrive back to back (the pass began within 100 µs of the
 *     end of the previous one), the event loop sleeps this long before it waits on epoll again, so that the next
 *     pass finds more datagrams per socket and spends fewer system calls and less of the kernel's per-call work on
 *     each (docs/benchmarks.md, "UDP: fewer, fuller passes"). Adds up to this (plus the kernel's timer slack, 50 µs
 *     by default) to the latency of what that loop forwards meanwhile, TCP included, and only while datagrams
 *     arrive back to back and pauses pay (a pause after which the loop does not move at least twice as much backs
 *     off, see {@code NativeUdpVipLoop}); 0 = never
 */
public record UdpTuning(int recvBatch, boolean deferFlush, int vipReceiveBufferBytes, int vipSendBufferBytes,
        Duration maxExpiryInterval, boolean segmentOffload, long passPauseNanos) {

    /** Largest UDP payload over IPv4 (65535 - 20 byte IP header - 8 byte UDP header). */
    public static final int MAX_DATAGRAM_BYTES = 65507;
    /** Room each receive slot gets: a whole IPv6 jumbo-less datagram payload, so nothing is truncated. */
    static final int RECEIVE_SLOT_BYTES = 65535;

    public static final int DEFAULT_RECV_BATCH = 16;
    public static final boolean DEFAULT_DEFER_FLUSH = true;
    public static final int DEFAULT_VIP_RECEIVE_BUFFER_BYTES = 4 << 20;
    public static final int DEFAULT_VIP_SEND_BUFFER_BYTES = 4 << 20;
    public static final Duration DEFAULT_MAX_EXPIRY_INTERVAL = Duration.ofSeconds(1);
    public static final boolean DEFAULT_SEGMENT_OFFLOAD = true;
    public static final long DEFAULT_PASS_PAUSE_NANOS = 30_000;
    /**
     * System property: the pass pause in whole microseconds, 0..1000 ({@link #passPauseNanos}); 0 turns it off, for
     * an operator who would rather pay the CPU than the latency.
     */
    public static final String PASS_PAUSE_PROPERTY = "maglevd.udp.pass_pause_us";

    public UdpTuning {
        checkArgument(recvBatch >= 1 && recvBatch <= 64, "recvBatch must be 1..64, was %s", recvBatch);
        checkArgument(vipReceiveBufferBytes >= 0, "vipReceiveBufferBytes must be >= 0, was %s",
                vipReceiveBufferBytes);
        checkArgument(vipSendBufferBytes >= 0, "vipSendBufferBytes must be >= 0, was %s", vipSendBufferBytes);
        checkArgument(maxExpiryInterval.toMillis() >= 1, "maxExpiryInterval must be >= 1 ms, was %s",
                maxExpiryInterval);
        checkArgument(passPauseNanos >= 0 && passPauseNanos <= 1_000_000, "passPauseNanos must be 0..1 ms, was %s",
                passPauseNanos);
    }

    public static UdpTuning defaults() {
        return new UdpTuning(DEFAULT_RECV_BATCH, DEFAULT_DEFER_FLUSH, DEFAULT_VIP_RECEIVE_BUFFER_BYTES,
                DEFAULT_VIP_SEND_BUFFER_BYTES, DEFAULT_MAX_EXPIRY_INTERVAL, DEFAULT_SEGMENT_OFFLOAD,
                DEFAULT_PASS_PAUSE_NANOS);
    }

    /**
     * The defaults with {@value #PASS_PAUSE_PROPERTY} applied.
     *
     * @throws IllegalArgumentException naming the property and the values it takes
     */
    public static UdpTuning fromSystemProperties() {
        String pause = System.getProperty(PASS_PAUSE_PROPERTY);
        if (pause == null) {
            return defaults();
        }
        long micros;
        try {
            micros = Long.parseLong(pause.strip());
        } catch (NumberFormatException e) {
            micros = -1;
        }
        if (micros < 0 || micros > 1000) {
            throw new IllegalArgumentException("system property " + PASS_PAUSE_PROPERTY
                    + " must be whole microseconds from 0 (off) to 1000, was '" + pause + "'");
        }
        return defaults().withPassPauseNanos(micros * 1000);
    }

    public UdpTuning withRecvBatch(int value) {
        return new UdpTuning(value, deferFlush, vipReceiveBufferBytes, vipSendBufferBytes, maxExpiryInterval,
                segmentOffload, passPauseNanos);
    }

    public UdpTuning withDeferFlush(boolean value) {
        return new UdpTuning(recvBatch, value, vipReceiveBufferBytes, vipSendBufferBytes, maxExpiryInterval,
                segmentOffload, passPauseNanos);
    }

    public UdpTuning withVipReceiveBufferBytes(int value) {
        return new UdpTuning(recvBatch, deferFlush, value, vipSendBufferBytes, maxExpiryInterval, segmentOffload,
                passPauseNanos);
    }

    public UdpTuning withSegmentOffload(boolean value) {
        return new UdpTuning(recvBatch, deferFlush, vipReceiveBufferBytes, vipSendBufferBytes, maxExpiryInterval,
                value, passPauseNanos);
    }

    public UdpTuning withPassPauseNanos(long value) {
        return new UdpTuning(recvBatch, deferFlush, vipReceiveBufferBytes, vipSendBufferBytes, maxExpiryInterval,
                segmentOffload, value);
    }
}
