package io.maglevlb.control.health;

import io.maglevlb.core.config.HealthCheckType;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.Optional;

/**
 * The health of one watched backend: its current verdict, its last check, and counters for metrics.
 *
 * <p>Threading: every field is written only by the health event loop. The public getters are read by
 * other threads (control thread, metrics scrapes, admin API), so the fields they read are volatile; the
 * counters are single-writer, so a volatile {@code x = x + 1} is not lost. The scheduling fields are
 * confined to the health loop and need no volatile.
 */
public final class BackendHealth {
    private final HealthTarget target;
    private final RiseFall riseFall;

    private volatile boolean up;
    private volatile CheckOutcome lastOutcome;
    private volatile String lastTransitionReason;
    private volatile long lastTransitionEpochMs;

    private volatile long successes;
    private volatile long failures;
    private volatile long timeouts;
    private volatile long localErrors;
    private volatile long checkDurationTotalNs;
    private volatile long deferredChecks;
    private volatile long passiveChecks;

    // Health loop only.
    ScheduledFuture<?> nextCheck;
    boolean stopped;
    long checkStartNs;
    boolean checkInFlight;
    /** The passive signal a check has yet to confirm or clear (see {@link HealthChecker#suspect}), or null. */
    String suspicion;
    /** When {@link #suspicion} arrived (System.nanoTime): only a check started since then can confirm it. */
    long suspicionNs;
    /** When the last passive signal started a check (System.nanoTime), 0 before the first. */
    long lastPassiveCheckNs;

    BackendHealth(HealthTarget target, InitialState initial) {
        this.target = target;
        boolean none = target.check().type() == HealthCheckType.NONE;
        InitialState effective = none ? InitialState.UP : initial;
        this.riseFall = new RiseFall(target.check().rise(), target.check().fall(), effective);
        this.up = riseFall.isUp();
        this.lastTransitionReason = none ? "health check type none" : switch (initial) {
            case PROVISIONALLY_UP -> "starting: up until a check fails";
            case UP -> "up (state kept across a reload)";
            case DOWN -> "down (state kept across a reload)";
        };
        this.lastTransitionEpochMs = System.currentTimeMillis();
    }

    public HealthTarget target() {
        return target;
    }

    /** The current verdict: whether the backend may take new flows as far as health is concerned. */
    public boolean isUp() {
        return up;
    }

    /** The last completed check, if any. */
    public Optional<CheckOutcome> lastOutcome() {
        return Optional.ofNullable(lastOutcome);
    }

    /** Why the backend is in its current state (the last transition's reason, or its initial state). */
    public String lastTransitionReason() {
        return lastTransitionReason;
    }

    public long lastTransitionEpochMs() {
        return lastTransitionEpochMs;
    }

    /** Checks that ended with {@code result} since the watch started. */
    public long checks(CheckResult result) {
        return switch (result) {
            case SUCCESS -> successes;
            case FAILURE -> failures;
            case TIMEOUT -> timeouts;
            case LOCAL_ERROR -> localErrors;
        };
    }

    /** All completed checks. */
    public long checkCount() {
        return successes + failures + timeouts + localErrors;
    }

    /** Sum of the durations of all completed checks, in nanoseconds. */
    public long checkDurationTotalNs() {
        return checkDurationTotalNs;
    }

    /** Checks run, or waited for, to confirm a passive signal (see {@link HealthChecker#suspect}). */
    public long passiveChecks() {
        return passiveChecks;
    }

    /** Checks postponed because the checker was at its bound of concurrent checks. */
    public long deferredChecks() {
        return deferredChecks;
    }

    // ---- health loop only ----

    /**
     * Records a completed check.
     *
     * @return the transition's reason when the verdict changed, else null
     */
    String record(CheckOutcome outcome) {
        return record(outcome, null);
    }

    /**
     * Records a completed check that may confirm a passive signal: with {@code suspicion} set, a failed check
     * (failure or timeout) takes an up backend down at once instead of after {@code fall} of them; any other
     * result counts as usual.
     *
     * @return the transition's reason when the verdict changed, else null
     */
    String record(CheckOutcome outcome, String suspicion) {
        lastOutcome = outcome;
        String reason;
        if (suspicion != null && outcome.result().isVerdict() && !outcome.result().isSuccess()
                && riseFall.markDown()) {
            reason = suspicion + ", confirmed by an immediate check: " + outcome.detail();
            up = false;
            lastTransitionReason = reason;
            lastTransitionEpochMs = System.currentTimeMillis();
        } else {
            reason = applyVerdict(outcome);
        }
        // Counters last: a reader that sees the count go up also sees the verdict and reason it led to.
        checkDurationTotalNs = checkDurationTotalNs + outcome.durationNs();
        switch (outcome.result()) {
            case SUCCESS -> successes = successes + 1;
            case FAILURE -> failures = failures + 1;
            case TIMEOUT -> timeouts = timeouts + 1;
            case LOCAL_ERROR -> localErrors = localErrors + 1;
        }
        return reason;
    }

    private String applyVerdict(CheckOutcome outcome) {
        if (!outcome.result().isVerdict()) {
            return null;
        }
        boolean wasProvisional = riseFall.isProvisional();
        int streakBefore = riseFall.streak();
        if (!riseFall.record(outcome.result().isSuccess())) {
            if (wasProvisional) {
                lastTransitionReason = "up: first check passed (" + outcome.detail() + ")";
            }
            return null;
        }
        boolean nowUp = riseFall.isUp();
        String reason;
        if (nowUp) {
            reason = (streakBefore + 1) + " consecutive successful checks, last: " + outcome.detail();
        } else if (wasProvisional) {
            reason = "first check failed: " + outcome.detail();
        } else {
            reason = (streakBefore + 1) + " consecutive failed checks, last: " + outcome.detail();
        }
        up = nowUp;
        lastTransitionReason = reason;
        lastTransitionEpochMs = System.currentTimeMillis();
        return reason;
    }

    void countPassiveCheck() {
        passiveChecks = passiveChecks + 1;
    }

    void countDeferred() {
        deferredChecks = deferredChecks + 1;
    }

    @Override
    public String toString() {
        return "BackendHealth[" + target.vip() + "/" + target.backend() + " " + (up ? "up" : "down") + "]";
    }
}
