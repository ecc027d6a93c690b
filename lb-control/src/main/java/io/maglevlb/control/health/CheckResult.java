package io.maglevlb.control.health;

/** How one health check ended. The metric label is {@link #label()}. */
public enum CheckResult {
    /** The backend answered as expected. */
    SUCCESS("success", true),
    /** The backend refused, reset, or answered wrongly (e.g. HTTP status out of range). */
    FAILURE("failure", true),
    /** No answer within the timeout. Counts as a failure. */
    TIMEOUT("timeout", true),
    /**
     * The check could not be made for a local reason (no file descriptors, no ephemeral ports, no buffers).
     * Says nothing about the backend, so it moves neither rise nor fall: when the process runs out of
     * descriptors, every check would fail at once and every backend would be marked down, turning a local
     * shortage into a full outage.
     */
    LOCAL_ERROR("error", false);

    private final String label;
    private final boolean verdict;

    CheckResult(String label, boolean verdict) {
        this.label = label;
        this.verdict = verdict;
    }

    public String label() {
        return label;
    }

    /** Whether the result says something about the backend (counts toward rise/fall). */
    public boolean isVerdict() {
        return verdict;
    }

    public boolean isSuccess() {
        return this == SUCCESS;
    }
}
