package io.maglevlb.control.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.maglevlb.control.metrics.MaglevMetrics;
import io.maglevlb.control.metrics.PrometheusText;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final InetSocketAddress LOOPBACK_ANY_PORT = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    private final InMemoryControl control = new InMemoryControl();
    private final MaglevMetrics metrics = new MaglevMetrics();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private AdminServer server;

    @TempDir
    Path dir;

    @BeforeEach
    void start() throws IOException {
        server = AdminServer.start(LOOPBACK_ANY_PORT, Optional.empty(), control, metrics::scrape);
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
        http.close();
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
    }

    private HttpResponse<String> send(String method, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        assertEquals("application/json", r.headers().firstValue("content-type").orElseThrow());
        return JSON.readTree(r.body());
    }

    @Test
    void listensOnLoopback() {
        assertTrue(server.address().getAddress().isLoopbackAddress());
    }

    @Test
    void healthz() throws Exception {
        HttpResponse<String> r = send("GET", "/healthz");
        assertEquals(200, r.statusCode());
        assertEquals("ok\n", r.body());
    }

    @Test
    void metricsArePrometheusText() throws Exception {
        metrics.countReload(true);
        HttpResponse<String> r = send("GET", "/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("content-type").orElseThrow());
        PrometheusText text = PrometheusText.parse(r.body());
        assertEquals(1, text.value("maglev_reloads_total", "result", "ok"));
        assertFalse(text.samples("jvm_memory_used_bytes").isEmpty());
    }

    @Test
    void statusIsJson() throws Exception {
        HttpResponse<String> r = send("GET", "/status");
        assertEquals(200, r.statusCode());
        JsonNode status = json(r);
        assertEquals(2, status.get("vips").size());
        JsonNode web = status.get("vips").get(0);
        assertEquals("web", web.get("name").asText());
        assertEquals(2, web.get("backendsInTable").asInt());
        assertEquals("a", web.get("backends").get(0).get("name").asText());
        assertEquals(64, web.get("digest").asText().length());
    }

    @Test
    void tableOfAVip() throws Exception {
        HttpResponse<String> r = send("GET", "/vips/web/table");
        assertEquals(200, r.statusCode());
        JsonNode t = json(r);
        assertEquals(101, t.get("size").asInt());
        assertEquals(101, t.get("slots").size());
        int total = 0;
        for (JsonNode b : t.get("backends")) {
            total += b.get("slots").asInt();
        }
        assertEquals(101, total);
    }

    @Test
    void tableOfAnUnknownVipIs404WithJsonError() throws Exception {
        HttpResponse<String> r = send("GET", "/vips/nope/table");
        assertEquals(404, r.statusCode());
        assertEquals("unknown vip 'nope'", json(r).get("error").asText());
    }

    @Test
    void drainAndUndrainChangeTheTableAndAreIdempotent() throws Exception {
        HttpResponse<String> r = send("POST", "/vips/web/backends/a/drain");
        assertEquals(200, r.statusCode());
        JsonNode d = json(r);
        assertTrue(d.get("drained").asBoolean());
        assertTrue(d.get("changed").asBoolean());
        assertEquals(1, json(send("GET", "/status")).get("vips").get(0).get("backendsInTable").asInt());
        assertFalse(json(send("POST", "/vips/web/backends/a/drain")).get("changed").asBoolean());

        JsonNode u = json(send("POST", "/vips/web/backends/a/undrain"));
        assertFalse(u.get("drained").asBoolean());
        assertTrue(u.get("changed").asBoolean());
        assertEquals(2, json(send("GET", "/status")).get("vips").get(0).get("backendsInTable").asInt());
    }

    @Test
    void drainOfUnknownVipOrBackendIs404() throws Exception {
        HttpResponse<String> r = send("POST", "/vips/nope/backends/a/drain");
        assertEquals(404, r.statusCode());
        assertEquals("unknown vip 'nope'", json(r).get("error").asText());
        r = send("POST", "/vips/web/backends/zz/undrain");
        assertEquals(404, r.statusCode());
        assertEquals("unknown backend 'zz' in vip 'web'", json(r).get("error").asText());
    }

    @Test
    void reloadOkAndInvalid() throws Exception {
        HttpResponse<String> ok = send("POST", "/reload");
        assertEquals(200, ok.statusCode());
        assertTrue(json(ok).get("ok").asBoolean());

        control.nextReloadErrors = List.of("vips[0].backends[1].address: not an IP literal (line 9)");
        HttpResponse<String> bad = send("POST", "/reload");
        assertEquals(422, bad.statusCode());
        JsonNode body = json(bad);
        assertFalse(body.get("ok").asBoolean());
        assertEquals("vips[0].backends[1].address: not an IP literal (line 9)", body.get("errors").get(0).asText());
    }

    @Test
    void wrongMethodIs405WithAllow() throws Exception {
        for (String[] c : new String[][] {
                {"GET", "/reload", "POST"}, {"PUT", "/reload", "POST"},
                {"POST", "/status", "GET"}, {"DELETE", "/metrics", "GET"}, {"POST", "/healthz", "GET"},
                {"POST", "/vips/web/table", "GET"},
                {"GET", "/vips/web/backends/a/drain", "POST"}, {"DELETE", "/vips/web/backends/a/undrain", "POST"}}) {
            HttpResponse<String> r = send(c[0], c[1]);
            assertEquals(405, r.statusCode(), c[0] + " " + c[1]);
            assertEquals(c[2], r.headers().firstValue("allow").orElseThrow(), c[0] + " " + c[1]);
        }
        assertEquals(0, control.reloads.get(), "a GET must never reload");
        assertFalse(json(send("GET", "/status")).get("vips").get(0).get("backends").get(0).get("drained").asBoolean());
    }

    @Test
    void unknownPathsAre404() throws Exception {
        for (String path : List.of("/", "/nope", "/vips", "/vips/web", "/vips/web/backends/a",
                "/vips/web/backends/a/kill", "/status/extra")) {
            assertEquals(404, send("GET", path).statusCode(), path);
        }
    }

    @Test
    void percentEncodedNamesAreDecodedPerSegmentAndMalformedOnesAre400() throws Exception {
        HttpResponse<String> r = send("POST", "/vips/we%2Fb/backends/a/drain");
        assertEquals(404, r.statusCode());
        assertEquals("unknown vip 'we/b'", json(r).get("error").asText());
        assertEquals(200, send("POST", "/vips/%77eb/backends/a/drain").statusCode());
        assertTrue(raw("GET /vips/%zz/table HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .startsWith("HTTP/1.1 400"));
    }

    @Test
    void aSlowReloadDoesNotBlockOtherRequests() throws Exception {
        control.reloadGate = new CountDownLatch(1);
        CompletableFuture<HttpResponse<String>> reload = http.sendAsync(
                HttpRequest.newBuilder(uri("/reload")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, send("GET", "/healthz").statusCode());
        assertEquals(200, send("GET", "/status").statusCode());
        assertFalse(reload.isDone());
        control.reloadGate.countDown();
        assertEquals(200, reload.get(10, TimeUnit.SECONDS).statusCode());
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String all = new String(readAll(s.getInputStream()), StandardCharsets.US_ASCII);
            int first = all.indexOf("HTTP/1.1 200");
            int second = all.indexOf("ok\n");
            int third = all.indexOf("HTTP/1.1 404");
            assertTrue(first >= 0 && second > first && third > second, all);
        }
    }

    @Test
    void oversizedRequestIsRefused() throws Exception {
        String statusLine;
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort())) {
            s.setSoTimeout(10_000);
            byte[] body = new byte[AdminServer.MAX_REQUEST_BYTES + 1];
            s.getOutputStream().write(("POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(body);
            statusLine = readLine(s.getInputStream());
        }
        assertEquals("HTTP/1.1 413 Request Entity Too Large", statusLine);
        assertEquals(0, control.reloads.get());
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        return sb.toString().strip();
    }

    private String raw(String request) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return new String(readAll(s.getInputStream()), StandardCharsets.US_ASCII);
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        return in.readAllBytes();
    }

    @Test
    void bearerTokenIsRequiredWhenConfigured() throws Exception {
        server.close();
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "s3cret-token\n");
        server = AdminServer.start(LOOPBACK_ANY_PORT, Optional.of(tokenFile), control, metrics::scrape);

        HttpResponse<String> none = send("GET", "/status");
        assertEquals(401, none.statusCode());
        assertEquals("Bearer realm=\"maglevd\"", none.headers().firstValue("www-authenticate").orElseThrow());
        assertEquals(401, send("GET", "/status", "Authorization", "Bearer wrong").statusCode());
        assertEquals(401, send("GET", "/status", "Authorization", "Bearer s3cret-token-longer").statusCode());
        assertEquals(401, send("GET", "/status", "Authorization", "Basic s3cret-token").statusCode());
        assertEquals(401, send("POST", "/reload", "Authorization", "Bearer s3cret").statusCode());
        assertEquals(401, send("GET", "/nope").statusCode(), "no route probing without a token");
        assertEquals(0, control.reloads.get());

        assertEquals(200, send("GET", "/status", "Authorization", "Bearer s3cret-token").statusCode());
        assertEquals(200, send("GET", "/metrics", "Authorization", "bearer s3cret-token").statusCode());
        assertEquals(200, send("POST", "/reload", "Authorization", "Bearer s3cret-token").statusCode());
        assertEquals(200, send("GET", "/healthz").statusCode(), "liveness needs no token");
    }

    @Test
    void emptyOrMissingTokenFileFailsTheStart() throws IOException {
        Path empty = dir.resolve("empty");
        Files.writeString(empty, "\n");
        assertThrows(IOException.class,
                () -> AdminServer.start(LOOPBACK_ANY_PORT, Optional.of(empty), control, metrics::scrape));
        assertThrows(IOException.class, () -> AdminServer.start(LOOPBACK_ANY_PORT,
                Optional.of(dir.resolve("missing")), control, metrics::scrape));
    }

    @Test
    void bindingAnAddressInUseFailsWithAClearError() {
        IOException e = assertThrows(IOException.class,
                () -> AdminServer.start(server.address(), Optional.empty(), control, metrics::scrape));
        assertTrue(e.getMessage().contains("cannot listen for the admin API"), e.getMessage());
    }
}
