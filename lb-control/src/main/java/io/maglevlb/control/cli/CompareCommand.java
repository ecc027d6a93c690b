package io.maglevlb.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.cli.FleetComparison.Host;
import io.maglevlb.control.cli.FleetComparison.Report;
import io.maglevlb.control.cli.FleetComparison.Row;
import io.maglevlb.control.cli.FleetComparison.VipReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code maglevd ctl compare --admin A --admin B ...}: asks every host for its {@code /status} (all at once) and
 * prints, per VIP, one row per host with the table generation, digest and live backends; then what differs.
 *
 * <p>A VIP a host does not announce (withdrawn, no backend up; see {@code announce}) is marked on its row but not
 * counted as a difference: the table is what must agree.
 *
 * <p>Exit status: 0 every host answered and all agree on every VIP; 1 they disagree (a different digest, or a
 * VIP some host lacks); 3 they agree but a host could not be reached or refused the request; 2 usage error.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = {"Compare the tables of several maglevd hosts: per VIP, each host's digest, generation and"
                + " live backends. Exits 1 when they disagree and says which backend differs.",
            "The generation counts a host's own rebuilds and is shown, not compared."})
final class CompareCommand implements Callable<Integer> {
    static final int EXIT_DISAGREE = 1;

    private static final ObjectMapper JSON = new ObjectMapper();

    @ParentCommand
    CtlCommand ctl;

    @Spec
    CommandSpec spec;

    @Option(names = "--admin", paramLabel = "ADDR", required = true,
            description = "A host's admin API, host:port or http://host:port; give it once per host (two or more).")
    List<String> admins;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "File holding the admin bearer token, sent to every host (default: ctl's --token-file).")
    Path tokenFile;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (admins.size() < 2) {
            err.println("maglevd ctl compare: give --admin at least twice (one per host)");
            return CtlCommand.EXIT_USAGE;
        }
        List<URI> uris = new ArrayList<>();
        for (String a : admins) {
            try {
                uris.add(URI.create(CtlCommand.baseUri(a) + "/status"));
            } catch (IllegalArgumentException e) {
                err.println("maglevd ctl compare: " + e.getMessage());
                return CtlCommand.EXIT_USAGE;
            }
        }
        String token;
        try {
            token = ctl.token(tokenFile).orElse(null);
        } catch (CtlCommand.UsageException e) {
            err.println("maglevd ctl compare: " + e.getMessage());
            return CtlCommand.EXIT_USAGE;
        }
        List<Host> hosts = fetchAll(uris, token);
        Report report = FleetComparison.compare(hosts);
        print(report, hosts.size(), out);
        for (Host h : report.unreachable()) {
            err.println("maglevd ctl compare: host " + h.name() + ": " + h.error());
        }
        out.flush();
        err.flush();
        if (!report.agrees()) {
            return EXIT_DISAGREE;
        }
        return report.unreachable().isEmpty() ? CtlCommand.EXIT_OK : CtlCommand.EXIT_UNREACHABLE;
    }

    /** Every host's status, asked in parallel; a host that fails is a {@link Host#failed}. */
    private List<Host> fetchAll(List<URI> uris, String token) {
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            List<CompletableFuture<Host>> answers = new ArrayList<>();
            for (int i = 0; i < uris.size(); i++) {
                String name = admins.get(i);
                HttpRequest.Builder b = HttpRequest.newBuilder(uris.get(i))
                        .timeout(Duration.ofSeconds(ctl.timeoutSeconds)).GET();
                if (token != null) {
                    b.header("Authorization", "Bearer " + token);
                }
                answers.add(client.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString())
                        .handle((r, e) -> toHost(name, r, e)));
            }
            List<Host> hosts = new ArrayList<>();
            for (CompletableFuture<Host> a : answers) {
                hosts.add(a.join());
            }
            return hosts;
        }
    }

    private static Host toHost(String name, HttpResponse<String> r, Throwable e) {
        if (e != null) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            return Host.failed(name, "cannot reach the admin API: " + CtlCommand.describe(
                    cause instanceof Exception ex ? ex : new IOException(cause)));
        }
        if (r.statusCode() / 100 != 2) {
            return Host.failed(name, "HTTP " + r.statusCode() + ": " + r.body().strip());
        }
        try {
            JsonNode status = JSON.readTree(r.body());
            if (!status.path("vips").isArray()) {
                return Host.failed(name, "not a maglevd /status answer");
            }
            return Host.reached(name, status);
        } catch (IOException notJson) {
            return Host.failed(name, "not a maglevd /status answer: " + CtlCommand.describe(notJson));
        }
    }

    static void print(Report report, int hostCount, PrintWriter out) {
        int width = 4;
        for (VipReport v : report.vips()) {
            for (Row r : v.rows()) {
                width = Math.max(width, r.host().length());
            }
        }
        for (VipReport v : report.vips()) {
            out.printf(Locale.ROOT, "vip %s: %s%n", v.vip(), v.agrees() ? "agree" : "DIFFER");
            out.printf(Locale.ROOT, "  %-" + width + "s  %10s  %-16s  %s%n", "HOST", "GENERATION", "DIGEST",
                    "LIVE BACKENDS");
            for (Row r : v.rows()) {
                if (r.vip() == null) {
                    out.printf(Locale.ROOT, "  %-" + width + "s  %10s  %-16s  %s%n", r.host(), "-", "-", "(no such vip)");
                    continue;
                }
                String digest = r.digest();
                StringBuilder live = new StringBuilder(String.join(" ", r.live()));
                List<String> others = new ArrayList<>();
                for (JsonNode b : r.vip().path("backends")) {
                    if (!FleetComparison.isLive(b)) {
                        others.add(b.path("name").asText() + " " + FleetComparison.state(b));
                    }
                }
                if (live.isEmpty()) {
                    live.append("(none)");
                }
                if (!others.isEmpty()) {
                    live.append("   not live: ").append(String.join(", ", others));
                }
                JsonNode announce = r.vip().path("announce");
                if (announce.isObject() && !announce.path("announced").asBoolean()) {
                    // Shown, not compared: a withdrawn host is maintenance, not a different table.
                    live.append("   [NOT announced").append(announce.hasNonNull("reason")
                            ? ": " + announce.get("reason").asText() : "").append(']');
                }
                out.printf(Locale.ROOT, "  %-" + width + "s  %10d  %-16s  %s%n", r.host(), r.generation(),
                        digest.length() > 16 ? digest.substring(0, 16) : digest, live);
            }
            for (String d : v.differences()) {
                out.println("  " + d);
            }
        }
        for (Host h : report.unreachable()) {
            out.printf(Locale.ROOT, "host %s: no answer (%s)%n", h.name(), h.error());
        }
        int answered = hostCount - report.unreachable().size();
        if (report.agrees()) {
            out.printf(Locale.ROOT, "%d of %d hosts answered; they agree on %d vips%n", answered, hostCount,
                    report.vips().size());
        } else {
            long differing = report.vips().stream().filter(v -> !v.agrees()).count();
            out.printf(Locale.ROOT, "%d of %d hosts answered; they DISAGREE on %d of %d vips%n", answered, hostCount,
                    differing, report.vips().size());
        }
    }
}
