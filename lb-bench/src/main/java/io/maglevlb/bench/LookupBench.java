package io.maglevlb.bench;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
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
 * The per-new-flow decision: hash the flow, read the snapshot's slot. Flows come from a pre-generated ring
 * of {@value #FLOWS} random tuples (so the JIT cannot fold the hash and lookups hit random slots of a
 * 65537-slot table, N=100); reading the ring costs about a nanosecond of each result, which the
 * {@code ringRead} baseline shows. {@code -prof gc} should show 0 B/op everywhere.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LookupBench {
    private static final int FLOWS = 4096; // power of two: the ring index is a mask
    private static final int BACKENDS = 100;

    private final int[] srcIp = new int[FLOWS];
    private final int[] dstIp = new int[FLOWS];
    private final int[] srcPort = new int[FLOWS];
    private final long[] v6SrcHi = new long[FLOWS];
    private final long[] v6SrcLo = new long[FLOWS];
    private final long[] v6DstLo = new long[FLOWS];
    private final long[] hashes = new long[FLOWS];
    private ForwardingSnapshot snapshot;
    private MaglevTable table;
    private int next;

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < FLOWS; i++) {
            srcIp[i] = random.nextInt();
            dstIp[i] = random.nextInt();
            srcPort[i] = random.nextInt(1024, 65536);
            v6SrcHi[i] = 0x20010db800000000L | random.nextInt() & 0xffff_ffffL;
            v6SrcLo[i] = random.nextLong();
            v6DstLo[i] = random.nextLong();
            hashes[i] = random.nextLong();
        }
        snapshot = ForwardingSnapshot.build("bench", 1, MaglevTable.DEFAULT_SIZE,
                BenchInputs.backendStates(BACKENDS));
        table = MaglevTable.build(BenchInputs.maglevBackends(BACKENDS), MaglevTable.DEFAULT_SIZE);
    }

    private int nextFlow() {
        int i = next;
        next = (i + 1) & (FLOWS - 1);
        return i;
    }

    /** Baseline: the cost of fetching one tuple from the ring. */
    @Benchmark
    public int ringRead() {
        int i = nextFlow();
        return srcIp[i] ^ dstIp[i] ^ srcPort[i];
    }

    /** IPv4 TCP 5-tuple hash alone. */
    @Benchmark
    public long fiveTupleV4() {
        int i = nextFlow();
        return FlowHash.fiveTuple(6, FlowHash.v4Hi(), FlowHash.v4Lo(srcIp[i]), srcPort[i], FlowHash.v4Hi(),
                FlowHash.v4Lo(dstIp[i]), 443);
    }

    /** The full decision for an IPv4 TCP flow: 5-tuple hash + snapshot slot read. */
    @Benchmark
    public int fiveTupleV4BackendFor() {
        int i = nextFlow();
        long hash = FlowHash.fiveTuple(6, FlowHash.v4Hi(), FlowHash.v4Lo(srcIp[i]), srcPort[i], FlowHash.v4Hi(),
                FlowHash.v4Lo(dstIp[i]), 443);
        return snapshot.backendFor(hash);
    }

    /** The full decision for an IPv6 TCP flow. */
    @Benchmark
    public int fiveTupleV6BackendFor() {
        int i = nextFlow();
        long hash = FlowHash.fiveTuple(6, v6SrcHi[i], v6SrcLo[i], srcPort[i], 0x20010db800000000L, v6DstLo[i], 443);
        return snapshot.backendFor(hash);
    }

    /** The full decision in source-IP mode (IPv4). */
    @Benchmark
    public int sourceIpBackendFor() {
        int i = nextFlow();
        return snapshot.backendFor(FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(srcIp[i])));
    }

    /** The slot read alone, on a precomputed hash: {@link ForwardingSnapshot#backendFor}. */
    @Benchmark
    public int backendFor() {
        return snapshot.backendFor(hashes[nextFlow()]);
    }

    /** The slot read alone on the bare table: {@link MaglevTable#lookup}. */
    @Benchmark
    public int maglevTableLookup() {
        return table.lookup(hashes[nextFlow()]);
    }
}
