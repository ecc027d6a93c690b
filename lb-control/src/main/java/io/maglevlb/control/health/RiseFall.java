package io.maglevlb.control.health;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * The rise/fall state machine of one backend: {@code rise} consecutive successes bring a down backend up,
 * {@code fall} consecutive failures take an up backend down; any opposite result resets the streak.
 * A provisional start (see {@link InitialState#PROVISIONALLY_UP}) needs only one failure to go down.
 *
 * <p>Not thread-safe: owned by the health event loop.
 */
public final class RiseFall {
    private final int rise;
    private final int fall;
    private boolean up;
    private boolean provisional;
    private int streak;

    public RiseFall(int rise, int fall, InitialState initial) {
        checkArgument(rise >= 1, "rise must be >= 1, was %s", rise);
        checkArgument(fall >= 1, "fall must be >= 1, was %s", fall);
        this.rise = rise;
        this.fall = fall;
        this.up = initial != InitialState.DOWN;
        this.provisional = initial == InitialState.PROVISIONALLY_UP;
    }

    /**
     * Records one check result.
     *
     * @return true when the backend changed state (up to down or down to up)
     */
    public boolean record(boolean success) {
        if (up == success) {
            // Result agrees with the state: any streak toward the other state is broken.
            streak = 0;
            provisional = false;
            return false;
        }
        streak++;
        int needed = up ? (provisional ? 1 : fall) : rise;
        provisional = false;
        if (streak >= needed) {
            up = !up;
            streak = 0;
            return true;
        }
        return false;
    }

    /**
     * Takes an up backend down at once, whatever the streak (a failure confirmed by independent evidence:
     * see {@link HealthChecker#suspect}). Coming back still needs {@code rise} successes.
     *
     * @return true when the backend was up
     */
    public boolean markDown() {
        boolean wasUp = up;
        up = false;
        provisional = false;
        streak = 0;
        return wasUp;
    }

    public boolean isUp() {
        return up;
    }

    /** Consecutive results against the current state so far. */
    public int streak() {
        return streak;
    }

    public boolean isProvisional() {
        return provisional;
    }
}
