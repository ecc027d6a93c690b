package io.maglevlb.control.metrics;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.util.function.Supplier;

/**
 * {@code maglev_table_info{vip,digest} 1} for one VIP: an info-style series whose {@code digest} label is the
 * VIP's current table digest, so an alert can compare hosts ({@code count by (vip) (count by (vip, digest)
 * (maglev_table_info)) > 1}) without maglevd knowing its peers.
 *
 * <p>The label follows the table at scrape time ({@link MaglevMetrics#beforeScrape}): before each scrape the
 * current snapshot's digest is read (a field read) and, when it changed, the old series is removed and the new
 * one registered. So every way a table gets published is covered and exactly one series per VIP exists.
 *
 * <p>Threading: {@link #refresh()} runs on scrape threads, {@link #close()} on the control thread; both hold this
 * object's lock. After close nothing is registered again.
 */
public final class TableInfo implements AutoCloseable {
    private final MaglevMetrics metrics;
    private final String vip;
    private final Supplier<ForwardingSnapshot> snapshot;
    private final AutoCloseable hook;
    // Guarded by this.
    private MeterGroup group;
    private String digest;
    private boolean closed;

    public TableInfo(MaglevMetrics metrics, String vip, Supplier<ForwardingSnapshot> snapshot) {
        this.metrics = metrics;
        this.vip = vip;
        this.snapshot = snapshot;
        refresh();
        this.hook = metrics.beforeScrape(this::refresh);
    }

    /** Re-labels the series when the VIP's digest changed since the last call. */
    public synchronized void refresh() {
        if (closed) {
            return;
        }
        ForwardingSnapshot s = snapshot.get();
        if (s == null || s.digest().equals(digest)) {
            return;
        }
        if (group != null) {
            group.close();
        }
        digest = s.digest();
        group = metrics.vipGroup(vip);
        group.gauge(MetricNames.TABLE_INFO, "1 per VIP, labelled with the digest of its current Maglev table", this,
                t -> 1, MetricNames.DIGEST, digest);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            hook.close();
        } catch (Exception impossible) {
            throw new IllegalStateException(impossible);
        }
        if (group != null) {
            group.close();
        }
    }
}
