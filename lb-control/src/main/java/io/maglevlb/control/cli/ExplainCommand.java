package io.maglevlb.control.cli;

import io.maglevlb.control.admin.ExplainView;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.FlowPlacement;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
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

/**
 * {@code maglevd explain}: which backend a client's flow gets, computed offline from the configuration with the
 * table every maglevd builds (all backends up), through the same hash and lookup as the forwarders.
 */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = {
            "Compute offline which backend a client's flow to a VIP gets: the flow hash, the table slot it "
                    + "selects, the backend that owns the slot, and the digest of the table used.",
            "",
            "The table is built from the configuration with every backend up (weight 0 and --without backends "
                    + "get no slots): the table a running maglevd uses while all of them are healthy, with the same "
                    + "digest. The hashed tuple is (protocol, client IP:port, VIP listen IP:port); with "
                    + "'hash: source-ip' only the client address counts.",
            "",
            "A running maglevd answers the same from its live table, and also says whether it tracks the flow "
                    + "(an open connection, a UDP or DSR flow table entry) and on which backend:",
            "  curl 'http://127.0.0.1:9190/vips/NAME/explain?client=IP:PORT'",
            ""
        })
final class ExplainCommand implements Callable<Integer> {
    /** Output formats; lower case because they are typed as-is on the command line. */
    enum Format {
        summary,
        json
    }

    @Mixin
    ConfigFileOption config;

    @Option(names = "--vip", required = true, paramLabel = "NAME", description = "The VIP the flow goes to.")
    String vipName;

    @Option(names = "--client", required = true, paramLabel = "IP:PORT",
            description = "The flow's source as the load balancer sees it: 198.51.100.7:53124 or "
                    + "[2001:db8::7]:53124. The destination is the VIP's listen address and port (for a dsr VIP, "
                    + "the port the client sends to, which is the VIP's).")
    String client;

    @Option(names = "--without", paramLabel = "BACKEND", split = ",",
            description = "Leave this backend out, as if it were down. Repeatable or comma-separated.")
    List<String> without = new ArrayList<>();

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "summary",
            description = "summary (default) or json: the object the admin API answers, with tracking null.")
    Format format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        InetSocketAddress source;
        try {
            source = ConfigValues.parseSocketAddress(client);
        } catch (IllegalArgumentException e) {
            err.println("maglevd explain: --client: " + e.getMessage());
            return MaglevdMain.EXIT_USAGE;
        }
        Optional<MaglevConfig> loaded = config.loadReporting(err);
        if (loaded.isEmpty()) {
            return MaglevdMain.EXIT_FAILURE;
        }
        MaglevConfig c = loaded.get();
        Optional<VipConfig> found = c.vip(vipName);
        if (found.isEmpty()) {
            err.println("maglevd explain: " + config.file() + " has no VIP '" + vipName + "'; its VIPs: "
                    + String.join(", ", c.vips().stream().map(VipConfig::name).toList()));
            return MaglevdMain.EXIT_FAILURE;
        }
        VipConfig vip = found.get();
        TableReport table;
        try {
            table = TableReport.build(vip, new LinkedHashSet<>(without));
        } catch (IllegalArgumentException e) {
            err.println("maglevd explain: " + e.getMessage());
            return MaglevdMain.EXIT_FAILURE;
        }
        FlowPlacement placement = FlowPlacement.of(table.snapshot(), vip.hash(), vip.protocol(), source, vip.listen());
        ExplainView view = ExplainView.of(vip, placement, source, vip.listen(), null);
        switch (format) {
            case summary -> view.print(out);
            case json -> out.println(ExplainView.JSON.writeValueAsString(view));
        }
        out.flush();
        return MaglevdMain.EXIT_OK;
    }
}
