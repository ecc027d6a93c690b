package io.maglevlb.control.cli;

import io.maglevlb.core.config.ConfigValues;
import java.net.InetSocketAddress;

/**
 * An admin API address given outside the configuration file: {@code run --admin ADDR} or the environment
 * variable {@value #ENV}, which {@code maglevd ctl} reads too, so that a daemon moved off the default port and the
 * ctl talking to it agree without repeating the address.
 *
 * @param address where the admin API listens
 * @param source what gave it ({@code --admin} or {@value #ENV}), named in messages
 */
record AdminAddress(InetSocketAddress address, String source) {
    /** Environment variable holding an admin address (IP:port). */
    static final String ENV = "MAGLEVD_ADMIN";

    /**
     * The address {@code run} listens on instead of {@code admin.listen}: the option, else the environment
     * variable, else none (null).
     *
     * @throws IllegalArgumentException naming the source when the address is not IP:port
     */
    static AdminAddress override(String option, String environment) {
        if (option != null) {
            return parse(option, "--admin");
        }
        if (environment != null && !environment.isBlank()) {
            return parse(environment, ENV);
        }
        return null;
    }

    private static AdminAddress parse(String text, String source) {
        try {
            return new AdminAddress(ConfigValues.parseSocketAddress(text), source);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }
}
