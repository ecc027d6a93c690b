package io.maglevlb.core.config;

/**
 * A finding about a configuration document at a path such as {@code vips[1].backends[3].address}, with the
 * 1-based line and column it refers to (0 when it refers to no position, e.g. an unreadable file).
 */
public sealed interface ConfigProblem permits ConfigError, ConfigWarning {

    /** Dotted path with list indices; empty for the document itself. */
    String path();

    int line();

    int column();

    String message();

    /** The compiler-style form {@code SOURCE:LINE:COL: PATH: message}; parts that are unknown are left out. */
    default String format(String source) {
        StringBuilder sb = new StringBuilder();
        if (source != null && !source.isEmpty()) {
            sb.append(source);
            if (line() > 0) {
                sb.append(':').append(line());
                if (column() > 0) {
                    sb.append(':').append(column());
                }
            }
            sb.append(": ");
        } else if (line() > 0) {
            sb.append("line ").append(line());
            if (column() > 0) {
                sb.append(':').append(column());
            }
            sb.append(": ");
        }
        if (!path().isEmpty()) {
            sb.append(path()).append(": ");
        }
        if (this instanceof ConfigWarning) {
            sb.append("warning: ");
        }
        return sb.append(message()).toString();
    }
}
