package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class JitterTest {
    private static final long INTERVAL_NS = TimeUnit.SECONDS.toNanos(2);

    @Test
    void firstDelayIsWithinATenthOfTheIntervalAndSpreadsOut() {
        SplittableRandom random = new SplittableRandom(7);
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = 0; i < 10_000; i++) {
            long d = HealthChecker.firstDelayNs(INTERVAL_NS, random);
            assertTrue(d >= 0 && d <= INTERVAL_NS / 10, "first delay " + d);
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        // Spread over (nearly) the whole 0..10% window, not bunched.
        assertTrue(min < INTERVAL_NS / 100, "min " + min);
        assertTrue(max > INTERVAL_NS / 10 - INTERVAL_NS / 100, "max " + max);
    }

    @Test
    void periodIsTheIntervalPlusAtMostATenth() {
        SplittableRandom random = new SplittableRandom(11);
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = 0; i < 10_000; i++) {
            long p = HealthChecker.periodNs(INTERVAL_NS, random);
            assertTrue(p >= INTERVAL_NS && p <= INTERVAL_NS + INTERVAL_NS / 10, "period " + p);
            min = Math.min(min, p);
            max = Math.max(max, p);
        }
        assertTrue(max - min > INTERVAL_NS / 20, "jitter range " + (max - min));
    }

    @Test
    void tinyIntervalsStillWork() {
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 1000; i++) {
            long p = HealthChecker.periodNs(5, random);
            assertTrue(p >= 5 && p <= 5, "period " + p);
        }
    }
}
