package io.maglevlb.dataplane.linux;

/**
 * One policy routing rule of the form {@code priority: fwmark mark/mask lookup table} (other selectors are not
 * read), tagged with {@code protocol} (FRA_PROTOCOL: who added it; maglevd's is {@link Routes#PROTOCOL_MAGLEVD}).
 *
 * @param family AF_INET or AF_INET6
 * @param mask 0 when the rule has no fwmark selector
 */
public record Rule(int family, int priority, long mark, long mask, long table, int protocol) {
    @Override
    public String toString() {
        return priority + ": " + (mask == 0 ? "" : "fwmark 0x" + Long.toHexString(mark) + "/0x"
                + Long.toHexString(mask) + " ") + "lookup " + table + " proto " + protocol;
    }
}
