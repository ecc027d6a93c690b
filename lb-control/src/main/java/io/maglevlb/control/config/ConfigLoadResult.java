package io.maglevlb.control.config;

import io.maglevlb.core.config.ConfigError;
import io.maglevlb.core.config.ConfigProblem;
import io.maglevlb.core.config.ConfigWarning;
import io.maglevlb.core.config.MaglevConfig;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of loading one configuration file: the validated configuration, or every error (unreadable file,
 * YAML syntax, validation), plus warnings either way.
 *
 * @param source the file as the operator named it; prefixes every formatted problem
 * @param config present exactly when {@code errors} is empty
 */
public record ConfigLoadResult(String source, Optional<MaglevConfig> config, List<ConfigError> errors,
        List<ConfigWarning> warnings) {

    public ConfigLoadResult {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(config, "config");
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
        if (config.isPresent() != errors.isEmpty()) {
            throw new IllegalArgumentException("a result has either a config or errors, not both or neither");
        }
    }

    static ConfigLoadResult failed(String source, List<ConfigError> errors) {
        return new ConfigLoadResult(source, Optional.empty(), errors, List.of());
    }

    public boolean isValid() {
        return errors.isEmpty();
    }

    /** Errors as {@code FILE:LINE:COL: PATH: message}, one string each, in document order. */
    public List<String> formattedErrors() {
        return errors.stream().map(e -> e.format(source)).toList();
    }

    /** Warnings as {@code FILE:LINE:COL: PATH: warning: message}. */
    public List<String> formattedWarnings() {
        return warnings.stream().map(w -> w.format(source)).toList();
    }

    /** Errors and warnings together in document order, formatted. */
    public List<String> formattedProblems() {
        return java.util.stream.Stream.concat(errors.stream(), warnings.stream())
                .sorted(java.util.Comparator.comparingInt(ConfigProblem::line)
                        .thenComparingInt(ConfigProblem::column))
                .map(p -> p.format(source))
                .toList();
    }

    /** The configuration, or a {@link ConfigException} listing every error. */
    public MaglevConfig orThrow() throws ConfigException {
        if (!isValid()) {
            throw new ConfigException(this);
        }
        return config.orElseThrow();
    }
}
