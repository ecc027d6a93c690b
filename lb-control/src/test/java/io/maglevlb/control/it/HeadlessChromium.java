package io.maglevlb.control.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real headless Chromium (Debian's {@code chromium}) driven over the DevTools protocol: one page, navigated,
 * read with JavaScript, captured as PNG. No WebDriver: the protocol is JSON over the WebSocket the browser opens on
 * a loopback port (the JDK's HTTP client speaks both), so the test needs no driver binary or library.
 *
 * <p>The browser runs with a fresh profile in {@code profileDir}, no sandbox (tests run as root), and nothing
 * that reaches the network on its own (background networking, component updates, sync off). {@link #close()}
 * stops it and every process it started, by pid.
 */
final class HeadlessChromium implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<Path> BINARIES =
            List.of(Path.of("/usr/bin/chromium"), Path.of("/usr/bin/chromium-browser"));

    private final Process process;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> calls = new ConcurrentHashMap<>();

    /** The Chromium binary, when installed. */
    static Optional<Path> binary() {
        return BINARIES.stream().filter(Files::isExecutable).findFirst();
    }

    private HeadlessChromium(Process process, WebSocket socket) {
        this.process = process;
        this.socket = socket;
    }

    /** Starts Chromium on about:blank with a {@code width} x {@code height} window and connects to its page. */
    static HeadlessChromium start(Path binary, Path profileDir, int width, int height) throws Exception {
        Process p = new ProcessBuilder(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--no-default-browser-check", "--user-data-dir=" + profileDir, "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0", "--window-size=" + width + "," + height, "about:blank")
                .redirectErrorStream(true).redirectOutput(profileDir.resolveSibling("chromium.log").toFile()).start();
        try {
            Path portFile = profileDir.resolve("DevToolsActivePort");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(portFile) || Files.readAllLines(portFile).size() < 2) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("chromium did not open its DevTools port (" + (p.isAlive() ? "timeout"
                            : "exited " + p.exitValue()) + "): "
                            + Files.readString(profileDir.resolveSibling("chromium.log")));
                }
                Thread.sleep(50);
            }
            int port = Integer.parseInt(Files.readAllLines(portFile).getFirst().strip());
            HttpClient http = HttpClient.newHttpClient();
            String page = null;
            while (page == null) {
                JsonNode targets = JSON.readTree(http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                for (JsonNode t : targets) {
                    if (t.get("type").asText().equals("page")) {
                        page = t.get("webSocketDebuggerUrl").asText();
                    }
                }
                if (page == null) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("chromium shows no page target: " + targets);
                    }
                    Thread.sleep(50);
                }
            }
            Listener listener = new Listener();
            WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create(page), listener).get(30, TimeUnit.SECONDS);
            HeadlessChromium c = new HeadlessChromium(p, ws);
            listener.owner = c;
            c.call("Page.enable", Map.of());
            c.call("Runtime.enable", Map.of());
            return c;
        } catch (Exception e) {
            stop(p);
            throw e;
        }
    }

    /** Receives the protocol's answers (possibly in several frames) and completes the call with that id. */
    private static final class Listener implements WebSocket.Listener {
        volatile HeadlessChromium owner;
        private final StringBuilder text = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String message = text.toString();
                text.setLength(0);
                try {
                    JsonNode m = JSON.readTree(message);
                    if (m.has("id") && owner != null) {
                        CompletableFuture<JsonNode> f = owner.calls.remove(m.get("id").asInt());
                        if (f != null) {
                            f.complete(m);
                        }
                    }
                } catch (IOException e) {
                    // not JSON: not an answer to any call
                }
            }
            ws.request(1);
            return null;
        }
    }

    /** Sends a DevTools command and returns its {@code result}; fails on a protocol error. */
    JsonNode call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        calls.put(id, answer);
        ObjectNode message = JSON.createObjectNode().put("id", id).put("method", method);
        message.set("params", JSON.valueToTree(params));
        socket.sendText(JSON.writeValueAsString(message), true).get(30, TimeUnit.SECONDS);
        JsonNode m = answer.get(60, TimeUnit.SECONDS);
        if (m.has("error")) {
            throw new IllegalStateException(method + " failed: " + m.get("error"));
        }
        return m.get("result");
    }

    /** Loads {@code url} and waits until its document and deferred scripts have run. */
    void navigate(String url) throws Exception {
        call("Page.navigate", Map.of("url", url));
        await("location.href === " + JSON.writeValueAsString(url) + " && document.readyState === 'complete'",
                Duration.ofSeconds(60), url + " loaded");
    }

    /** Evaluates {@code expression} in the page and returns its value (JSON). */
    JsonNode eval(String expression) throws Exception {
        JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true,
                "awaitPromise", true));
        if (r.has("exceptionDetails")) {
            throw new IllegalStateException("page threw on '" + expression + "': " + r.get("exceptionDetails"));
        }
        JsonNode value = r.get("result").get("value");
        return value == null ? JSON.nullNode() : value;
    }

    String text(String expression) throws Exception {
        return eval(expression).asText();
    }

    /**
     * Polls {@code expression} every 100 ms until it is true; fails after {@code timeout} with {@code what}. An
     * expression that throws (the page is still loading, an element is not there yet) counts as false.
     */
    void await(String expression, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (eval(expression).asBoolean()) {
                    return;
                }
            } catch (IllegalStateException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what,
                            notYet);
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what
                        + "; the page shows:\n" + text("document.body.innerText"));
            }
            Thread.sleep(100);
        }
    }

    /** Types {@code text} into the focused element, as a keyboard would (input events). */
    void type(String text) throws Exception {
        call("Input.insertText", Map.of("text", text));
    }

    /** Emulates a phone-sized viewport ({@code width} CSS pixels wide). */
    void phone(int width, int height) throws Exception {
        call("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height, "deviceScaleFactor", 2,
                "mobile", true));
    }

    void desktop() throws Exception {
        call("Emulation.clearDeviceMetricsOverride", Map.of());
    }

    /** Captures the whole page as PNG into {@code file}. */
    void screenshot(Path file) throws Exception {
        JsonNode r = call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true));
        Files.write(file, Base64.getDecoder().decode(r.get("data").asText()));
    }

    @Override
    public void close() {
        socket.abort();
        http.close();
        stop(process);
    }

    /** Stops the browser and the processes it started (renderers, zygote), by pid. */
    private static void stop(Process p) {
        List<ProcessHandle> children = p.descendants().toList();
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (ProcessHandle child : children) {
            child.destroyForcibly();
        }
    }
}
