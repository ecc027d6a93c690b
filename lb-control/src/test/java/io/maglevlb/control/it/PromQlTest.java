package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Set;
import org.junit.jupiter.api.Test;

class PromQlTest {
    @Test
    void keepsMetricNamesOnly() {
        assertEquals(Set.of("maglev_packet_drops_total", "maglev_packets_received_total"), PromQl.metricNames("""
                sum by (job, instance, vip, reason) (rate(maglev_packet_drops_total{reason!~"not_ip|not_vip"}[5m]))
                / on (job, instance, vip) group_left ()
                (sum by (job, instance, vip) (rate(maglev_packets_received_total[5m])) > 0) > 0.001"""));
        assertEquals(Set.of("maglev_backend_up", "maglev_backend_drained"), PromQl.metricNames(
                "maglev_backend_up == 0 unless on (job, instance, vip, backend) maglev_backend_drained == 1"));
        assertEquals(Set.of("maglev_table_slots_moved_total"), PromQl.metricNames(
                "sum by (vip) (increase(maglev_table_slots_moved_total{job=\"$job\",vip=~\"$vip\"}[$__interval]))"
                        + " * 8"));
        assertEquals(Set.of("process_files_open_files", "process_files_max_files"),
                PromQl.metricNames("process_files_open_files / process_files_max_files > 1e-3"));
        assertEquals(Set.of("jvm_gc_pause_seconds_sum"),
                PromQl.metricNames("rate(jvm_gc_pause_seconds_sum[5m] offset 1h)"));
    }
}
