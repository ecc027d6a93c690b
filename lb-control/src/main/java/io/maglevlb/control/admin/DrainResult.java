package io.maglevlb.control.admin;

/**
 * The outcome of a drain or undrain.
 *
 * @param outcome whether the VIP and backend were found
 * @param drained the backend's drain state afterwards
 * @param changed false when it was already in that state
 */
public record DrainResult(Outcome outcome, String vip, String backend, boolean drained, boolean changed) {

    public enum Outcome { DONE, UNKNOWN_VIP, UNKNOWN_BACKEND }

    public static DrainResult done(String vip, String backend, boolean drained, boolean changed) {
        return new DrainResult(Outcome.DONE, vip, backend, drained, changed);
    }

    public static DrainResult unknownVip(String vip, String backend) {
        return new DrainResult(Outcome.UNKNOWN_VIP, vip, backend, false, false);
    }

    public static DrainResult unknownBackend(String vip, String backend) {
        return new DrainResult(Outcome.UNKNOWN_BACKEND, vip, backend, false, false);
    }
}
