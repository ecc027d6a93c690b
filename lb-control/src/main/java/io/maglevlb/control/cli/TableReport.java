package io.maglevlb.control.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.BackendIds;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Maglev table a VIP gets from its configuration, with every backend up except {@code excluded} ones, and
 * how evenly it spreads: per backend its slots, its share of the table and its ideal share by weight.
 *
 * @param vip the configured VIP
 * @param snapshot the table as the forwarding threads would get it
 * @param rows one per configured backend, in configuration order
 * @param minSlots fewest slots of a backend in the table (0 when none is)
 * @param maxSlots most slots of a backend in the table (0 when none is)
 * @param maxDeviation largest |slots / ideal slots - 1| over backends in the table (0.01 = 1%)
 * @param maxDeviationBackend the backend with {@code maxDeviation}, or null when none is in the table
 */
public record TableReport(VipConfig vip, ForwardingSnapshot snapshot, List<Row> rows, int minSlots, int maxSlots,
        double maxDeviation, String maxDeviationBackend) {

    /** Why a backend has no slots, or that it is in the table. */
    public enum Status {
        IN_TABLE("in table"),
        WEIGHT_ZERO("weight 0"),
        EXCLUDED("excluded");

        private final String label;

        Status(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /**
     * @param share slots / table size
     * @param idealShare weight / sum of the weights in the table; 0 for backends not in the table
     */
    public record Row(BackendConfig backend, int id, Status status, int slots, double share, double idealShare) {}

    public TableReport {
        rows = List.copyOf(rows);
    }

    /**
     * Builds the VIP's table with every backend healthy, except those named in {@code excluded} (as if down).
     *
     * @throws IllegalArgumentException when {@code excluded} names a backend the VIP does not have
     */
    public static TableReport build(VipConfig vip, Set<String> excluded) {
        for (String name : excluded) {
            if (vip.backend(name).isEmpty()) {
                throw new IllegalArgumentException("VIP '" + vip.name() + "' has no backend '" + name
                        + "'; its backends: " + String.join(", ", vip.backends().stream()
                                .map(BackendConfig::name).toList()));
            }
        }
        BackendIds ids = new BackendIds();
        List<BackendState> states = new ArrayList<>();
        for (BackendConfig b : vip.backends()) {
            states.add(new BackendState(ids.allocate(), b.name(), b.address(), b.weight(), false,
                    !excluded.contains(b.name())));
        }
        ForwardingSnapshot snapshot = ForwardingSnapshot.build(vip.name(), 1, vip.tableSize(), states);
        long weightInTable = states.stream().mapToLong(BackendState::effectiveWeight).sum();
        int size = snapshot.tableSize();
        List<Row> rows = new ArrayList<>();
        int min = Integer.MAX_VALUE;
        int max = 0;
        double worst = 0;
        String worstName = null;
        for (BackendState s : states) {
            int slots = snapshot.slotCount(s.id());
            Status status = excluded.contains(s.name()) ? Status.EXCLUDED
                    : s.weight() == 0 ? Status.WEIGHT_ZERO : Status.IN_TABLE;
            double ideal = status == Status.IN_TABLE ? (double) s.weight() / weightInTable : 0;
            rows.add(new Row(vip.backend(s.name()).orElseThrow(), s.id(), status, slots, (double) slots / size, ideal));
            if (status == Status.IN_TABLE) {
                min = Math.min(min, slots);
                max = Math.max(max, slots);
                double deviation = Math.abs(slots / (ideal * size) - 1);
                if (worstName == null || deviation > worst) {
                    worst = deviation;
                    worstName = s.name();
                }
            }
        }
        return new TableReport(vip, snapshot, rows, worstName == null ? 0 : min, max, worst, worstName);
    }

    /** The human-readable summary. */
    public void printSummary(PrintWriter out) {
        int size = snapshot.tableSize();
        long inTable = rows.stream().filter(r -> r.status() == Status.IN_TABLE).count();
        out.printf(Locale.ROOT, "vip:        %s (%s %s, mode %s, hash %s)%n", vip.name(), vip.protocol().configName(),
                ConfigValues.formatSocketAddress(vip.listen()), vip.mode().configName(), vip.hash().configName());
        out.printf(Locale.ROOT, "table size: %d%n", size);
        out.printf(Locale.ROOT, "digest:     %s%n", snapshot.digest());
        out.printf(Locale.ROOT, "backends:   %d (%d in the table)%n", rows.size(), inTable);
        out.println();
        int nameWidth = Math.max("BACKEND".length(), rows.stream().mapToInt(r -> r.backend().name().length()).max()
                .orElse(0));
        String format = "%-" + nameWidth + "s  %6s  %8s  %8s  %8s  %s%n";
        out.printf(Locale.ROOT, format, "BACKEND", "WEIGHT", "SLOTS", "SHARE", "IDEAL", "STATUS");
        for (Row r : rows) {
            out.printf(Locale.ROOT, format, r.backend().name(), r.backend().weight(), r.slots(), percent(r.share()),
                    percent(r.idealShare()), r.status().label());
        }
        out.println();
        if (maxDeviationBackend == null) {
            out.println("no backend is in the table: every slot is empty and new flows are refused");
            return;
        }
        out.printf(Locale.ROOT, "slots per backend in the table: min %d, max %d%n", minSlots, maxSlots);
        out.printf(Locale.ROOT, "max deviation from ideal share: %.3f%% (%s)%n", maxDeviation * 100,
                maxDeviationBackend);
    }

    private static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.3f%%", fraction * 100);
    }

    /**
     * The report as one JSON object: {@code vip, protocol, listen, size, digest, backends[{name, address, weight,
     * status, slots, share, ideal_share}], min_slots, max_slots, max_deviation, table[backend name or null per
     * slot]}.
     */
    public void writeJson(Writer writer) throws IOException {
        JsonGenerator g = new JsonFactory().createGenerator(writer);
        g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
        g.writeStartObject();
        g.writeStringField("vip", vip.name());
        g.writeStringField("protocol", vip.protocol().configName());
        g.writeStringField("listen", ConfigValues.formatSocketAddress(vip.listen()));
        g.writeNumberField("size", snapshot.tableSize());
        g.writeStringField("digest", snapshot.digest());
        g.writeArrayFieldStart("backends");
        for (Row r : rows) {
            g.writeStartObject();
            g.writeStringField("name", r.backend().name());
            g.writeStringField("address", ConfigValues.formatSocketAddress(r.backend().address()));
            g.writeNumberField("weight", r.backend().weight());
            g.writeStringField("status", r.status().label());
            g.writeNumberField("slots", r.slots());
            g.writeNumberField("share", r.share());
            g.writeNumberField("ideal_share", r.idealShare());
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeNumberField("min_slots", minSlots);
        g.writeNumberField("max_slots", maxSlots);
        g.writeNumberField("max_deviation", maxDeviation);
        g.writeArrayFieldStart("table");
        for (int slot = 0; slot < snapshot.tableSize(); slot++) {
            BackendState owner = snapshot.backend(snapshot.slotOwner(slot));
            if (owner == null) {
                g.writeNull();
            } else {
                g.writeString(owner.name());
            }
        }
        g.writeEndArray();
        g.writeEndObject();
        g.flush();
    }
}
