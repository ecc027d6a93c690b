package io.maglevlb.control.admin;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The {@code GET /metrics} body, rendered at most once per {@code ttl} and shared by every scrape in that
 * time. A scrape that finds no rendering younger than {@code ttl} renders one; scrapes arriving meanwhile
 * wait for it and take it (a rendering that began after a scrape arrived is fresh enough for that scrape),
 * so a burst of N concurrent scrapes costs one rendering, not N.
 *
 * <p>Why: rendering walks every meter of the registry and builds the whole text (tens to hundreds of KiB
 * with many VIPs and backends). 1000 concurrent scrapes used to render 1000 times at once, which is where
 * the heap growth under a scrape burst came from. Values served are at most {@code ttl} (plus one rendering)
 * old, far below any Prometheus scrape interval.
 *
 * <p>Threading: {@link #get()} is called from admin worker (virtual) threads; the rendering runs under a
 * {@link ReentrantLock} (virtual threads wait on it without pinning a carrier). {@code last} is volatile
 * so that the fast path reads it without the lock.
 */
final class ScrapeCache {
    /**
     * Default time a rendering is served for: none beyond the scrapes that wait for it. Every scrape then sees
     * values collected after it arrived (what a test or an operator's curl right after a change expects), and a
     * burst still costs one rendering per rendering time, not one per scrape: 5000 scrapes at 1000 concurrent
     * left the daemon at 147 MB RSS with 0 and at 148 MB with 1 s (demo configuration, default JVM options).
     * {@code -Dmaglevd.admin.metricsCacheMillis=N} serves each rendering for N ms.
     */
    static final Duration DEFAULT_TTL = Duration.ZERO;

    private record Rendering(byte[] body, long startedNanos) {}

    private final Supplier<String> render;
    private final long ttlNanos;
    private final LongSupplier nanoClock;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Rendering last;

    /**
     * @param render produces the text; called by one thread at a time
     * @param ttl how long a rendering is served; zero renders for every scrape that finds none in progress
     * @param nanoClock monotonic time in nanoseconds ({@code System::nanoTime}; tests inject their own)
     */
    ScrapeCache(Supplier<String> render, Duration ttl, LongSupplier nanoClock) {
        this.render = Objects.requireNonNull(render, "render");
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must not be negative, was " + ttl);
        }
        this.ttlNanos = ttl.toNanos();
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    }

    /** The UTF-8 body of a rendering that began at most {@code ttl} before this call. */
    byte[] get() {
        long arrived = nanoClock.getAsLong();
        Rendering r = last;
        if (fresh(r, arrived)) {
            return r.body();
        }
        lock.lock();
        try {
            r = last;
            if (fresh(r, arrived)) { // rendered by the thread we waited for
                return r.body();
            }
            long started = nanoClock.getAsLong();
            byte[] body = render.get().getBytes(StandardCharsets.UTF_8);
            last = new Rendering(body, started);
            return body;
        } finally {
            lock.unlock();
        }
    }

    private boolean fresh(Rendering r, long arrivedNanos) {
        return r != null && arrivedNanos - r.startedNanos() <= ttlNanos;
    }

    /** Scrapes waiting for a rendering in progress now (an estimate, for tests). */
    int waiting() {
        return lock.getQueueLength();
    }
}
