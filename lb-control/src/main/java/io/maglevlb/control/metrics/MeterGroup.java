package io.maglevlb.control.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The meters of one VIP or one backend, all carrying the same base tags, removed together by
 * {@link #close()} when the VIP or backend goes away.
 *
 * <p>Function meters read their value from {@code source} at scrape time: the dataplane keeps counting
 * in its own primitive fields and the registry is never touched per packet. The group holds {@code source}
 * strongly (Micrometer's function meters keep only a weak reference), so a meter never turns to NaN while
 * its group is open.
 *
 * <p>Micrometer returns the existing meter when a (name, tags) is registered twice; so close the group of
 * a VIP before creating a new one for the same VIP. Registration and close are for the control thread;
 * scrapes may run at any time.
 */
public final class MeterGroup implements AutoCloseable {
    private final MeterRegistry registry;
    private final Tags tags;
    private final List<Meter> meters = new ArrayList<>();
    private final List<Object> sources = new ArrayList<>();
    private boolean closed;

    MeterGroup(MeterRegistry registry, Tags tags) {
        this.registry = registry;
        this.tags = tags;
    }

    public Tags tags() {
        return tags;
    }

    /** A monotonic count read from {@code source}; {@code extraTags} as key, value pairs. */
    public synchronized <T> FunctionCounter functionCounter(String name, String description, T source,
            ToDoubleFunction<T> count, String... extraTags) {
        checkOpen();
        FunctionCounter c = FunctionCounter.builder(name, source, count)
                .description(description).tags(tags).tags(extraTags).register(registry);
        return track(c, source);
    }

    /** A value that goes up and down, read from {@code source}. */
    public synchronized <T> Gauge gauge(String name, String description, T source, ToDoubleFunction<T> value,
            String... extraTags) {
        checkOpen();
        Gauge g = Gauge.builder(name, source, value)
                .description(description).tags(tags).tags(extraTags).strongReference(true).register(registry);
        return track(g, source);
    }

    /** A count of events and their total time, both read from {@code source}. */
    public synchronized <T> FunctionTimer functionTimer(String name, String description, T source,
            ToLongFunction<T> count, ToDoubleFunction<T> totalTime, TimeUnit totalTimeUnit, String... extraTags) {
        checkOpen();
        FunctionTimer t = FunctionTimer.builder(name, source, count, totalTime, totalTimeUnit)
                .description(description).tags(tags).tags(extraTags).register(registry);
        return track(t, source);
    }

    /** A counter incremented by control-plane code (rare events, never per packet). */
    public synchronized Counter counter(String name, String description, String... extraTags) {
        checkOpen();
        return track(Counter.builder(name).description(description).tags(tags).tags(extraTags).register(registry),
                null);
    }

    /** A timer recorded by control-plane code (rare events, never per packet). */
    public synchronized Timer timer(String name, String description, String... extraTags) {
        checkOpen();
        return track(Timer.builder(name).description(description).tags(tags).tags(extraTags).register(registry),
                null);
    }

    /** Meters registered through this group and not yet removed. */
    public synchronized List<Meter> meters() {
        return List.copyOf(meters);
    }

    /** Removes every meter of this group from the registry. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Meter m : meters) {
            registry.remove(m);
        }
        meters.clear();
        sources.clear();
    }

    private <M extends Meter> M track(M meter, Object source) {
        meters.add(meter);
        if (source != null) {
            sources.add(source);
        }
        return meter;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("meter group " + tags + " is closed");
        }
    }
}
