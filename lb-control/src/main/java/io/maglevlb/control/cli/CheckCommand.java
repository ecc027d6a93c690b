package io.maglevlb.control.cli;

import io.maglevlb.control.config.ConfigLoadResult;
import io.maglevlb.core.config.MaglevConfig;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code maglevd check --config FILE}: validates a configuration without starting anything. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {
            "Validate a configuration file without starting anything.",
            "Prints 'FILE: OK (N vips, M backends)' and exits 0, or prints every error as "
                    + "FILE:LINE:COL: PATH: message on stderr and exits 1.",
            "Warnings go to stderr either way."
        })
final class CheckCommand implements Callable<Integer> {
    @Mixin
    ConfigFileOption config;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ConfigLoadResult result = config.load();
        if (!result.isValid()) {
            result.formattedProblems().forEach(err::println);
            return MaglevdMain.EXIT_FAILURE;
        }
        MaglevConfig c = result.config().orElseThrow();
        int backends = c.vips().stream().mapToInt(v -> v.backends().size()).sum();
        out.println(result.source() + ": OK (" + count(c.vips().size(), "vip") + ", " + count(backends, "backend")
                + ")");
        result.formattedWarnings().forEach(err::println);
        return MaglevdMain.EXIT_OK;
    }

    static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
