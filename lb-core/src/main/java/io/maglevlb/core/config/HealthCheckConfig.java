package io.maglevlb.core.config;

import java.time.Duration;

/**
 * Health checking of a VIP's backends.
 *
 * @param type tcp, http or none
 * @param interval time between two checks of one backend (jittered by up to 10%)
 * @param timeout how long one check may take
 * @param rise consecutive successes that bring a down backend up
 * @param fall consecutive failures that bring an up backend down
 * @param path http only: the path to GET
 * @param expectMin http only: lowest accepted status
 * @param expectMax http only: highest accepted status
 */
public record HealthCheckConfig(HealthCheckType type, Duration interval, Duration timeout, int rise, int fall,
        String path, int expectMin, int expectMax) {

    public static final HealthCheckType DEFAULT_TYPE = HealthCheckType.TCP;
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
    /** Used when it does not exceed the interval; otherwise the default timeout is the interval. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_RISE = 2;
    public static final int DEFAULT_FALL = 3;
    public static final String DEFAULT_PATH = "/";
    public static final int DEFAULT_EXPECT_MIN = 200;
    public static final int DEFAULT_EXPECT_MAX = 399;

    /** The check used when a VIP names none: a TCP connect with the defaults above. */
    public static HealthCheckConfig defaults() {
        return new HealthCheckConfig(DEFAULT_TYPE, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE,
                DEFAULT_FALL, DEFAULT_PATH, DEFAULT_EXPECT_MIN, DEFAULT_EXPECT_MAX);
    }
}
