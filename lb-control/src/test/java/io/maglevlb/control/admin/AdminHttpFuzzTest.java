package io.maglevlb.control.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.maglevlb.control.metrics.MaglevMetrics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of the admin API's request handling, over a real socket to a real {@link AdminServer}:
 * whatever bytes a client sends, the server answers with well-formed HTTP/1.1 responses or closes, within a
 * bounded time once the client has finished sending, and keeps serving others ({@code GET /healthz} still
 * answers 200 after every input, so that a saved crash input reproduces alone).
 *
 * <p>Jazzer's server-side-request-forgery detector, which flags every socket connect, is off for the fuzz
 * run (pom.xml): this test's only peer is its own loopback server.
 *
 * <p>Inputs are one or more requests built from fuzzer-chosen methods, paths, versions and headers (so the
 * fuzzer reaches the routes, not just the request-line parser), or raw bytes.
 */
class AdminHttpFuzzTest {
    private static final Pattern STATUS_LINE = Pattern.compile("HTTP/1\\.[01] [1-5][0-9][0-9] .*");
    private static final String[] METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", "", "G\u00e9T"};
    private static final String[] PATHS = {
        "/healthz", "/metrics", "/status", "/reload", "/vips/web/table", "/vips/web/backends/web-1/drain",
        "/vips/web/backends/web-1/undrain", "/vips/%2e%2e/table", "/vips//table", "/", "*", "//", "/status?x=1",
        "/vips/web/backends/nope/drain", "http://127.0.0.1/status", "/ui/status.js", "/ui/%2e%2e",
        "/vips/web/explain?client=127.0.0.1:1", "/vips/web/explain?client=[::1]:99999&client=x",
    };
    private static final String[] VERSIONS = {"HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "HTTP/2.0", "HTTP/1.1x", ""};
    private static final String[] HEADERS = {
        "Host: x", "Connection: close", "Connection: keep-alive", "Content-Length: 5", "Content-Length: -1",
        "Transfer-Encoding: chunked", "Authorization: Bearer x", "Expect: 100-continue", "X: " + "a".repeat(9000),
    };

    private static InMemoryControl control;
    private static MaglevMetrics metrics;
    private static AdminServer server;

    @BeforeAll
    static void start() throws IOException {
        control = new InMemoryControl();
        metrics = new MaglevMetrics();
        server = AdminServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), Optional.empty(),
                control, metrics::scrape);
    }

    @AfterAll
    static void stop() {
        server.close();
        metrics.close();
    }

    @FuzzTest
    void answersWellFormedOrClosesAndKeepsServing(FuzzedDataProvider data) throws IOException {
        byte[] request;
        if (data.consumeInt(0, 7) == 0) {
            request = data.consumeRemainingAsBytes();
        } else {
            StringBuilder b = new StringBuilder();
            int count = data.consumeInt(1, 20);
            for (int i = 0; i < count; i++) {
                b.append(pick(data, METHODS)).append(' ').append(data.consumeBoolean() ? pick(data, PATHS)
                        : data.consumeString(40)).append(' ').append(pick(data, VERSIONS)).append("\r\n");
                int headers = data.consumeInt(0, 4);
                for (int h = 0; h < headers; h++) {
                    b.append(data.consumeBoolean() ? pick(data, HEADERS) : data.consumeString(60)).append("\r\n");
                }
                b.append(data.consumeBoolean() ? "\r\n" : "\n");
                if (data.consumeInt(0, 4) == 0) {
                    b.append(data.consumeString(30));
                }
            }
            request = b.toString().getBytes(StandardCharsets.ISO_8859_1);
        }
        for (String line : exchange(request, true).split("\r\n")) {
            if (line.startsWith("HTTP/")) {
                assertTrue(STATUS_LINE.matcher(line).matches(), "malformed status line: " + line);
            }
        }
        {
            String health = exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII), false);
            assertTrue(health.startsWith("HTTP/1.1 200 "), "the server stopped serving: " + health);
        }
    }

    /**
     * Sends {@code request}, half-closes when {@code halfClose}, and reads until the server closes; a server that
     * never does fails.
     */
    private static String exchange(byte[] request, boolean halfClose) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(server.address(), 5000);
            s.setSoTimeout(10_000);
            try {
                s.getOutputStream().write(request);
                if (halfClose) {
                    s.shutdownOutput();
                }
            } catch (IOException closedEarly) {
                // the server may refuse and close before reading everything: then read what it said
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    answer.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                assertEquals("", "the server neither answered nor closed within 10 s of the request's end");
            } catch (IOException reset) {
                // a reset after a refusal is a close
            }
            return answer.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static String pick(FuzzedDataProvider data, String[] from) {
        return from[data.consumeInt(0, from.length - 1)];
    }
}
