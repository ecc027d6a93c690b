package io.maglevlb.control.announce;

/**
 * Whether a VIP's address is announced now, and why not.
 *
 * @param vip the VIP's name
 * @param address the announced prefix, e.g. {@code 198.18.0.10/32}; null for a VIP on a wildcard address
 * @param announced the route for the VIP's address is in the announce table now
 * @param operatorWithdrawn withdrawn with {@code maglevd ctl withdraw} (survives reloads)
 * @param reason why it is not announced, or why it is although this VIP does not qualify (another VIP on the
 *     same address keeps the route); null when announced for itself
 */
public record VipAnnouncement(String vip, String address, boolean announced, boolean operatorWithdrawn,
        String reason) {}
