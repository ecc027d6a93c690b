package io.maglevlb.core.config;

import java.util.Objects;

/** Something valid but probably not meant (e.g. a small table); the document is still accepted. */
public record ConfigWarning(String path, int line, int column, String message) implements ConfigProblem {
    public ConfigWarning {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return format("");
    }
}
