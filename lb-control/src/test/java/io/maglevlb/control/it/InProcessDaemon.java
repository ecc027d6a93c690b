package io.maglevlb.control.it;

import io.maglevlb.control.config.YamlConfigLoader;
import io.maglevlb.control.daemon.DaemonOptions;
import io.maglevlb.control.daemon.Maglevd;
import io.maglevlb.control.plane.ControlPlane;
import io.maglevlb.core.config.MaglevConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * The real daemon in this JVM: {@link Maglevd} with the {@link ControlPlane} plugged in, exactly as
 * {@code maglevd run} builds it, started from a YAML file the test writes (and may rewrite before a
 * reload). Talks to it over its real admin API.
 */
final class InProcessDaemon implements AutoCloseable {
    private final Path configFile;
    private final Maglevd daemon;
    private final ControlPlane control;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private InProcessDaemon(Path configFile, Maglevd daemon, ControlPlane control) {
        this.configFile = configFile;
        this.daemon = daemon;
        this.control = control;
    }

    static InProcessDaemon start(Path dir, String yaml) throws Exception {
        Path file = dir.resolve("maglevd.yaml");
        Files.writeString(file, yaml, StandardCharsets.UTF_8);
        MaglevConfig config = new YamlConfigLoader().loadOrThrow(file);
        Maglevd daemon = new Maglevd(config, DaemonOptions.fromSystemProperties());
        ControlPlane control = new ControlPlane(file);
        daemon.addService(control);
        daemon.start();
        return new InProcessDaemon(file, daemon, control);
    }

    Maglevd daemon() {
        return daemon;
    }

    ControlPlane control() {
        return control;
    }

    Path configFile() {
        return configFile;
    }

    void rewriteConfig(String yaml) throws IOException {
        Files.writeString(configFile, yaml, StandardCharsets.UTF_8);
    }

    URI admin(String path) {
        return URI.create("http://127.0.0.1:" + control.adminAddress().getPort() + path);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return send("GET", path);
    }

    HttpResponse<String> post(String path) throws IOException, InterruptedException {
        return send("POST", path);
    }

    HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(admin(path)).timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        daemon.shutdown(Duration.ofSeconds(5));
        http.close();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Polls {@code condition} every 20 ms; fails after {@code timeout} with {@code what}. */
    static void await(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
