package io.maglevlb.control.metrics;

import com.sun.management.UnixOperatingSystemMXBean;
import io.maglevlb.dataplane.linux.OpenFileCount;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The daemon's one meter registry: Prometheus, with JVM and process metrics bound, and factories of
 * {@link MeterGroup}s for our own {@code maglev_*} meters (see {@link MetricNames}).
 *
 * <p>Thread-safe. Scrapes ({@link #scrape()}) run on an admin API thread, never a forwarding loop.
 */
public final class MaglevMetrics implements AutoCloseable {
    /** Content type of {@link #scrape()}: the Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    public static final String RELOAD_OK = "ok";
    public static final String RELOAD_ERROR = "error";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private final Counter reloadsOk;
    private final Counter reloadsError;
    /** Null where /proc/self/fd cannot be held open (then the JDK's count, which needs a descriptor per read). */
    private final OpenFileCount openFiles = OpenFileCount.open();
    /** The last open-files value read, for a read that fails (-1: none yet). Guarded by this. */
    private long lastOpenFiles = -1;
    private final CopyOnWriteArrayList<Runnable> beforeScrape = new CopyOnWriteArrayList<>();

    public MaglevMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        bindFileDescriptorMeters();
        reloadsOk = Counter.builder(MetricNames.RELOADS).description("Configuration reloads by result")
                .tag(MetricNames.RESULT, RELOAD_OK).register(registry);
        reloadsError = Counter.builder(MetricNames.RELOADS).description("Configuration reloads by result")
                .tag(MetricNames.RESULT, RELOAD_ERROR).register(registry);
    }

    /**
     * {@code process_files_open_files} and {@code process_files_max_files}, the names of Micrometer's
     * FileDescriptorMetrics, whose open count comes from the JDK: it opens /proc/self/fd on every read, so it
     * fails (NaN) exactly when the process is out of descriptors. Here the count comes from a directory held
     * open ({@link OpenFileCount}); should a read fail anyway, the last value read is reported.
     */
    private void bindFileDescriptorMeters() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (!(os instanceof UnixOperatingSystemMXBean unix)) {
            return;
        }
        Gauge.builder("process.files.open", this, m -> m.openFiles(unix)).description("The open file descriptor count")
                .baseUnit("files").register(registry);
        Gauge.builder("process.files.max", unix, UnixOperatingSystemMXBean::getMaxFileDescriptorCount)
                .description("The maximum file descriptor count").baseUnit("files").register(registry);
    }

    private synchronized double openFiles(UnixOperatingSystemMXBean unix) {
        long n = openFiles != null ? openFiles.count() : unix.getOpenFileDescriptorCount();
        if (n >= 0) {
            lastOpenFiles = n;
        }
        return lastOpenFiles >= 0 ? lastOpenFiles : Double.NaN;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** All meters in the Prometheus text format ({@link #CONTENT_TYPE}). */
    public String scrape() {
        for (Runnable r : beforeScrape) {
            r.run();
        }
        return registry.scrape(CONTENT_TYPE);
    }

    /**
     * Runs {@code refresh} on the scraping thread before every scrape, for meters whose tags follow state (see
     * {@link TableInfo}); closing the returned handle stops it. {@code refresh} must be cheap and thread-safe.
     */
    public AutoCloseable beforeScrape(Runnable refresh) {
        beforeScrape.add(refresh);
        return () -> beforeScrape.remove(refresh);
    }

    /** A group for the meters of one VIP (tag {@code vip}). */
    public MeterGroup vipGroup(String vip) {
        return new MeterGroup(registry, Tags.of(MetricNames.VIP, vip));
    }

    /** A group for the meters of one backend (tags {@code vip}, {@code backend}). */
    public MeterGroup backendGroup(String vip, String backend) {
        return new MeterGroup(registry, Tags.of(MetricNames.VIP, vip, MetricNames.BACKEND, backend));
    }

    /** A group with arbitrary base tags (e.g. none, for process-wide maglev meters). */
    public MeterGroup group(Tags tags) {
        return new MeterGroup(registry, tags);
    }

    public void countReload(boolean ok) {
        (ok ? reloadsOk : reloadsError).increment();
    }

    public double reloads(boolean ok) {
        return (ok ? reloadsOk : reloadsError).count();
    }

    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
        if (openFiles != null) {
            openFiles.close();
        }
    }
}
