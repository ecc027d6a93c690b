package io.maglevlb.control.admin;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * What the admin API asks of the daemon. The daemon implements it; {@link AdminServer} exposes it over
 * HTTP. Methods are called on admin worker threads (never an event loop) and may block while the daemon
 * does the work on its control thread.
 */
public interface ControlApi {

    /** Everything an operator wants at a glance: VIPs, backends, health, drain, table digests. */
    StatusView status();

    /** The current Maglev table of {@code vip}, or empty when there is no such VIP. */
    Optional<TableView> table(String vip);

    /**
     * Where the flow from {@code client} to {@code vip} goes: the live table's choice and the forwarder's flow
     * tracking (read-only). Empty when there is no such VIP.
     */
    Optional<ExplainView> explain(String vip, InetSocketAddress client);

    /**
     * Re-reads the configuration file and applies it. On any error the running configuration stays as
     * it is and the result lists every error.
     */
    ReloadResult reload();

    /** Stops giving new flows to a backend; its existing flows finish. Idempotent. */
    DrainResult drain(String vip, String backend);

    /** Undoes {@link #drain}. Idempotent. */
    DrainResult undrain(String vip, String backend);

    /**
     * The maintenance switch, off: stops announcing {@code vip} (null: every VIP, also those a later reload
     * adds) while forwarding goes on. Survives reloads. Idempotent; the routes are gone when it returns.
     */
    AnnounceResult withdraw(String vip);

    /** The maintenance switch, on: undoes {@link #withdraw} for {@code vip} (null: every VIP). Idempotent. */
    AnnounceResult announce(String vip);

    /**
     * Starts the successor process ({@code run --takeover} with this process's command line: after a package
     * upgrade, the new binary) and returns at once; the successor takes over and this process drains and exits.
     *
     * @throws IllegalStateException when an upgrade cannot start (one runs already, no upgrade_socket), with why
     */
    default long upgrade() {
        throw new IllegalStateException("this daemon cannot start its successor");
    }
}
