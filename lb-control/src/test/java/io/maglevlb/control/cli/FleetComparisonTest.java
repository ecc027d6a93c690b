package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.FleetComparison.Host;
import io.maglevlb.control.cli.FleetComparison.Report;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What {@code ctl compare} says about /status answers that differ in ways two real daemons on one machine cannot
 * easily be made to (weights, table sizes, three-way splits); CompareControlIT covers the real daemons.
 */
class FleetComparisonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A /status with one VIP "web": backends as "name:weight[:down][:drained]". */
    private static JsonNode status(String digest, int tableSize, String... backends) throws Exception {
        StringBuilder b = new StringBuilder();
        for (String spec : backends) {
            String[] f = spec.split(":");
            List<String> flags = List.of(f).subList(2, f.length);
            b.append(b.isEmpty() ? "" : ",").append("""
                    {"name":"%s","weight":%s,"healthy":%s,"drained":%s}""".formatted(f[0], f[1],
                    !flags.contains("down"), flags.contains("drained")));
        }
        return JSON.readTree("""
                {"vips":[{"name":"web","generation":7,"digest":"%s","tableSize":%d,"backends":[%s]}]}"""
                .formatted(digest, tableSize, b));
    }

    private static List<String> differences(Host... hosts) {
        Report r = FleetComparison.compare(List.of(hosts));
        return r.vips().getFirst().differences();
    }

    @Test
    void sameDigestAgreesWhateverTheGeneration() throws Exception {
        Report r = FleetComparison.compare(List.of(Host.reached("a", status("d1", 101, "w1:1", "w2:1")),
                Host.reached("b", status("d1", 101, "w1:1", "w2:1"))));
        assertTrue(r.agrees());
    }

    @Test
    void aWeightThatDiffersIsNamed() throws Exception {
        assertEquals(List.of("vip web: host b gives w2 weight 2, a weight 1"), differences(
                Host.reached("a", status("d1", 101, "w1:1", "w2:1")),
                Host.reached("b", status("d2", 101, "w1:1", "w2:2"))));
    }

    @Test
    void aTableSizeThatDiffersIsNamed() throws Exception {
        assertEquals(List.of("vip web: host b has table size 103, a 101"), differences(
                Host.reached("a", status("d1", 101, "w1:1", "w2:1")),
                Host.reached("b", status("d2", 103, "w1:1", "w2:1"))));
    }

    @Test
    void theMajorityIsTheReferenceAndAnExtraBackendIsNamed() throws Exception {
        assertEquals(List.of("vip web: host c has w3 in its table, a does not (down there)"), differences(
                Host.reached("a", status("d1", 101, "w1:1", "w2:1", "w3:1:down")),
                Host.reached("b", status("d1", 101, "w1:1", "w2:1", "w3:1:down")),
                Host.reached("c", status("d2", 101, "w1:1", "w2:1", "w3:1"))));
    }

    @Test
    void onATieTheLargerLiveSetIsTheReference() throws Exception {
        assertEquals(List.of("vip web: host a lacks w2 (down, drained)"), differences(
                Host.reached("a", status("d1", 101, "w1:1", "w2:1:down:drained")),
                Host.reached("b", status("d2", 101, "w1:1", "w2:1"))));
        assertEquals(List.of("vip web: host a lacks w2 (not configured)"), differences(
                Host.reached("a", status("d1", 101, "w1:1")),
                Host.reached("b", status("d2", 101, "w1:1", "w2:1"))));
    }

    @Test
    void aHostThatDoesNotAnnounceIsMarkedNotCounted() throws Exception {
        JsonNode withdrawn = status("d1", 101, "w1:1");
        ((com.fasterxml.jackson.databind.node.ObjectNode) withdrawn.path("vips").get(0)).set("announce", JSON.readTree(
                "{\"address\":\"198.18.1.100/32\",\"announced\":false,\"operatorWithdrawn\":true,"
                        + "\"reason\":\"withdrawn by the operator\"}"));
        Report r = FleetComparison.compare(List.of(Host.reached("a", withdrawn), Host.reached("b", status("d1", 101,
                "w1:1"))));
        assertTrue(r.agrees());
        StringWriter out = new StringWriter();
        CompareCommand.print(r, 2, new PrintWriter(out, true));
        assertTrue(out.toString().contains("w1   [NOT announced: withdrawn by the operator]"), out.toString());
    }

    @Test
    void printsOneRowPerHostAndTheUnreachable() throws Exception {
        Report r = FleetComparison.compare(List.of(Host.reached("a", status("0123456789abcdef0123", 101, "w1:1",
                "w2:0")), Host.failed("b", "cannot reach the admin API: connection refused")));
        StringWriter out = new StringWriter();
        CompareCommand.print(r, 2, new PrintWriter(out, true));
        assertEquals("""
                vip web: agree
                  HOST  GENERATION  DIGEST            LIVE BACKENDS
                  a              7  0123456789abcdef  w1   not live: w2 weight 0
                host b: no answer (cannot reach the admin API: connection refused)
                1 of 2 hosts answered; they agree on 1 vips
                """, out.toString());
    }
}
