package io.maglevlb.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedSet;

/**
 * Compares the {@code GET /status} answers of several maglevd hosts VIP by VIP: what {@code maglevd ctl compare}
 * prints. Pure: the answers come in, rows and differences come out.
 *
 * <p>Hosts agree on a VIP when their table digests are equal: the digest is a function of the table size and the
 * participating backends' names and weights only (not of addresses, ids or the generation), so equal
 * configurations with equal live backends give equal digests. The generation counts this host's rebuilds since it
 * started and is shown, never compared.
 *
 * <p>When they disagree, each host is held against the reference: the live backend set most hosts have (ties: the
 * larger set, then the first host's), and a host's missing or extra backends are named with the state the host
 * gives them. With the same live set but a different digest the weights or table size differ, and those are named.
 */
final class FleetComparison {
    /** One host's answer: its {@code /status} JSON, or why there is none. */
    record Host(String name, JsonNode status, String error) {
        static Host reached(String name, JsonNode status) {
            return new Host(name, Objects.requireNonNull(status), null);
        }

        static Host failed(String name, String error) {
            return new Host(name, null, Objects.requireNonNull(error));
        }
    }

    /** One host's view of one VIP; {@code vip} null when the host has no such VIP. */
    record Row(String host, JsonNode vip) {
        long generation() {
            return vip.path("generation").asLong();
        }

        String digest() {
            return vip.path("digest").asText();
        }

        int tableSize() {
            return vip.path("tableSize").asInt();
        }

        /** Backends that own slots: healthy, not drained, weight above 0; in the host's order. */
        SequencedSet<String> live() {
            SequencedSet<String> names = new LinkedHashSet<>();
            for (JsonNode b : vip.path("backends")) {
                if (isLive(b)) {
                    names.add(b.path("name").asText());
                }
            }
            return names;
        }

        JsonNode backend(String name) {
            for (JsonNode b : vip.path("backends")) {
                if (name.equals(b.path("name").asText())) {
                    return b;
                }
            }
            return null;
        }
    }

    /** One VIP across the hosts that answered, with what differs (empty when they agree). */
    record VipReport(String vip, List<Row> rows, List<String> differences) {
        boolean agrees() {
            return differences.isEmpty();
        }
    }

    /** Every VIP any host has (first seen first), and the hosts that could not be asked. */
    record Report(List<VipReport> vips, List<Host> unreachable) {
        boolean agrees() {
            return vips.stream().allMatch(VipReport::agrees);
        }
    }

    private FleetComparison() {}

    static Report compare(List<Host> hosts) {
        List<Host> reached = hosts.stream().filter(h -> h.status() != null).toList();
        List<Host> unreachable = hosts.stream().filter(h -> h.status() == null).toList();
        Map<String, List<Row>> byVip = new LinkedHashMap<>();
        for (Host h : reached) {
            for (JsonNode v : h.status().path("vips")) {
                byVip.computeIfAbsent(v.path("name").asText(), k -> new ArrayList<>());
            }
        }
        for (Map.Entry<String, List<Row>> e : byVip.entrySet()) {
            for (Host h : reached) {
                e.getValue().add(new Row(h.name(), findVip(h.status(), e.getKey())));
            }
        }
        List<VipReport> reports = new ArrayList<>();
        byVip.forEach((vip, rows) -> reports.add(new VipReport(vip, rows, differences(vip, rows))));
        return new Report(reports, unreachable);
    }

    private static JsonNode findVip(JsonNode status, String name) {
        for (JsonNode v : status.path("vips")) {
            if (name.equals(v.path("name").asText())) {
                return v;
            }
        }
        return null;
    }

    private static List<String> differences(String vip, List<Row> rows) {
        List<String> out = new ArrayList<>();
        List<Row> present = new ArrayList<>();
        for (Row r : rows) {
            if (r.vip() == null) {
                out.add("vip " + vip + ": host " + r.host() + " has no vip " + vip);
            } else {
                present.add(r);
            }
        }
        if (present.stream().map(Row::digest).distinct().count() <= 1) {
            return out;
        }
        // Reference: the live set most hosts have; on a tie the larger set ("B lacks x" reads better than "A has
        // x"), then the first host's.
        Map<SequencedSet<String>, Integer> votes = new LinkedHashMap<>();
        for (Row r : present) {
            votes.merge(r.live(), 1, Integer::sum);
        }
        SequencedSet<String> reference = present.getFirst().live();
        for (Map.Entry<SequencedSet<String>, Integer> e : votes.entrySet()) {
            int v = e.getValue();
            int best = votes.get(reference);
            if (v > best || (v == best && e.getKey().size() > reference.size())) {
                reference = e.getKey();
            }
        }
        Row model = null;
        for (Row r : present) {
            if (r.live().equals(reference)) {
                model = r;
                break;
            }
        }
        for (Row r : present) {
            if (r.digest().equals(model.digest())) {
                continue;
            }
            SequencedSet<String> live = r.live();
            int before = out.size();
            for (String b : reference) {
                if (!live.contains(b)) {
                    out.add("vip " + vip + ": host " + r.host() + " lacks " + b + " (" + state(r.backend(b)) + ")");
                }
            }
            for (String b : live) {
                if (!reference.contains(b)) {
                    out.add("vip " + vip + ": host " + r.host() + " has " + b + " in its table, " + model.host()
                            + " does not (" + state(model.backend(b)) + " there)");
                }
            }
            if (out.size() == before) {
                // Same live set, different table: the weights or the table size differ.
                if (r.tableSize() != model.tableSize()) {
                    out.add("vip " + vip + ": host " + r.host() + " has table size " + r.tableSize() + ", "
                            + model.host() + " " + model.tableSize());
                }
                for (String b : live) {
                    int w = r.backend(b).path("weight").asInt();
                    int mw = model.backend(b).path("weight").asInt();
                    if (w != mw) {
                        out.add("vip " + vip + ": host " + r.host() + " gives " + b + " weight " + w + ", "
                                + model.host() + " weight " + mw);
                    }
                }
                if (out.size() == before) {
                    out.add("vip " + vip + ": host " + r.host() + " has digest " + r.digest() + ", " + model.host()
                            + " " + model.digest() + " (same live backends, weights and size)");
                }
            }
        }
        return out;
    }

    static boolean isLive(JsonNode b) {
        return b.path("healthy").asBoolean() && !b.path("drained").asBoolean() && b.path("weight").asInt() > 0;
    }

    /** Why a backend is not live on a host: down, drained, weight 0, or not configured there. */
    static String state(JsonNode b) {
        if (b == null) {
            return "not configured";
        }
        List<String> why = new ArrayList<>();
        if (!b.path("healthy").asBoolean()) {
            why.add("down");
        }
        if (b.path("drained").asBoolean()) {
            why.add("drained");
        }
        if (b.path("weight").asInt() == 0) {
            why.add("weight 0");
        }
        return why.isEmpty() ? "live" : String.join(", ", why);
    }
}
