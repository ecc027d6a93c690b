package io.maglevlb.control.health;

/**
 * A backend went up or down.
 *
 * @param source the watch that produced it; compare by identity with the current watch of the backend to
 *     drop a transition that was in flight while a reload replaced or removed the watch
 * @param up the new state
 * @param reason why, e.g. {@code "3 consecutive failures, last: connect refused"}
 */
public record HealthTransition(BackendHealth source, boolean up, String reason) {
    public String vip() {
        return source.target().vip();
    }

    public String backend() {
        return source.target().backend();
    }
}
