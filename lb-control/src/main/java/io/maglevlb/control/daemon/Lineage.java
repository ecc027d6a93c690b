package io.maglevlb.control.daemon;

import java.time.Instant;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Where this process stands in a chain of takeovers: generation 1 is a process started with {@code run}; a process
 * that took over from generation {@code n} is generation {@code n + 1}, with that process as its parent.
 *
 * @param generation 1, plus one per takeover
 * @param parentPid the process it took over from (empty for generation 1)
 * @param startedAt when this process started (JVM start)
 */
public record Lineage(long generation, OptionalLong parentPid, Instant startedAt) {
    public Lineage {
        Objects.requireNonNull(parentPid, "parentPid");
        Objects.requireNonNull(startedAt, "startedAt");
        if (generation < 1) {
            throw new IllegalArgumentException("generation starts at 1, was " + generation);
        }
    }

    /** This process's start time as the JVM saw it. */
    public static Instant processStart() {
        return ProcessHandle.current().info().startInstant().orElseGet(Instant::now);
    }

    /** A process started with {@code run}, not by a takeover. */
    public static Lineage first() {
        return new Lineage(1, OptionalLong.empty(), processStart());
    }

    /** A process that took over from {@code parentPid}, of generation {@code parentGeneration}. */
    public static Lineage successorOf(long parentGeneration, long parentPid) {
        return new Lineage(parentGeneration + 1, OptionalLong.of(parentPid), processStart());
    }
}
