package io.maglevlb.bench;

import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
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
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * The per-packet flow-table decision ({@link FlowTable#resolve}) on a full 64k-entry table, one forwarding
 * thread's worth of UDP flows to one VIP with 10 backends. Flow hashes are precomputed (the hash has its own
 * benchmark in LookupBench): this measures the table alone.
 *
 * <ul>
 *   <li>{@code hit}: resolve on a tracked flow, cycling through all 65536 tracked flows, so each call probes a
 *       random index slot and a random entry of a 5 MB table (cache misses included).
 *   <li>{@code hitSameFlow}: resolve on one tracked flow again and again: the code path with warm caches.
 *   <li>{@code missInsert}: resolve on a flow never seen: lookup miss, Maglev pick, and insert into the full
 *       table, which replaces the least recently seen of the sampled entries (and tells the listener).
 *   <li>{@code findMiss}: lookup of an untracked flow in the full table.
 * </ul>
 *
 * {@code -prof gc} should show 0 B/op everywhere. On a shared, oversubscribed machine the wall-clock score
 * includes time the thread waited for a core; add {@code -prof 'io.maglevlb.bench.FlowTableBench$CpuTime'}
 * for the CPU time the benchmark process actually spent per operation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FlowTableBench {
    private static final int CAPACITY = 65536;
    private static final int NEW_FLOWS = 1 << 20; // ring of never-tracked flows for the miss benchmarks
    private static final int UDP = 17;
    private static final int BACKENDS = 10;
    private static final long VIP_LO = FlowHash.v4Lo(0xc612_0001); // 198.18.0.1
    private static final int VIP_PORT = 53;
    private static final long IDLE_TIMEOUT_NS = 60_000_000_000L;

    private final int[] trackedIp = new int[CAPACITY];
    private final int[] trackedPort = new int[CAPACITY];
    private final long[] trackedHash = new long[CAPACITY];
    private final int[] newIp = new int[NEW_FLOWS];
    private final int[] newPort = new int[NEW_FLOWS];
    private final long[] newHash = new long[NEW_FLOWS];

    private ForwardingSnapshot snapshot;
    private FlowTable table;
    private int nextTracked;
    private int nextNew;
    private long nowNs;

    @Setup
    public void setUp() {
        List<BackendState> backends = new ArrayList<>();
        for (int i = 1; i <= BACKENDS; i++) {
            backends.add(new BackendState(i, "backend-" + i, new InetSocketAddress("127.0.0.1", 9000 + i), 1,
                    false, true));
        }
        snapshot = ForwardingSnapshot.build("bench", 1, MaglevTable.DEFAULT_SIZE, backends);
        table = new FlowTable(CAPACITY, IDLE_TIMEOUT_NS, 0);
        SplittableRandom random = new SplittableRandom(42);
        // Tracked clients use source addresses with the top bit clear, new ones with it set: never equal.
        for (int i = 0; i < CAPACITY; i++) {
            trackedIp[i] = random.nextInt() & 0x7fff_ffff;
            trackedPort[i] = random.nextInt(1024, 65536);
            trackedHash[i] = hash(trackedIp[i], trackedPort[i]);
        }
        for (int i = 0; i < NEW_FLOWS; i++) {
            newIp[i] = random.nextInt() | 0x8000_0000;
            newPort[i] = random.nextInt(1024, 65536);
            newHash[i] = hash(newIp[i], newPort[i]);
        }
        nowNs = 1_000_000_000L;
        for (int i = 0; i < CAPACITY; i++) {
            resolveTracked(i);
            nowNs++;
        }
        if (table.size() != CAPACITY) {
            throw new IllegalStateException("expected a full table, have " + table.size());
        }
    }

    private static long hash(int ip, int port) {
        return FlowHash.fiveTuple(UDP, FlowHash.v4Hi(), FlowHash.v4Lo(ip), port, FlowHash.v4Hi(), VIP_LO, VIP_PORT);
    }

    private int resolveTracked(int i) {
        return table.resolve(snapshot, trackedHash[i], UDP, FlowHash.v4Hi(), FlowHash.v4Lo(trackedIp[i]),
                trackedPort[i], FlowHash.v4Hi(), VIP_LO, VIP_PORT, nowNs);
    }

    @Benchmark
    public int hit() {
        int i = nextTracked;
        nextTracked = (i + 1) & (CAPACITY - 1);
        return resolveTracked(i);
    }

    @Benchmark
    public int hitSameFlow() {
        return resolveTracked(12345);
    }

    @Benchmark
    public int missInsert() {
        int i = nextNew;
        nextNew = (i + 1) & (NEW_FLOWS - 1);
        // Time moves on per packet, as between batches: the replacement victim is never "seen now".
        long now = ++nowNs;
        return table.resolve(snapshot, newHash[i], UDP, FlowHash.v4Hi(), FlowHash.v4Lo(newIp[i]), newPort[i],
                FlowHash.v4Hi(), VIP_LO, VIP_PORT, now);
    }

    @Benchmark
    public int findMiss() {
        int i = nextNew;
        nextNew = (i + 1) & (NEW_FLOWS - 1);
        return table.find(newHash[i], UDP, FlowHash.v4Hi(), FlowHash.v4Lo(newIp[i]), newPort[i], FlowHash.v4Hi(),
                VIP_LO, VIP_PORT, nowNs);
    }

    /**
     * JMH profiler: process CPU time per operation over each iteration ({@code cpu.time.norm}, ns/op). On an
     * idle machine it matches the score; on a busy one it leaves out the time spent waiting for a core. It
     * includes the JVM's other threads (JIT, GC), which are near idle once warmed up.
     */
    public static final class CpuTime implements InternalProfiler {
        private final com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        private long startCpuNs;

        @Override
        public String getDescription() {
            return "process CPU time per operation";
        }

        @Override
        public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
            startCpuNs = os.getProcessCpuTime();
        }

        @Override
        public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
                IterationParams iterationParams, IterationResult result) {
            long cpuNs = os.getProcessCpuTime() - startCpuNs;
            long ops = Math.max(1, result.getMetadata().getAllOps());
            return List.of(new ScalarResult("cpu.time.norm", (double) cpuNs / ops, "ns/op", AggregationPolicy.AVG));
        }
    }
}
