package io.maglevlb.core.config;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@link ConfigBinder#bind} found: the configuration when there is no error, and every error and warning.
 *
 * @param config present exactly when {@code errors} is empty
 * @param errors in document order
 * @param warnings in document order; reported whether or not there are errors
 */
public record BindResult(Optional<MaglevConfig> config, List<ConfigError> errors, List<ConfigWarning> warnings) {

    public BindResult {
        Objects.requireNonNull(config, "config");
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
        if (config.isPresent() != errors.isEmpty()) {
            throw new IllegalArgumentException("a result has either a config or errors, not both or neither");
        }
    }

    public boolean isValid() {
        return errors.isEmpty();
    }
}
