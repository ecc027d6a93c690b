package io.maglevlb.control.health;

import java.util.Objects;

/**
 * The outcome of one health check.
 *
 * @param result how it ended
 * @param detail short human-readable reason, e.g. {@code "connect refused"} or {@code "status 503"}
 * @param durationNs from the start of the connect to the result
 */
public record CheckOutcome(CheckResult result, String detail, long durationNs) {
    public CheckOutcome {
        Objects.requireNonNull(result, "result");
        Objects.requireNonNull(detail, "detail");
    }
}
