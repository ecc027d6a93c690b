package io.maglevlb.control.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

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

    public MaglevMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        reloadsOk = Counter.builder(MetricNames.RELOADS).description("Configuration reloads by result")
                .tag(MetricNames.RESULT, RELOAD_OK).register(registry);
        reloadsError = Counter.builder(MetricNames.RELOADS).description("Configuration reloads by result")
                .tag(MetricNames.RESULT, RELOAD_ERROR).register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** All meters in the Prometheus text format ({@link #CONTENT_TYPE}). */
    public String scrape() {
        return registry.scrape(CONTENT_TYPE);
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
    }
}
