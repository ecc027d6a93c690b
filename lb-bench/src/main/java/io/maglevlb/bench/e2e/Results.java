package io.maglevlb.bench.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The raw results of one scripts/bench run: every measured value per metric and peer, plus the reasons for runs
 * that were skipped. Read from the tab-separated file the script appends to, one line per measurement:
 * <pre>round  peer  metric  value  note</pre>
 * where {@code value} is a number, or {@code NA} for a skipped run whose {@code note} says why; the note of a
 * measured value is free text, shown in the report when it starts with {@code warning:}.
 */
final class Results {

    /** Median, minimum and maximum of one metric for one peer over the rounds. */
    record Stats(double median, double min, double max, int n) {
        static Stats of(List<Double> values) {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = sorted.length;
            double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
            return new Stats(median, sorted[0], sorted[n - 1], n);
        }
    }

    private final Map<Metric, Map<Peer, List<Double>>> values = new EnumMap<>(Metric.class);
    private final Map<Metric, Map<Peer, Set<String>>> skips = new EnumMap<>(Metric.class);
    private final List<String> warnings = new ArrayList<>();
    private int rounds;

    static Results read(Path raw) throws IOException {
        Results results = new Results();
        int lineNo = 0;
        for (String line : Files.readAllLines(raw, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank() || line.startsWith("#") || line.startsWith("round\t")) {
                continue;
            }
            String[] cols = line.split("\t", -1);
            if (cols.length < 4) {
                throw new IllegalArgumentException(raw + ":" + lineNo + ": expected round, peer, metric, value[, note]");
            }
            String where = raw + ":" + lineNo + ": ";
            int round;
            try {
                round = Integer.parseInt(cols[0]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + "bad round '" + cols[0] + "'", e);
            }
            Peer peer = Peer.byId(cols[1])
                    .orElseThrow(() -> new IllegalArgumentException(where + "unknown peer '" + cols[1] + "'"));
            Metric metric = Metric.byId(cols[2])
                    .orElseThrow(() -> new IllegalArgumentException(where + "unknown metric '" + cols[2] + "'"));
            String note = cols.length > 4 ? cols[4] : "";
            results.rounds = Math.max(results.rounds, round);
            if (cols[3].equals("NA")) {
                results.skips.computeIfAbsent(metric, m -> new EnumMap<>(Peer.class))
                        .computeIfAbsent(peer, p -> new LinkedHashSet<>()).add(note.isEmpty() ? "skipped" : note);
                continue;
            }
            double value;
            try {
                value = Double.parseDouble(cols[3]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + "bad value '" + cols[3] + "'", e);
            }
            results.values.computeIfAbsent(metric, m -> new EnumMap<>(Peer.class))
                    .computeIfAbsent(peer, p -> new ArrayList<>()).add(value);
            if (note.startsWith("warning:")) {
                results.warnings.add(metric.label + ", " + peer.display + ", round " + round + ": "
                        + note.substring("warning:".length()).strip());
            }
        }
        return results;
    }

    /** Notes of measured values that the script flagged as {@code warning: ...} (wrk errors, say). */
    List<String> warnings() {
        return warnings;
    }

    int rounds() {
        return rounds;
    }

    /** Metrics with at least one value or skip, in {@link Metric} order. */
    List<Metric> metrics() {
        return Arrays.stream(Metric.values()).filter(m -> values.containsKey(m) || skips.containsKey(m)).toList();
    }

    Optional<Stats> stats(Metric metric, Peer peer) {
        List<Double> list = values.getOrDefault(metric, Map.of()).get(peer);
        return list == null || list.isEmpty() ? Optional.empty() : Optional.of(Stats.of(list));
    }

    List<Double> values(Metric metric, Peer peer) {
        return values.getOrDefault(metric, Map.of()).getOrDefault(peer, List.of());
    }

    Set<String> skipReasons(Metric metric, Peer peer) {
        return skips.getOrDefault(metric, Map.of()).getOrDefault(peer, Set.of());
    }

    /** Whether {@code peer} was measured or skipped for {@code metric} (direct has no memory figure, say). */
    boolean applies(Metric metric, Peer peer) {
        return stats(metric, peer).isPresent() || !skipReasons(metric, peer).isEmpty();
    }

    /** maglevd's median divided by {@code reference}'s median, when both were measured. */
    OptionalDouble ratio(Metric metric, Peer reference) {
        Optional<Stats> mine = stats(metric, Peer.MAGLEVD);
        Optional<Stats> theirs = stats(metric, reference);
        if (mine.isEmpty() || theirs.isEmpty() || theirs.get().median() == 0) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(mine.get().median() / theirs.get().median());
    }
}
