package io.maglevlb.control.admin;

import java.util.List;

/**
 * The outcome of the maintenance switch, {@code maglevd ctl announce|withdraw [VIP]}.
 *
 * @param outcome whether it was done
 * @param vip the VIP it was for; null for every VIP
 * @param withdrawn true for a withdraw, false for an announce
 * @param vips the state of the VIPs concerned afterwards (routes already added or removed), by name
 */
public record AnnounceResult(Outcome outcome, String vip, boolean withdrawn, List<Vip> vips) {

    public enum Outcome { DONE, UNKNOWN_VIP, NOT_CONFIGURED }

    public AnnounceResult {
        vips = List.copyOf(vips);
    }

    /** One VIP's announcement after the switch. */
    public record Vip(String name, StatusView.Announcement announce) {}
}
