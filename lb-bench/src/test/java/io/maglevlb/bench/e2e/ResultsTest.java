package io.maglevlb.bench.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultsTest {

    @TempDir
    Path dir;

    private Results read(String... lines) throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of(lines));
        return Results.read(raw);
    }

    @Test
    void mediansOfOddAndEvenCountsWithMinAndMax() throws IOException {
        Results results = read("round\tpeer\tmetric\tvalue\tnote",
                "1\tmaglevd\tconn_rate\t300\t", "2\tmaglevd\tconn_rate\t100\t", "3\tmaglevd\tconn_rate\t200\t",
                "1\thaproxy\tconn_rate\t10\t", "2\thaproxy\tconn_rate\t40\t");

        Results.Stats mine = results.stats(Metric.CONN_RATE, Peer.MAGLEVD).orElseThrow();
        assertEquals(200, mine.median());
        assertEquals(100, mine.min());
        assertEquals(300, mine.max());
        assertEquals(3, mine.n());
        assertEquals(25, results.stats(Metric.CONN_RATE, Peer.HAPROXY).orElseThrow().median());
        assertEquals(3, results.rounds());
    }

    @Test
    void ratioIsMaglevdMedianOverReferenceMedianAndEmptyWhenEitherIsMissing() throws IOException {
        Results results = read("1\tmaglevd\tudp_dps\t180\t", "1\tnginx\tudp_dps\t100\t",
                "1\tdirect\tudp_dps\tNA\tbroken");

        assertEquals(1.8, results.ratio(Metric.UDP_DPS, Peer.NGINX).orElseThrow(), 1e-12);
        assertTrue(results.ratio(Metric.UDP_DPS, Peer.DIRECT).isEmpty());
        assertTrue(results.ratio(Metric.UDP_DPS, Peer.HAPROXY).isEmpty());
        assertTrue(results.applies(Metric.UDP_DPS, Peer.DIRECT));
        assertFalse(results.applies(Metric.UDP_DPS, Peer.HAPROXY));
    }

    @Test
    void skippedRunsKeepTheirReasonsOnceEach() throws IOException {
        Results results = read("1\tmaglevd\tudp_dps\tNA\tmaglevd: UDP VIPs not supported by this build",
                "2\tmaglevd\tudp_dps\tNA\tmaglevd: UDP VIPs not supported by this build");

        assertEquals(Set.of("maglevd: UDP VIPs not supported by this build"),
                results.skipReasons(Metric.UDP_DPS, Peer.MAGLEVD));
        assertTrue(results.stats(Metric.UDP_DPS, Peer.MAGLEVD).isEmpty());
        assertEquals(List.of(Metric.UDP_DPS), results.metrics());
    }

    @Test
    void onlyNotesMarkedAsWarningsAreReported() throws IOException {
        Results results = read("1\tnginx\tconn_rate\t5\twarning: 9 errors in 10 requests",
                "1\tnginx\tidle_bytes\t5000\trss_kb before=1 after=2");

        assertEquals(List.of("New TCP connections/s, nginx, round 1: 9 errors in 10 requests"), results.warnings());
    }

    @Test
    void badLinesNameTheFileLineAndField() throws IOException {
        IllegalArgumentException peer = assertThrows(IllegalArgumentException.class,
                () -> read("1\tenvoy\tconn_rate\t1\t"));
        assertTrue(peer.getMessage().endsWith("raw.tsv:1: unknown peer 'envoy'"), peer.getMessage());
        IllegalArgumentException value = assertThrows(IllegalArgumentException.class,
                () -> read("# comment", "1\tnginx\tconn_rate\tfast\t"));
        assertTrue(value.getMessage().endsWith("raw.tsv:2: bad value 'fast'"), value.getMessage());
    }
}
