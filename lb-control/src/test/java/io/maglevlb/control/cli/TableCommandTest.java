package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.MaglevdMainTest.Run;
import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TableCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("maglevd.yaml"), text);
    }

    private static JsonNode json(Run r) throws IOException {
        assertEquals(0, r.exitCode(), r::toString);
        return JSON.readTree(r.out());
    }

    private static JsonNode backend(JsonNode report, String name) {
        for (JsonNode b : report.get("backends")) {
            if (b.get("name").asText().equals(name)) {
                return b;
            }
        }
        throw new AssertionError("no backend " + name + " in " + report.get("backends"));
    }

    @Test
    void jsonHasTheTableAndPerBackendSlots() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG);
        JsonNode r = json(MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--format", "json"));
        assertEquals("web", r.get("vip").asText());
        assertEquals(65537, r.get("size").asInt());
        JsonNode table = r.get("table");
        assertEquals(65537, table.size());
        Map<String, Integer> counted = new HashMap<>();
        table.forEach(slot -> counted.merge(slot.asText(), 1, Integer::sum));
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (String name : List.of("web-1", "web-2", "web-3")) {
            JsonNode b = backend(r, name);
            assertEquals(1, b.get("weight").asInt());
            assertEquals(counted.get(name).intValue(), b.get("slots").asInt(), name);
            min = Math.min(min, b.get("slots").asInt());
            max = Math.max(max, b.get("slots").asInt());
        }
        // Maglev's even spread: equal weights differ by at most a few slots of 21845.
        assertTrue(max - min <= 0.01 * 65537 / 3, () -> r.get("backends").toString());
        assertEquals(min, r.get("min_slots").asInt());
        assertEquals(max, r.get("max_slots").asInt());
        // The digest is the one lb-core computes for the same (name, weight) set and size.
        MaglevTable expected = MaglevTable.build(List.of(new MaglevBackend("web-3", 1), new MaglevBackend("web-1", 1),
                new MaglevBackend("web-2", 1)), 65537);
        assertEquals(ForwardingSnapshot.digest(expected), r.get("digest").asText());
        for (int slot = 0; slot < 65537; slot += 997) {
            assertEquals(expected.backends().get(expected.slot(slot)).name(), table.get(slot).asText());
        }
    }

    @Test
    void withoutAndWeightZeroGetNoSlots() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG.replace("address: 127.0.0.1:9003",
                "address: 127.0.0.1:9003\n        weight: 0"));
        JsonNode r = json(MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--without",
                "web-2", "--format", "json"));
        assertEquals(0, backend(r, "web-2").get("slots").asInt());
        assertEquals("excluded", backend(r, "web-2").get("status").asText());
        assertEquals(0, backend(r, "web-3").get("slots").asInt());
        assertEquals("weight 0", backend(r, "web-3").get("status").asText());
        assertEquals(65537, backend(r, "web-1").get("slots").asInt());
        assertEquals(1.0, backend(r, "web-1").get("ideal_share").asDouble());
        r.get("table").forEach(slot -> assertEquals("web-1", slot.asText()));
    }

    @Test
    void allBackendsOutLeavesEverySlotEmpty() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG);
        JsonNode r = json(MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "dns", "--without",
                "dns-1", "--format", "json"));
        assertEquals(1009, r.get("table").size());
        r.get("table").forEach(slot -> assertTrue(slot.isNull()));
        Run summary = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "dns", "--without", "dns-1");
        assertEquals(0, summary.exitCode());
        assertTrue(summary.out().contains("no backend is in the table"), summary::toString);
    }

    @Test
    void weightsSetShares() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG.replace("address: 127.0.0.1:9001",
                "address: 127.0.0.1:9001\n        weight: 2"));
        JsonNode r = json(MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--format", "json"));
        assertEquals(0.5, backend(r, "web-1").get("ideal_share").asDouble());
        assertEquals(0.5, backend(r, "web-1").get("share").asDouble(), 0.01);
        assertEquals(0.25, backend(r, "web-2").get("share").asDouble(), 0.01);
        assertTrue(r.get("max_deviation").asDouble() < 0.02, r.get("max_deviation")::toString);
    }

    @Test
    void summaryShowsSizeDigestAndShares() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG);
        Run json = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--format", "json");
        String digest = JSON.readTree(json.out()).get("digest").asText();
        Run r = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--without", "web-3");
        assertEquals(0, r.exitCode(), r::toString);
        String out = r.out();
        assertTrue(out.contains("vip:        web (tcp 127.0.0.1:8080, mode proxy, hash 5-tuple)"), out);
        assertTrue(out.contains("table size: 65537"), out);
        assertTrue(out.contains("backends:   3 (2 in the table)"), out);
        assertTrue(out.contains("BACKEND  WEIGHT     SLOTS     SHARE     IDEAL  STATUS"), out);
        assertTrue(out.matches("(?s).*web-3         1         0    0\\.000%    0\\.000%  excluded.*"), out);
        assertTrue(out.matches("(?s).*web-1         1     3276[0-9]   (49|50)\\.[0-9]{3}%   50\\.000%  in table.*"), out);
        assertTrue(out.contains("slots per backend in the table: min "), out);
        assertTrue(out.contains("max deviation from ideal share: "), out);
        // Excluding a backend changes the table, so the digest differs from the full table's.
        assertTrue(out.contains("digest:     "), out);
        assertTrue(!out.contains(digest), "digest with web-3 excluded must differ from the full table's");
    }

    @Test
    void unknownVipListsTheVips() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG);
        Run r = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "mail");
        assertEquals(1, r.exitCode());
        assertEquals("maglevd table: " + file + " has no VIP 'mail'; its VIPs: web, dns", r.err().strip());
    }

    @Test
    void unknownWithoutBackendListsTheBackends() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG);
        Run r = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web", "--without", "web-1,web-9");
        assertEquals(1, r.exitCode());
        assertEquals("maglevd table: VIP 'web' has no backend 'web-9'; its backends: web-1, web-2, web-3",
                r.err().strip());
    }

    @Test
    void invalidConfigFailsWithItsErrors() throws Exception {
        Path file = write(MaglevdMainTest.CONFIG.replace("table_size: 1009", "table_size: 1008"));
        Run r = MaglevdMainTest.run("table", "--config", file.toString(), "--vip", "web");
        assertEquals(1, r.exitCode());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith(file + ":14:17: vips[1].table_size: must be prime"), r::toString);
        assertNotNull(r.err());
    }
}
