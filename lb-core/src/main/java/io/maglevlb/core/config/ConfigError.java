package io.maglevlb.core.config;

import java.util.Objects;

/** A configuration error: the document is rejected. See {@link ConfigProblem} for the fields. */
public record ConfigError(String path, int line, int column, String message) implements ConfigProblem {
    public ConfigError {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return format("");
    }
}
