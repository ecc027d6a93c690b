package io.maglevlb.core.config;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Health checking of a VIP's backends.
 *
 * @param type tcp, http, udp or none
 * @param interval time between two checks of one backend (jittered by up to 10%)
 * @param timeout how long one check may take
 * @param rise consecutive successes that bring a down backend up
 * @param fall consecutive failures that bring an up backend down
 * @param path http only: the path to GET
 * @param expectMin http only: lowest accepted status
 * @param expectMax http only: highest accepted status
 * @param send udp only: the datagram sent to the backend
 * @param expectReply udp only: when present, the check needs a reply that starts with these bytes
 * @param target where backends are probed unless a backend says otherwise: {@code vip} (DSR VIPs' default) or
 *     {@code backend} (their own address; the only choice for proxy-mode VIPs)
 */
public record HealthCheckConfig(HealthCheckType type, Duration interval, Duration timeout, int rise, int fall,
        String path, int expectMin, int expectMax, UdpPayload send, Optional<UdpPayload> expectReply,
        HealthCheckTarget target) {

    public static final HealthCheckType DEFAULT_TYPE = HealthCheckType.TCP;
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
    /** Used when it does not exceed the interval; otherwise the default timeout is the interval. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_RISE = 2;
    public static final int DEFAULT_FALL = 3;
    public static final String DEFAULT_PATH = "/";
    public static final int DEFAULT_EXPECT_MIN = 200;
    public static final int DEFAULT_EXPECT_MAX = 399;
    /**
     * The datagram a udp check sends when the VIP names none: 20 ASCII bytes that no common UDP protocol
     * mistakes for a request it must act on (a DNS server, for one, drops it as a malformed query).
     */
    public static final UdpPayload DEFAULT_SEND = UdpPayload.parse("maglevd health check");

    public HealthCheckConfig {
        Objects.requireNonNull(send, "send");
        Objects.requireNonNull(expectReply, "expectReply");
        Objects.requireNonNull(target, "target");
    }

    /** A check with the udp settings at their defaults (the default datagram, no expected reply). */
    public HealthCheckConfig(HealthCheckType type, Duration interval, Duration timeout, int rise, int fall,
            String path, int expectMin, int expectMax) {
        this(type, interval, timeout, rise, fall, path, expectMin, expectMax, DEFAULT_SEND, Optional.empty());
    }

    /** A check that probes the backends' own addresses. */
    public HealthCheckConfig(HealthCheckType type, Duration interval, Duration timeout, int rise, int fall,
            String path, int expectMin, int expectMax, UdpPayload send, Optional<UdpPayload> expectReply) {
        this(type, interval, timeout, rise, fall, path, expectMin, expectMax, send, expectReply,
                HealthCheckTarget.BACKEND);
    }

    public HealthCheckConfig withTarget(HealthCheckTarget value) {
        return new HealthCheckConfig(type, interval, timeout, rise, fall, path, expectMin, expectMax, send,
                expectReply, value);
    }

    /** The check type a VIP of {@code protocol} gets when it names none: udp for UDP VIPs, tcp for TCP VIPs. */
    public static HealthCheckType defaultType(Protocol protocol) {
        return protocol == Protocol.UDP ? HealthCheckType.UDP : DEFAULT_TYPE;
    }

    /** The check used when a TCP VIP names none: a TCP connect with the defaults above. */
    public static HealthCheckConfig defaults() {
        return defaults(Protocol.TCP);
    }

    /** The check used when a VIP of {@code protocol} names none: {@link #defaultType} with the defaults above. */
    public static HealthCheckConfig defaults(Protocol protocol) {
        return new HealthCheckConfig(defaultType(protocol), DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE,
                DEFAULT_FALL, DEFAULT_PATH, DEFAULT_EXPECT_MIN, DEFAULT_EXPECT_MAX);
    }
}
