package io.maglevlb.bench;

import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Maglev table build time against the paper's figures (NSDI 2016, §5.3: 1.8 ms at M=65537 and 22.9 ms at
 * M=655373, both N=1000).
 *
 * <ul>
 *   <li>{@code table}: {@link MaglevTable#build} from names and weights, including sorting, validation and
 *       the two murmur3 hashes per backend: what the control plane pays per rebuild of the table itself.
 *   <li>{@code populate}: only the population loop, on precomputed offsets and skips.
 *   <li>{@code snapshot}: {@link ForwardingSnapshot#build}, the full rebuild of a VIP: the table, the
 *       index-to-id mapping, per-id arrays and the SHA-256 digest.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MaglevBuildBench {

    @Param({"65537", "655373"})
    int m;

    @Param({"10", "100", "1000"})
    int n;

    private List<MaglevBackend> backends;
    private List<BackendState> states;
    private int[] offsets;
    private int[] skips;
    private int[] weights;

    @Setup
    public void setUp() {
        backends = BenchInputs.maglevBackends(n);
        states = BenchInputs.backendStates(n);
        MaglevTable reference = MaglevTable.build(backends, m);
        List<MaglevBackend> sorted = reference.backends();
        offsets = new int[n];
        skips = new int[n];
        weights = new int[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = MaglevTable.offset(sorted.get(i).name(), m);
            skips[i] = MaglevTable.skip(sorted.get(i).name(), m);
            weights[i] = sorted.get(i).weight();
        }
    }

    @Benchmark
    public MaglevTable table() {
        return MaglevTable.build(backends, m);
    }

    @Benchmark
    public int[] populate() {
        return MaglevTable.populate(offsets, skips, weights, m);
    }

    @Benchmark
    public ForwardingSnapshot snapshot() {
        return ForwardingSnapshot.build("bench", 1, m, states);
    }
}
