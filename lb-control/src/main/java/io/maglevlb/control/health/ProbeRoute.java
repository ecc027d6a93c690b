package io.maglevlb.control.health;

import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * How a probe of a DSR backend reaches it at the VIP: sockets connect or send to {@code destination} (VIP:port)
 * with {@code SO_MARK} {@code mark}, which policy routing sends through {@code backend} the way client packets
 * go (see {@code DsrHealthRoutes}).
 *
 * @param destination the VIP's address and port
 * @param backend the backend's own address (for messages)
 * @param mark socket mark; 0 when no route could be set up ({@code error} says why)
 * @param description what /status shows as the probe's target
 * @param hint what an operator should check when the backend does not answer at the VIP
 * @param error why no route could be set up, or null
 */
public record ProbeRoute(InetSocketAddress destination, String backend, int mark, String description, String hint,
        String error) {
    public ProbeRoute {
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(hint, "hint");
    }

    /** A route that could not be set up: every check fails with {@code error}. */
    public static ProbeRoute broken(InetSocketAddress destination, String backend, String error) {
        return new ProbeRoute(destination, backend, 0, "VIP " + NetUtil.toSocketAddressString(destination) + " via "
                + backend + " (no route: " + error + ")", "", error);
    }

    /**
     * Puts a failed check into words an operator can act on: which backend did not answer for which VIP, and
     * what to check there. Successes pass unchanged.
     */
    CheckOutcome explain(CheckOutcome outcome) {
        String vip = "the VIP " + NetUtil.toSocketAddressString(destination);
        String detail = outcome.detail();
        String text = switch (outcome.result()) {
            case SUCCESS, LOCAL_ERROR -> null;
            case TIMEOUT -> "no answer from " + backend + " for " + vip + " (" + detail + "): " + hint;
            case FAILURE -> failure(vip, detail);
        };
        return text == null ? outcome : new CheckOutcome(outcome.result(), text, outcome.durationNs());
    }

    private String failure(String vip, String detail) {
        String d = detail.toLowerCase(Locale.ROOT);
        if (d.contains("refused") || d.contains("port unreachable")) {
            return backend + " refused " + vip + ": is the service listening on the VIP (or on 0.0.0.0)?";
        }
        if (d.contains("unreachable") || d.contains("no route to host")) {
            // ICMP unreachable: from a backend that does not own the VIP (and does not forward), or from this
            // host when the backend does not answer ARP
            return "cannot reach " + vip + " through " + backend + " (" + detail + "): " + hint;
        }
        return backend + " for " + vip + ": " + detail;
    }
}
