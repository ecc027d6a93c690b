package io.maglevlb.control.config;

import io.maglevlb.core.config.ConfigError;
import java.util.List;

/**
 * A configuration file that cannot be used. The message lists every error, one per line, as
 * {@code FILE:LINE:COL: PATH: message}.
 */
public final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient ConfigLoadResult result;

    public ConfigException(ConfigLoadResult result) {
        super(String.join("\n", result.formattedErrors()));
        if (result.isValid()) {
            throw new IllegalArgumentException("a valid configuration is not an exception");
        }
        this.result = result;
    }

    /** The file as named by the caller. */
    public String source() {
        return result.source();
    }

    public List<ConfigError> errors() {
        return result.errors();
    }

    /** The whole result, including warnings. */
    public ConfigLoadResult result() {
        return result;
    }
}
