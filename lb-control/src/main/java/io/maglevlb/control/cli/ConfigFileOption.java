package io.maglevlb.control.cli;

import io.maglevlb.control.config.ConfigLoadResult;
import io.maglevlb.control.config.YamlConfigLoader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import io.maglevlb.core.config.MaglevConfig;
import picocli.CommandLine.Option;

/** The {@code --config FILE} option shared by commands ({@code @Mixin ConfigFileOption config;}). */
public final class ConfigFileOption {
    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE",
            description = "The YAML configuration file (see docs/configuration.md).")
    Path file;

    public Path file() {
        return file;
    }

    /** Loads and validates the file. */
    public ConfigLoadResult load() {
        return new YamlConfigLoader().load(file);
    }

    /**
     * Loads the file; on errors prints every error and warning to {@code err}, one per line, and returns empty.
     * Warnings of a valid file are printed too.
     */
    public Optional<MaglevConfig> loadReporting(PrintWriter err) {
        ConfigLoadResult result = load();
        if (!result.isValid()) {
            result.formattedProblems().forEach(err::println);
            return Optional.empty();
        }
        result.formattedWarnings().forEach(err::println);
        return result.config();
    }
}
