package io.maglevlb.bench.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    @TempDir
    Path dir;

    @Test
    void verdictSaysMetOrNotAndByHowMuchInTheMetricsDirection() {
        assertEquals("**met**, 4% above the target", Report.verdict(true, 1.092, 1.05));
        assertEquals("**not met**, 10% short", Report.verdict(true, 0.945, 1.05));
        assertEquals("**met**, 20% below the limit", Report.verdict(false, 0.8, 1.0));
        assertEquals("**not met**, 12% over the limit", Report.verdict(false, 1.12, 1.0));
    }

    @Test
    void tableShowsMediansRangesRatiosAndGoals() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tmaglevd\tbulk1_gbps\t12\t", "2\tmaglevd\tbulk1_gbps\t10\t",
                "1\thaproxy\tbulk1_gbps\t10\t", "2\thaproxy\tbulk1_gbps\t10\t",
                "1\tmaglevd\tidle_bytes\tNA\tmaglevd: did not start"));
        String md = Report.tableAndGoals(Results.read(raw));

        assertTrue(md.contains("| Bulk TCP, 1 stream | Gbit/s | higher | **11.00** (10.00–12.00) | **10.00** (10.00–10.00)"
                + " | n/a | n/a | 1.10× | – | – |"), md);
        assertTrue(md.contains("| Bulk TCP, 1 stream | ≥ 1.10 × HAProxy | 1.10 × HAProxy | **met**, 0% above the target |"),
                md);
        assertTrue(md.contains("| Memory per idle connection | ≤ HAProxy | – | not measured |"), md);
    }

    @Test
    void cpuPerUnitComesFirstInItsOwnTableWithGoalsAgainstTheRightPeer() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tmaglevd\tconn_rate\t100\t", "1\thaproxy\tconn_rate\t100\t",
                "1\tmaglevd\tconn_cpu_us\t21\t", "1\thaproxy\tconn_cpu_us\t30\t",
                "1\tmaglevd\tudp_cpu_us\t3\t", "1\tnginx\tudp_cpu_us\t5\t"));
        String md = Report.tableAndGoals(Results.read(raw));

        int cpu = md.indexOf("**LB process CPU per unit of work**");
        int throughput = md.indexOf("**Throughput and latency**");
        assertTrue(cpu >= 0 && throughput > cpu, md);
        assertTrue(md.contains("| CPU per new connection | µs | lower | **21.00** | **30.00** | n/a | n/a | 0.70× | – | – |"),
                md);
        assertTrue(md.contains("| CPU per new connection | ≤ 0.70 × HAProxy | 0.70 × HAProxy | **met**, 0% below the limit |"),
                md);
        assertTrue(md.contains("| CPU per UDP round trip | ≤ 0.50 × nginx | 0.60 × nginx | **not met**, 20% over the limit |"),
                md);
    }

    @Test
    void boundTableNamesTheSaturatedCoreOrSaysTheRunWaited() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tmaglevd\tka_lb_busy\t95\t", "1\tmaglevd\tka_load_busy\t99\t",
                "1\thaproxy\tka_lb_busy\t60\t", "1\thaproxy\tka_load_busy\t97\t",
                "1\tnginx\tka_lb_busy\t40\t", "1\tnginx\tka_load_busy\t70\t", "1\tdirect\tka_load_busy\t100\t"));
        String md = Report.boundTable(Results.read(raw));

        assertTrue(md.contains("| keep-alive requests | LB 95 %, load 99 %: **LB core** | LB 60 %, load 97 %: **load side**"
                + " | LB 40 %, load 70 %: **neither: waiting** | load 100 %: **load side** |"), md);
        assertEquals("", Report.boundTable(Results.read(writeRaw("1\tmaglevd\tka_rps\t5\t"))));
    }

    @Test
    void threadTableShowsMaglevdsCpuByThreadPerLoadAndStaysOutOfTheRatioTables() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tmaglevd\tka_cpu_us\t10\t", "1\thaproxy\tka_cpu_us\t10\t",
                "1\tmaglevd\tka_thr_worker\t90\tticks 90 of 100", "2\tmaglevd\tka_thr_worker\t80\t",
                "1\tmaglevd\tka_thr_jit\t8\t", "2\tmaglevd\tka_thr_jit\t0\t",
                "1\tmaglevd\tka_thr_gc\t0\t", "1\tmaglevd\tka_thr_other\t2\t",
                "1\tmaglevd\tredis_thr_worker\t97\t"));
        String md = Report.tableAndGoals(Results.read(raw));

        assertTrue(md.contains("| load | worker | JIT compilers | GC | other |"), md);
        assertTrue(md.contains("| keep-alive requests | **85.0** (80.0–90.0) | **4.0** (0.0–8.0) | **0.0** | **2.0** |"), md);
        assertTrue(md.contains("| redis GET | **97.0** | – | – | – |"), md);
        assertTrue(!md.contains("| keep-alive requests | % |"), md); // not a row of the per-peer tables
    }

    private Path writeRaw(String... lines) throws IOException {
        Path raw = dir.resolve("raw2.tsv");
        Files.write(raw, List.of(lines));
        return raw;
    }

    @Test
    void docsUpdateCreatesTheSectionWhenTheFileIsMissing() throws IOException {
        Path docs = dir.resolve("benchmarks.md");
        Report.updateDocs(docs, "numbers\n");

        assertEquals("# Benchmarks\n\n" + Report.SECTION + "\n\n" + Report.BEGIN + "\nnumbers\n" + Report.END + "\n",
                Files.readString(docs));
    }

    @Test
    void docsUpdateReplacesOnlyTheGeneratedBlock() throws IOException {
        Path docs = dir.resolve("benchmarks.md");
        Files.writeString(docs, "# Benchmarks\n\n## JMH\n\njmh text\n\n" + Report.SECTION + "\n\nmethod text\n\n"
                + Report.BEGIN + "\nold numbers\n" + Report.END + "\n\nafter text\n\n## Later\n\nlater text\n");
        Report.updateDocs(docs, "new numbers\n");

        assertEquals("# Benchmarks\n\n## JMH\n\njmh text\n\n" + Report.SECTION + "\n\nmethod text\n\n"
                + Report.BEGIN + "\nnew numbers\n" + Report.END + "\n\nafter text\n\n## Later\n\nlater text\n",
                Files.readString(docs));
    }

    @Test
    void docsUpdateInsertsTheBlockAtTheEndOfAnExistingSection() throws IOException {
        Path docs = dir.resolve("benchmarks.md");
        Files.writeString(docs, "# Benchmarks\n\n" + Report.SECTION + "\n\nmethod text\n\n## JMH\n\njmh text\n");
        Report.updateDocs(docs, "numbers");

        assertEquals("# Benchmarks\n\n" + Report.SECTION + "\n\nmethod text\n\n" + Report.BEGIN + "\nnumbers\n"
                + Report.END + "\n\n## JMH\n\njmh text\n", Files.readString(docs));
    }

    @Test
    void markdownListsSkipsFactsAndConfigs() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tnginx\tudp_dps\t100\t", "1\tmaglevd\tudp_dps\tNA\tmaglevd: no UDP"));
        Path configs = Files.createDirectories(dir.resolve("configs"));
        Files.writeString(configs.resolve("haproxy.cfg"), "global\n    nbthread 1\n");
        String md = Report.markdown(Results.read(raw), Map.of("CPU", "Test CPU | 2 cores"), Optional.of(configs),
                "chart.png");

        assertTrue(md.contains("- UDP datagrams/s, maglevd: maglevd: no UDP"), md);
        assertTrue(md.contains("| CPU | Test CPU \\| 2 cores |"), md);
        assertTrue(md.contains("`haproxy.cfg`:\n\n```\nglobal\n    nbthread 1\n```"), md);
        assertTrue(md.contains("![maglevd ÷ HAProxy, nginx and direct per metric](chart.png)"), md);
    }

    @Test
    void chartIsAPngWithOneGroupPerMetric() throws IOException {
        Path raw = dir.resolve("raw.tsv");
        Files.write(raw, List.of("1\tmaglevd\tconn_rate\t110\t", "1\thaproxy\tconn_rate\t100\t",
                "1\tnginx\tconn_rate\t90\t", "1\tdirect\tconn_rate\t400\t", "1\tmaglevd\tka_p99_us\t900\t",
                "1\thaproxy\tka_p99_us\t1000\t", "1\tmaglevd\tudp_dps\t9000\t", "1\tnginx\tudp_dps\t1000\t"));
        Path png = dir.resolve("out/chart.png");
        Chart.render(Results.read(raw), "test", png);

        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(1400, image.getWidth());
        assertTrue(image.getHeight() > 300, "three metric groups need room: " + image.getHeight());
    }
}
