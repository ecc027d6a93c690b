package io.maglevlb.control.cli;

import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code maglevd table}: the Maglev table a VIP gets from the configuration, computed offline. */
@Command(name = "table", mixinStandardHelpOptions = true,
        description = {
            "Build a VIP's Maglev table from the configuration, all backends up, and print how it spreads.",
            "Backends with weight 0 and those named by --without get no slots. The digest equals the one "
                    + "every maglevd with the same configuration and live backends computes."
        })
final class TableCommand implements Callable<Integer> {
    /** Output formats; lower case because they are typed as-is on the command line. */
    enum Format {
        summary,
        json
    }

    @Mixin
    ConfigFileOption config;

    @Option(names = "--vip", required = true, paramLabel = "NAME", description = "The VIP to build.")
    String vipName;

    @Option(names = "--without", paramLabel = "BACKEND", split = ",",
            description = "Leave this backend out, as if it were down. Repeatable or comma-separated.")
    List<String> without = new ArrayList<>();

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "summary",
            description = "summary (default) or json: {vip, size, digest, backends[{name, weight, slots, ...}], "
                    + "min_slots, max_slots, table[backend name or null per slot]}.")
    Format format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Optional<MaglevConfig> loaded = config.loadReporting(err);
        if (loaded.isEmpty()) {
            return MaglevdMain.EXIT_FAILURE;
        }
        MaglevConfig c = loaded.get();
        Optional<VipConfig> vip = c.vip(vipName);
        if (vip.isEmpty()) {
            err.println("maglevd table: " + config.file() + " has no VIP '" + vipName + "'; its VIPs: "
                    + String.join(", ", c.vips().stream().map(VipConfig::name).toList()));
            return MaglevdMain.EXIT_FAILURE;
        }
        TableReport report;
        try {
            report = TableReport.build(vip.get(), new LinkedHashSet<>(without));
        } catch (IllegalArgumentException e) {
            err.println("maglevd table: " + e.getMessage());
            return MaglevdMain.EXIT_FAILURE;
        }
        switch (format) {
            case summary -> report.printSummary(out);
            case json -> {
                report.writeJson(out);
                out.println();
            }
        }
        out.flush();
        return MaglevdMain.EXIT_OK;
    }
}
