package io.maglevlb.control.health;

/**
 * The health state a backend starts in when it begins to be checked.
 *
 * <p>Backends start {@link #PROVISIONALLY_UP} (HAProxy's {@code init-state up}): restarting or reloading
 * maglevd must not blackhole a VIP whose backends are fine, so they take traffic at once; but a backend
 * that is really dead is taken out by its first failed check (at most one jittered tenth of the interval
 * plus one timeout after start) instead of after {@code fall} of them. Starting down until {@code rise}
 * successes would refuse every client of every VIP for {@code rise x interval} after each restart.
 */
public enum InitialState {
    /** Up now; the first failed check (before any success) takes it down, later ones need {@code fall}. */
    PROVISIONALLY_UP,
    /** Up with a settled verdict: {@code fall} consecutive failures take it down (kept across a reload). */
    UP,
    /** Down: {@code rise} consecutive successes bring it up (kept across a reload). */
    DOWN
}
