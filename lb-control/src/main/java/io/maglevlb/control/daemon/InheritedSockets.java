package io.maglevlb.control.daemon;

import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.handover.HandoverSection;
import java.util.List;
import java.util.Optional;

/**
 * What a predecessor process handed over at a takeover, as {@link Maglevd#start(InheritedSockets)} asks for it:
 * per VIP of the new configuration, the sections of the VIP the old process serves on the same protocol and
 * address, if any. Implemented by the takeover client (io.maglevlb.control.takeover).
 */
public interface InheritedSockets {
    /** Nothing inherited: a plain start. */
    InheritedSockets NONE = vip -> Optional.empty();

    /**
     * The sections the predecessor handed over for the address {@code vip} listens on, and marks them taken.
     * Empty when the predecessor serves nothing there (the new process binds it itself).
     *
     * @throws DaemonStartException when the predecessor serves that address in a way {@code vip} cannot take over
     *     (e.g. a proxy where {@code vip} is DSR): the takeover is refused
     */
    Optional<List<HandoverSection>> take(VipConfig vip) throws DaemonStartException;
}
