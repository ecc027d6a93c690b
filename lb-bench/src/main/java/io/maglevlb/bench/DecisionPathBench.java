package io.maglevlb.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.AddressBits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-flow decision as the dataplane makes it, from what the kernel (or Netty) hands over to the backend id,
 * over 65,536 different clients so every step touches a cold-ish slot:
 *
 * <ul>
 *   <li>{@link #udpDatagram}: a client datagram on a UDP VIP ({@code UdpVipLoop}): the sender's
 *       {@code InetSocketAddress} as Netty delivers it, its address bytes split into the two longs
 *       ({@code AddressBits}), the 5-tuple hash, and {@code FlowTable.resolve} on a full table of tracked flows
 *       (a hit, the common case), which returns the flow's backend.</li>
 *   <li>{@link #tcpConnection}: a new connection on the raw TCP relay ({@code RawTcpConnection}): the client's
 *       {@code sockaddr_in} as {@code accept4} wrote it into native memory, read in place, the 5-tuple hash and
 *       {@code ForwardingSnapshot.backendFor}. TCP keeps no flow table: the connection is its own state.</li>
 * </ul>
 *
 * Run with {@code -prof gc}: the decision path must not allocate (the one candidate is
 * {@code InetAddress.getAddress()}'s copy, which the JIT scalar-replaces).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DecisionPathBench {
    private static final int FLOWS = 65536;
    private static final int UDP = 17;
    private static final int TCP = 6;
    private static final int BACKENDS = 10;
    private static final long VIP_HI = FlowHash.v4Hi();
    private static final long VIP_LO = FlowHash.v4Lo(0xc612_0001); // 198.18.0.1
    private static final int VIP_PORT = 53;
    private static final int SOCKADDR_IN = 16;
    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt ADDRESS = JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN);

    private final InetSocketAddress[] senders = new InetSocketAddress[FLOWS];
    private MemorySegment sockaddrs;
    private ForwardingSnapshot snapshot;
    private FlowTable table;
    private int next;
    private long nowNs;

    @Setup
    public void setUp() throws UnknownHostException {
        snapshot = ForwardingSnapshot.build("bench", 1, MaglevTable.DEFAULT_SIZE,
                BenchInputs.backendStates(BACKENDS));
        table = new FlowTable(FLOWS, 60_000_000_000L, 0);
        sockaddrs = Arena.ofAuto().allocate((long) FLOWS * SOCKADDR_IN, 8);
        SplittableRandom random = new SplittableRandom(7);
        nowNs = 1_000_000_000L;
        for (int i = 0; i < FLOWS; i++) {
            int ip = random.nextInt();
            int port = random.nextInt(1024, 65536);
            byte[] raw = {(byte) (ip >>> 24), (byte) (ip >>> 16), (byte) (ip >>> 8), (byte) ip};
            senders[i] = new InetSocketAddress(InetAddress.getByAddress(raw), port);
            long at = (long) i * SOCKADDR_IN;
            sockaddrs.set(JAVA_SHORT, at, (short) 2); // AF_INET, host order as the kernel writes it
            sockaddrs.set(PORT, at + 2, (short) port);
            sockaddrs.set(ADDRESS, at + 4, ip);
            udpDatagram(); // tracks the flow: the measured calls are hits
            nowNs++;
        }
        next = 0;
    }

    private int nextIndex() {
        int i = next;
        next = (i + 1) & (FLOWS - 1);
        return i;
    }

    @Benchmark
    public int udpDatagram() {
        InetSocketAddress sender = senders[nextIndex()];
        byte[] raw = sender.getAddress().getAddress();
        long hi = AddressBits.hi(raw);
        long lo = AddressBits.lo(raw);
        int port = sender.getPort();
        long hash = FlowHash.fiveTuple(UDP, hi, lo, port, VIP_HI, VIP_LO, VIP_PORT);
        return table.resolve(snapshot, hash, UDP, hi, lo, port, VIP_HI, VIP_LO, VIP_PORT, nowNs);
    }

    @Benchmark
    public int tcpConnection() {
        long at = (long) nextIndex() * SOCKADDR_IN;
        int port = Short.toUnsignedInt(sockaddrs.get(PORT, at + 2));
        long lo = FlowHash.v4Lo(sockaddrs.get(ADDRESS, at + 4));
        long hash = FlowHash.fiveTuple(TCP, FlowHash.v4Hi(), lo, port, VIP_HI, VIP_LO, VIP_PORT);
        return snapshot.backendFor(hash);
    }
}
