package io.maglevlb.core.config;

/**
 * The policy-routing resources maglevd uses to send health probes of DSR VIPs through a backend at the VIP
 * ({@code dsr_health}). Each (VIP address, backend address) pair probed at the VIP takes one fwmark and one
 * routing table: {@code first_mark + i} and {@code first_table + i}, {@code i < size}, and a rule
 * {@code fwmark M lookup T} at {@code rule_priority}. See docs/dsr.md.
 *
 * @param firstMark first socket mark
 * @param firstTable first routing table
 * @param size pairs that can be probed at once
 * @param rulePriority priority of the rules; must come before the {@code main} table's rule (32766)
 */
public record DsrHealthConfig(int firstMark, int firstTable, int size, int rulePriority) {
    /** 0x4d47 = "MG" in the high half: far from the low bits that kube-proxy, Cilium and others use. */
    public static final int DEFAULT_FIRST_MARK = 0x4d47_0000;
    /** The same number as the first mark, so mark M uses table M. */
    public static final int DEFAULT_FIRST_TABLE = 0x4d47_0000;
    public static final int DEFAULT_SIZE = 4096;
    public static final int DEFAULT_RULE_PRIORITY = 19000;
    /** The main table's rule: ours must run before it. */
    public static final int MAX_RULE_PRIORITY = 32765;

    public static DsrHealthConfig defaults() {
        return new DsrHealthConfig(DEFAULT_FIRST_MARK, DEFAULT_FIRST_TABLE, DEFAULT_SIZE, DEFAULT_RULE_PRIORITY);
    }
}
