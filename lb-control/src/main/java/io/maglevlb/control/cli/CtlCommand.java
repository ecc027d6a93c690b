package io.maglevlb.control.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.config.AdminTokenFile;
import io.maglevlb.control.config.ConfigLoadResult;
import io.maglevlb.control.config.TrustedFile;
import io.maglevlb.control.config.YamlConfigLoader;
import io.maglevlb.core.config.AdminConfig;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.MaglevConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code maglevd ctl}: operates a running maglevd through its admin HTTP API.
 *
 * <p>Exit status: 0 done; 1 the daemon refused or failed (its error is printed); 2 usage error; 3 the admin
 * API could not be reached. {@code compare} exits 1 when the hosts disagree (see {@link CompareCommand}).
 */
@Command(name = "ctl", mixinStandardHelpOptions = true,
        description = "Operate a running maglevd through its admin API.",
        subcommands = {CtlCommand.Status.class, CtlCommand.Drain.class, CtlCommand.Undrain.class,
            CtlCommand.Reload.class, CtlCommand.Upgrade.class, CtlCommand.Table.class, CtlCommand.Withdraw.class, CtlCommand.Announce.class,
            CompareCommand.class})
public final class CtlCommand implements Callable<Integer> {
    public static final int EXIT_OK = 0;
    public static final int EXIT_REFUSED = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_UNREACHABLE = 3;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Option(names = "--admin", paramLabel = "ADDR",
            description = "Admin API address, host:port or http://host:port. Default: $" + AdminAddress.ENV
                    + " if set, else admin.listen of --config, else " + AdminConfig.DEFAULT_LISTEN + ".")
    String admin;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "File holding the admin bearer token (when the daemon has admin.token_file; default: "
                    + "admin.token_file of --config). Read with the daemon's rules: a regular file only root "
                    + "and its owner can change.")
    Path tokenFile;

    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "The daemon's configuration file: ctl takes admin.listen and admin.token_file from it.")
    Path configFile;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long to wait for an answer, in seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return EXIT_USAGE;
    }

    /** The base URI of the admin API from {@code --admin}. */
    static URI baseUri(String admin) {
        String a = admin.strip();
        if (a.startsWith("http://") || a.startsWith("https://")) {
            return URI.create(a.endsWith("/") ? a.substring(0, a.length() - 1) : a);
        }
        int colon = a.lastIndexOf(':');
        if (colon <= 0 || colon == a.length() - 1) {
            throw new IllegalArgumentException("--admin must be host:port or http://host:port, was '" + admin + "'");
        }
        String host = a.substring(0, colon);
        if (host.contains(":") && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        return URI.create("http://" + host + a.substring(colon));
    }

    private record Answer(int status, String body) {}

    /** A usage problem found while working out where and how to connect; the message is printed as is. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    // Loaded once per file, when --config is given and --admin or --token-file is not.
    private MaglevConfig loadedConfig;
    private Path loadedConfigFile;

    private MaglevConfig config() throws UsageException {
        if (loadedConfig == null || !configFile.equals(loadedConfigFile)) {
            loadedConfig = null;
            ConfigLoadResult r = new YamlConfigLoader().load(configFile);
            if (!r.isValid()) {
                throw new UsageException("--config " + configFile + " is not a valid configuration:\n  "
                        + String.join("\n  ", r.formattedProblems()));
            }
            loadedConfig = r.config().orElseThrow();
            loadedConfigFile = configFile;
        }
        return loadedConfig;
    }

    /** The admin address to talk to: --admin, else $MAGLEVD_ADMIN, else admin.listen of --config, else the default. */
    String adminAddress() throws UsageException {
        if (admin != null) {
            return admin;
        }
        String env = System.getenv(AdminAddress.ENV);
        if (env != null && !env.isBlank()) {
            return env;
        }
        if (configFile != null) {
            return ConfigValues.formatSocketAddress(config().admin().listen());
        }
        return AdminConfig.DEFAULT_LISTEN;
    }

    /** The token file to use: --token-file (of {@code own}, else of ctl), else admin.token_file of --config. */
    Optional<Path> tokenFile(Path own) throws UsageException {
        if (own != null) {
            return Optional.of(own);
        }
        if (tokenFile != null) {
            return Optional.of(tokenFile);
        }
        return configFile == null ? Optional.empty() : config().admin().tokenFile();
    }

    /**
     * Reads the token through {@link AdminTokenFile} (the daemon's {@link io.maglevlb.control.config.TrustedFile}
     * rules: regular file, size-limited, changeable by no one but root and the owner); prints its warnings.
     */
    Optional<String> token(Path own) throws UsageException {
        Optional<Path> file = tokenFile(own);
        if (file.isEmpty()) {
            return Optional.empty();
        }
        try {
            AdminTokenFile t = AdminTokenFile.read(file.get());
            t.warnings().forEach(w -> err().println("maglevd ctl: warning: " + w));
            return Optional.of(t.token());
        } catch (TrustedFile.RefusedException e) {
            throw new UsageException("cannot use the " + e.getMessage());
        }
    }

    /** Sends one request; prints errors itself and returns null when the API could not be reached. */
    private Answer send(String method, String path) throws UsageException {
        URI uri = URI.create(baseUri(adminAddress()) + path);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(timeoutSeconds))
                .method(method, HttpRequest.BodyPublishers.noBody());
        Optional<String> token = token(null);
        if (token.isPresent()) {
            b.header("Authorization", "Bearer " + token.get());
        }
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body());
        } catch (IOException e) {
            err().println("maglevd ctl: cannot reach the admin API at " + uri + ": " + describe(e));
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err().println("maglevd ctl: interrupted");
            return null;
        }
    }

    /** The first message in the cause chain (HttpClient's ConnectException often has none itself). */
    static String describe(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage();
            }
            if (t == t.getCause()) {
                break;
            }
        }
        return e instanceof java.net.ConnectException ? "connection refused (is maglevd running?)"
                : e.getClass().getSimpleName();
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }

    private PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** Runs one request: prints via {@code onOk} on 2xx, else the API's error. */
    private int run(String method, String path, boolean json, OkPrinter onOk) {
        Answer a;
        try {
            a = send(method, path);
        } catch (IllegalArgumentException | UsageException e) {
            err().println("maglevd ctl: " + e.getMessage());
            return EXIT_USAGE;
        }
        if (a == null) {
            return EXIT_UNREACHABLE;
        }
        JsonNode body = parse(a.body());
        if (a.status() / 100 == 2) {
            if (json || body == null) {
                out().print(a.body().endsWith("\n") ? a.body() : a.body() + "\n");
            } else {
                onOk.print(body, out());
            }
            out().flush();
            return EXIT_OK;
        }
        printError(a, body);
        return EXIT_REFUSED;
    }

    private void printError(Answer a, JsonNode body) {
        PrintWriter err = err();
        if (body != null && body.has("errors") && body.get("errors").isArray()) {
            err.println("maglevd ctl: reload refused (HTTP " + a.status() + "); the running configuration is"
                    + " unchanged:");
            body.get("errors").forEach(e -> err.println("  " + e.asText()));
        } else if (body != null && body.has("error")) {
            err.println("maglevd ctl: HTTP " + a.status() + ": " + body.get("error").asText());
        } else {
            err.println("maglevd ctl: HTTP " + a.status() + ": " + a.body().strip());
        }
        err.flush();
    }

    private static JsonNode parse(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private static String segment(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @FunctionalInterface
    private interface OkPrinter {
        void print(JsonNode body, PrintWriter out);
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Show VIPs, backends, health, drain state and table digests.")
    static final class Status implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Option(names = "--json", description = "Print the API's JSON as is.")
        boolean json;

        @Override
        public Integer call() {
            return ctl.run("GET", "/status", json, Status::print);
        }

        static void print(JsonNode s, PrintWriter out) {
            out.printf(Locale.ROOT, "maglevd %s  pid %s  started %s%n", s.path("version").asText(),
                    s.path("pid").asText(), s.path("startedAt").asText());
            if (s.hasNonNull("lastReload")) {
                out.printf(Locale.ROOT, "last reload: %s%n", s.get("lastReload").asText());
            }
            for (JsonNode v : s.path("vips")) {
                String digest = v.path("digest").asText();
                out.printf(Locale.ROOT, "%nvip %s  %s %s %s  generation %d  table %d  digest %s  %d/%d backends in"
                                + " table%n",
                        v.path("name").asText(), v.path("protocol").asText(), v.path("listen").asText(),
                        v.path("mode").asText(), v.path("generation").asLong(), v.path("tableSize").asInt(),
                        digest.length() > 16 ? digest.substring(0, 16) : digest, v.path("backendsInTable").asInt(),
                        v.path("backends").size());
                if (v.hasNonNull("activeFlows")) {
                    out.printf(Locale.ROOT, "  %d open connections/flows%n", v.get("activeFlows").asLong());
                }
                if (v.hasNonNull("announce")) {
                    out.printf(Locale.ROOT, "  %s%n", describeAnnouncement(v.get("announce")));
                }
                for (JsonNode b : v.path("backends")) {
                    String state = (b.path("healthy").asBoolean() ? "up" : "DOWN")
                            + (b.path("drained").asBoolean() ? ",drained" : "")
                            + (b.path("weight").asInt() == 0 ? ",weight0" : "");
                    String open = b.hasNonNull("activeFlows") ? b.get("activeFlows").asText() : "-";
                    out.printf(Locale.ROOT, "  %-20s %-24s w=%-3d %-16s %7d slots %7s open  %s%n",
                            b.path("name").asText(), b.path("address").asText(), b.path("weight").asInt(), state,
                            b.path("slots").asInt(), open, b.path("health").asText());
                }
            }
        }
    }

    /** A POST on one backend of one VIP: {@code /vips/{vip}/backends/{backend}/{action}}. */
    abstract static class BackendAction implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Parameters(index = "0", paramLabel = "VIP")
        String vip;

        @Parameters(index = "1", paramLabel = "BACKEND")
        String backend;

        abstract String action();

        @Override
        public Integer call() {
            return ctl.run("POST", "/vips/" + segment(vip) + "/backends/" + segment(backend) + "/" + action(), false,
                    CtlCommand::printDrain);
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Give a backend no new flows; its existing flows finish. Survives reloads.")
    static final class Drain extends BackendAction {
        @Override
        String action() {
            return "drain";
        }
    }

    @Command(name = "undrain", mixinStandardHelpOptions = true, description = "Undo drain.")
    static final class Undrain extends BackendAction {
        @Override
        String action() {
            return "undrain";
        }
    }

    private static void printDrain(JsonNode d, PrintWriter out) {
        out.printf(Locale.ROOT, "%s/%s %s%s%n", d.path("vip").asText(), d.path("backend").asText(),
                d.path("drained").asBoolean() ? "drained" : "undrained",
                d.path("changed").asBoolean() ? "" : " (already)");
    }

    @Command(name = "upgrade", mixinStandardHelpOptions = true,
            description = {"Replace the running maglevd by a new process without losing a connection: it starts "
                    + "'run --takeover' with its own command line (after a package upgrade, the new version), "
                    + "which takes over the sockets; the old process finishes its connections and exits.",
                    "Returns once the new process is started; its log says when it serves."})
    static final class Upgrade implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Override
        public Integer call() {
            return ctl.run("POST", "/upgrade", false, (r, out) -> out.println(r.path("message").asText()));
        }
    }

    @Command(name = "reload", mixinStandardHelpOptions = true,
            description = "Re-read and apply the configuration file (like SIGHUP, but reports the result).")
    static final class Reload implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Override
        public Integer call() {
            return ctl.run("POST", "/reload", false, (r, out) -> {
                out.println("reloaded");
                print(out, "added", r.path("added"));
                print(out, "removed", r.path("removed"));
                print(out, "changed", r.path("changed"));
                print(out, "unchanged", r.path("unchanged"));
            });
        }

        private static void print(PrintWriter out, String label, JsonNode names) {
            if (names.isArray() && !names.isEmpty()) {
                StringBuilder sb = new StringBuilder();
                names.forEach(n -> sb.append(sb.isEmpty() ? "" : ", ").append(n.asText()));
                out.printf(Locale.ROOT, "  %-10s %s%n", label + ":", sb);
            }
        }
    }

    /** "announced 198.18.0.10/32" or "NOT announced: why", from a {@code StatusView.Announcement}. */
    static String describeAnnouncement(JsonNode a) {
        String address = a.hasNonNull("address") ? " " + a.get("address").asText() : "";
        String reason = a.hasNonNull("reason") ? a.get("reason").asText() : "";
        if (a.path("announced").asBoolean()) {
            return "announced" + address + (reason.isEmpty() ? "" : " (" + reason + ")");
        }
        return "NOT announced" + address + (reason.isEmpty() ? "" : ": " + reason);
    }

    /** The maintenance switch: {@code POST /withdraw|/announce} or {@code /vips/{vip}/withdraw|announce}. */
    abstract static class AnnounceAction implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Parameters(index = "0", arity = "0..1", paramLabel = "VIP", description = "The VIP; every VIP when omitted.")
        String vip;

        abstract String action();

        @Override
        public Integer call() {
            String path = vip == null ? "/" + action() : "/vips/" + segment(vip) + "/" + action();
            return ctl.run("POST", path, false, (r, out) -> {
                for (JsonNode v : r.path("vips")) {
                    out.printf(Locale.ROOT, "%s %s%n", v.path("name").asText(), describeAnnouncement(v.path("announce")));
                }
            });
        }
    }

    @Command(name = "withdraw", mixinStandardHelpOptions = true,
            description = {"Stop announcing a VIP (every VIP when none is named) to the routing daemon; "
                    + "forwarding goes on for whatever still arrives.",
                "The maintenance switch: survives reloads, undone by 'ctl announce'. Needs announce in the "
                    + "configuration."})
    static final class Withdraw extends AnnounceAction {
        @Override
        String action() {
            return "withdraw";
        }
    }

    @Command(name = "announce", mixinStandardHelpOptions = true,
            description = "Undo 'ctl withdraw' for a VIP (every VIP when none is named): it is announced again "
                    + "while it has a backend up.")
    static final class Announce extends AnnounceAction {
        @Override
        String action() {
            return "announce";
        }
    }

    @Command(name = "table", mixinStandardHelpOptions = true,
            description = "Print a VIP's published Maglev table as JSON.")
    static final class Table implements Callable<Integer> {
        @ParentCommand
        CtlCommand ctl;

        @Parameters(index = "0", paramLabel = "VIP")
        String vip;

        @Override
        public Integer call() {
            return ctl.run("GET", "/vips/" + segment(vip) + "/table", true, null);
        }
    }
}
