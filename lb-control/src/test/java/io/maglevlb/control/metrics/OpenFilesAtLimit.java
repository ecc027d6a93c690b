package io.maglevlb.control.metrics;

import java.io.FileInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by {@link MaglevMetricsTest} in its own JVM under a small RLIMIT_NOFILE: opens /dev/null until the process
 * is out of descriptors, scrapes, and prints {@code open=N max=M} as the scrape read them.
 */
public final class OpenFilesAtLimit {
    private OpenFilesAtLimit() {}

    public static void main(String[] args) throws IOException {
        try (MaglevMetrics metrics = new MaglevMetrics()) {
            PrometheusText.parse(metrics.scrape()); // loads every class the scrape needs while files can be opened
            List<FileInputStream> held = new ArrayList<>();
            boolean exhausted = false;
            try {
                for (int i = 0; i < 1_000_000 && !exhausted; i++) {
                    try {
                        held.add(new FileInputStream("/dev/null"));
                    } catch (IOException e) {
                        exhausted = String.valueOf(e.getMessage()).contains("Too many open files");
                        if (!exhausted) {
                            throw e;
                        }
                    }
                }
                PrometheusText t = PrometheusText.parse(metrics.scrape());
                System.out.println("exhausted=" + exhausted + " open=" + t.value("process_files_open_files")
                        + " max=" + t.value("process_files_max_files"));
            } finally {
                for (FileInputStream in : held) {
                    in.close();
                }
            }
        }
    }
}
