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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JSON_TYPE_HEADER = "application/json";
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
    void theAnnounceSwitchIsPostOnlyPerVipOrForAll() throws Exception {
        JsonNode w = json(send("POST", "/vips/web/withdraw"));
        assertEquals("DONE", w.get("outcome").asText());
        assertTrue(w.get("withdrawn").asBoolean());
        assertEquals(1, w.get("vips").size());
        assertTrue(w.get("vips").get(0).get("announce").get("operatorWithdrawn").asBoolean());
        assertEquals(2, json(send("POST", "/announce")).get("vips").size());
        assertEquals(2, json(send("POST", "/withdraw")).get("vips").size());
        assertEquals(404, send("POST", "/vips/nope/announce").statusCode());
        assertEquals(405, send("GET", "/withdraw").statusCode());
        assertEquals(405, send("GET", "/vips/web/announce").statusCode());
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
                {"POST", "/status", "GET, HEAD"}, {"DELETE", "/metrics", "GET, HEAD"},
                {"POST", "/healthz", "GET, HEAD"}, {"POST", "/vips/web/table", "GET, HEAD"},
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
        for (String path : List.of("/nope", "/ui", "/ui/nope.js", "/ui/status.js/x", "/vips", "/vips/web", "/vips/web/backends/a",
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

    @Test
    void oversizedRequestGetsAJsonErrorAndTheConnectionCloses() throws Exception {
        byte[] body = new byte[AdminServer.MAX_REQUEST_BYTES + 1];
        List<RawResponse> rs = exchangeUntilClosed("POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: " + body.length
                + "\r\n\r\n" + new String(body, StandardCharsets.US_ASCII));
        assertEquals(1, rs.size(), rs.toString());
        assertEquals("HTTP/1.1 413 Request Entity Too Large", rs.get(0).statusLine());
        assertEquals(JSON_TYPE_HEADER, rs.get(0).header("content-type"));
        assertEquals("close", rs.get(0).header("connection"));
        assertTrue(JSON.readTree(rs.get(0).body()).get("error").asText().contains("64 KiB"), rs.get(0).body());
        assertEquals(0, control.reloads.get());
    }

    /** One response parsed from a raw byte stream: status line, headers (lower-case names), body. */
    private record RawResponse(String statusLine, java.util.Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name);
        }
    }

    /** Splits everything a server wrote on one connection into responses (Content-Length framed). */
    private static List<RawResponse> responses(String all) {
        List<RawResponse> out = new java.util.ArrayList<>();
        int at = 0;
        while (at < all.length()) {
            int end = all.indexOf("\r\n\r\n", at);
            assertTrue(end > 0, "incomplete response head at " + at + " in: " + all);
            String[] lines = all.substring(at, end).split("\r\n");
            java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                headers.put(lines[i].substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT),
                        lines[i].substring(colon + 1).strip());
            }
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            out.add(new RawResponse(lines[0], headers, all.substring(end + 4, end + 4 + length)));
            at = end + 4 + length;
        }
        return out;
    }

    /** Sends {@code request} and reads until the server closes the connection (10 s at most). */
    private List<RawResponse> exchangeUntilClosed(String request) throws IOException {
        return responses(raw(request));
    }

    @Test
    void moreThanSixteenPipelinedRequestsAreAllAnsweredTheExcessRefusedThenTheConnectionCloses() throws Exception {
        int sent = AdminHandler.MAX_PIPELINED + 4;
        List<RawResponse> rs = exchangeUntilClosed("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(sent));
        assertEquals(AdminHandler.MAX_PIPELINED + 1, rs.size(), "16 answers and one refusal: " + rs);
        for (int i = 0; i < AdminHandler.MAX_PIPELINED; i++) {
            assertEquals("HTTP/1.1 200 OK", rs.get(i).statusLine(), "request " + i);
            assertEquals("ok\n", rs.get(i).body());
        }
        RawResponse refusal = rs.get(AdminHandler.MAX_PIPELINED);
        assertEquals("HTTP/1.1 503 Service Unavailable", refusal.statusLine());
        assertEquals("close", refusal.header("connection"));
        assertEquals(JSON_TYPE_HEADER, refusal.header("content-type"));
        assertTrue(JSON.readTree(refusal.body()).get("error").asText().contains("pipelined"), refusal.body());
    }

    @Test
    void pipelinedRequestsAfterConnectionCloseAreNotExecuted() throws Exception {
        List<RawResponse> rs = exchangeUntilClosed("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                + "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assertEquals(1, rs.size(), rs.toString());
        assertEquals(0, control.reloads.get(), "a request after Connection: close must not run");
    }

    @Test
    void unsupportedHttpVersionsAre505AndClose() throws Exception {
        for (String request : List.of("GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
                "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) {
            List<RawResponse> rs = exchangeUntilClosed(request);
            assertEquals(1, rs.size(), request + " -> " + rs);
            assertEquals("HTTP/1.1 505 HTTP Version Not Supported", rs.get(0).statusLine(), request);
            assertEquals("close", rs.get(0).header("connection"), request);
            assertTrue(JSON.readTree(rs.get(0).body()).get("error").asText().contains("HTTP/1.1"), rs.get(0).body());
        }
        assertEquals(0, control.reloads.get());
    }

    @Test
    void http10IsAnsweredAndClosedUnlessKeepAliveIsAsked() throws Exception {
        List<RawResponse> rs = exchangeUntilClosed("GET /healthz HTTP/1.0\r\n\r\n");
        assertEquals(1, rs.size());
        assertEquals("HTTP/1.1 200 OK", rs.get(0).statusLine());
        assertEquals("ok\n", rs.get(0).body());

        rs = exchangeUntilClosed("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + "GET /healthz HTTP/1.0\r\n\r\n");
        assertEquals(2, rs.size(), rs.toString());
        assertEquals("keep-alive", rs.get(0).header("connection"), "an HTTP/1.0 client needs it said");
    }

    @Test
    void aClientThatHalfClosesAfterItsRequestsStillGetsTheAnswers() throws Exception {
        // printf 'GET ...' | nc -N: the request, then FIN. The answers must come before the close.
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            List<RawResponse> rs = responses(new String(readAll(s.getInputStream()), StandardCharsets.US_ASCII));
            assertEquals(2, rs.size(), rs.toString());
            assertEquals("HTTP/1.1 200 OK", rs.get(0).statusLine());
            assertEquals("ok\n", rs.get(1).body());
        }
        for (int i = 0; i < 1000 && server.openConnections() > 0; i++) {
            Thread.sleep(10); // the server closes its side too; bounded: 10 s
        }
        assertEquals(0, server.openConnections());
    }

    @Test
    void oversizedHeaderIs431AndClosesTheConnection() throws Exception {
        String big = "X-Big: " + "a".repeat(100 * 1024) + "\r\n";
        List<RawResponse> rs = exchangeUntilClosed("GET /status HTTP/1.1\r\nHost: x\r\n" + big + "\r\n");
        assertEquals(1, rs.size(), rs.toString());
        assertEquals("HTTP/1.1 431 Request Header Fields Too Large", rs.get(0).statusLine());
        assertEquals("close", rs.get(0).header("connection"));
        assertTrue(JSON.readTree(rs.get(0).body()).get("error").asText().contains("header"), rs.get(0).body());
    }

    @Test
    void overlongRequestLineIs414AndClosesTheConnection() throws Exception {
        List<RawResponse> rs = exchangeUntilClosed("GET /" + "a".repeat(8 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        assertEquals(1, rs.size(), rs.toString());
        assertTrue(rs.get(0).statusLine().startsWith("HTTP/1.1 414 "), rs.get(0).statusLine());
        assertEquals("close", rs.get(0).header("connection"));
    }

    @Test
    void headOnGetPathsAnswersHeadersWithTheGetLengthAndNoBody() throws Exception {
        for (String path : List.of("/healthz", "/status", "/vips/web/table", "/vips/nope/table")) {
            List<RawResponse> get = exchangeUntilClosed("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            String all = raw("HEAD " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertTrue(all.endsWith("\r\n\r\n"), "HEAD must have no body: " + all);
            String head = all.substring(0, all.indexOf("\r\n"));
            assertEquals(get.get(0).statusLine(), head, path);
            assertTrue(all.toLowerCase(java.util.Locale.ROOT).contains(
                    "content-length: " + get.get(0).body().getBytes(StandardCharsets.UTF_8).length + "\r\n"), path + ": " + all);
        }
        // Pipelined: a HEAD answer must not eat into the next response.
        List<RawResponse> rs = responses(raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").replaceFirst(
                        "(?i)content-length: 3\r\n", ""));
        assertEquals(2, rs.size(), rs.toString());
        assertEquals("ok\n", rs.get(1).body());
        assertEquals(405, send("HEAD", "/reload").statusCode(), "HEAD is for GET paths only");
        assertEquals(0, control.reloads.get());
    }

    /** A clock the test moves by hand. */
    private static final class ManualClock implements java.util.function.LongSupplier {
        private final java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();

        @Override
        public long getAsLong() {
            return nanos.get();
        }

        void advance(Duration d) {
            nanos.addAndGet(d.toNanos());
        }
    }

    private void restart(AdminServer.Limits limits, java.util.function.Supplier<String> scrape) throws IOException {
        server.close();
        server = AdminServer.start(LOOPBACK_ANY_PORT, Optional.empty(), control, scrape, limits);
    }

    @Test
    void scrapesWithinTheCacheTtlShareOneRendering() throws Exception {
        ManualClock clock = new ManualClock();
        java.util.concurrent.atomic.AtomicInteger renders = new java.util.concurrent.atomic.AtomicInteger();
        restart(new AdminServer.Limits(8, Duration.ofSeconds(1), clock),
                () -> "# rendering " + renders.incrementAndGet() + "\n");

        assertEquals("# rendering 1\n", send("GET", "/metrics").body());
        clock.advance(Duration.ofMillis(999));
        assertEquals("# rendering 1\n", send("GET", "/metrics").body(), "within the TTL: the same rendering");
        assertEquals(1, renders.get());
        clock.advance(Duration.ofMillis(2));
        assertEquals("# rendering 2\n", send("GET", "/metrics").body(), "past the TTL: a new one");
        assertEquals(2, renders.get());
    }

    @Test
    void concurrentScrapesWaitForTheRenderingInProgressInsteadOfRenderingAgain() throws Exception {
        ManualClock clock = new ManualClock();
        CountDownLatch rendering = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger renders = new java.util.concurrent.atomic.AtomicInteger();
        // TTL zero: only a rendering that began after a scrape arrived may answer it.
        restart(new AdminServer.Limits(16, Duration.ZERO, clock), () -> {
            int n = renders.incrementAndGet();
            rendering.countDown();
            try {
                assertTrue(release.await(20, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return "# rendering " + n + "\n";
        });
        CompletableFuture<HttpResponse<String>> first = http.sendAsync(
                HttpRequest.newBuilder(uri("/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(rendering.await(10, TimeUnit.SECONDS));
        clock.advance(Duration.ofMillis(1));
        // Each on its own connection, so they run concurrently.
        List<java.util.concurrent.Future<String>> others = new java.util.ArrayList<>();
        java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        for (int i = 0; i < 5; i++) {
            others.add(clients.submit(() -> raw("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        }
        clients.shutdown();
        ScrapeCache cache = server.scrapeCacheForTest();
        for (int i = 0; i < 1000 && cache.waiting() < 5; i++) {
            Thread.sleep(10); // waiting for a condition, bounded: 10 s
        }
        assertEquals(5, cache.waiting(), "the five later scrapes wait for the rendering in progress");
        release.countDown();
        assertEquals("# rendering 1\n", first.get(10, TimeUnit.SECONDS).body());
        for (java.util.concurrent.Future<String> o : others) {
            assertTrue(o.get(10, TimeUnit.SECONDS).endsWith("\r\n\r\n# rendering 2\n"), "one shared rendering");
        }
        assertEquals(2, renders.get(), "five concurrent scrapes, one rendering");
    }

    @Test
    void connectionsBeyondTheLimitGet503AndAreClosed() throws Exception {
        restart(new AdminServer.Limits(2, Duration.ofSeconds(1), System::nanoTime), metrics::scrape);
        server.registerMeters(metrics.registry());
        try (Socket a = keptOpen(); Socket b = keptOpen()) {
            assertEquals(2, server.openConnections());
            List<RawResponse> rs = exchangeUntilClosed("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(1, rs.size(), rs.toString());
            assertEquals("HTTP/1.1 503 Service Unavailable", rs.get(0).statusLine());
            assertEquals("close", rs.get(0).header("connection"));
            assertEquals("1", rs.get(0).header("retry-after"));
            assertTrue(JSON.readTree(rs.get(0).body()).get("error").asText().contains("at most 2"), rs.get(0).body());
            // The two served connections still work.
            assertEquals("HTTP/1.1 200 OK", request(a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
            PrometheusText text = PrometheusText.parse(metrics.scrape());
            assertEquals(1, text.samples("maglev_admin_connections_refused_total").get(0).value());
            assertEquals(2, text.samples("maglev_admin_connections_active").get(0).value());
        }
        for (int i = 0; i < 1000 && server.openConnections() > 0; i++) {
            Thread.sleep(10); // the server notices the close; bounded: 10 s
        }
        assertEquals(0, server.openConnections());
        assertEquals(200, send("GET", "/healthz").statusCode(), "a slot is free again");
    }

    @Test
    void whileTooManyRefusedConnectionsAreOpenAcceptingPausesAndResumes() throws Exception {
        restart(new AdminServer.Limits(1, Duration.ofSeconds(1), System::nanoTime), metrics::scrape);
        int cap = AdminServer.REFUSING_PER_SERVED;
        List<Socket> idle = new java.util.ArrayList<>();
        try (Socket served = keptOpen()) {
            for (int i = 0; i < cap; i++) { // refused connections that send nothing (yet)
                Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort());
                s.setSoTimeout(10_000);
                idle.add(s);
            }
            for (int i = 0; i < 1000 && !(server.refusingConnections() == cap && server.acceptPaused()); i++) {
                Thread.sleep(10); // the server accepts them; bounded: 10 s
            }
            assertEquals(cap, server.refusingConnections());
            assertTrue(server.acceptPaused(), "at the cap, accepting pauses");
            // One more: the kernel completes its handshake, but maglevd does not accept it yet.
            try (Socket waiting = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort())) {
                waiting.setSoTimeout(10_000);
                waiting.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals(cap, server.refusingConnections(), "not accepted while paused");
                // A refused connection sends its request, gets its 503, and closes: accepting resumes.
                Socket first = idle.remove(0);
                first.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals("HTTP/1.1 503 Service Unavailable", readLine(first.getInputStream()));
                first.close();
                List<RawResponse> rs = responses(new String(readAll(waiting.getInputStream()), StandardCharsets.US_ASCII));
                assertEquals("HTTP/1.1 503 Service Unavailable", rs.get(0).statusLine(), "answered once accepted");
            }
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
        for (int i = 0; i < 1000 && (server.refusingConnections() > 0 || server.acceptPaused()); i++) {
            Thread.sleep(10); // bounded: 10 s
        }
        assertFalse(server.acceptPaused());
        assertEquals(200, send("GET", "/healthz").statusCode());
    }

    /** A connection that has been served one request and stays open. */
    private Socket keptOpen() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), server.address().getPort());
        s.setSoTimeout(10_000);
        assertEquals("HTTP/1.1 200 OK", request(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        return s;
    }

    /** Writes one request for {@code /healthz} and reads its answer (3 body bytes); returns the status line. */
    private static String request(Socket s, String request) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        String status = readLine(in);
        String line;
        while (!(line = readLine(in)).isEmpty()) {
            // headers
        }
        assertEquals(3, in.readNBytes(3).length);
        return status;
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
        // The status page's shell and assets hold no data: public; the data they fetch is not.
        assertEquals(200, send("GET", "/").statusCode());
        assertEquals(200, send("GET", "/ui/status.js").statusCode());
        assertEquals(401, send("GET", "/vips/web/explain?client=127.0.0.1:1").statusCode());
    }

    @Test
    void statusPageIsServedWithItsAssetsAndALockedDownPolicy() throws Exception {
        HttpResponse<String> page = send("GET", "/");
        assertEquals(200, page.statusCode());
        assertEquals("text/html; charset=utf-8", page.headers().firstValue("content-type").orElseThrow());
        String csp = page.headers().firstValue("content-security-policy").orElseThrow();
        assertTrue(csp.contains("default-src 'none'") && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'"), csp);
        assertEquals("nosniff", page.headers().firstValue("x-content-type-options").orElseThrow());
        assertTrue(page.body().contains("<script src=\"ui/status.js\""), page.body());
        assertFalse(page.body().contains("http://") || page.body().contains("https://"), "nothing from elsewhere");
        HttpResponse<String> js = send("GET", "/ui/status.js");
        assertEquals("text/javascript; charset=utf-8", js.headers().firstValue("content-type").orElseThrow());
        assertTrue(js.body().contains("fetch("));
        HttpResponse<String> css = send("GET", "/ui/status.css");
        assertEquals("text/css; charset=utf-8", css.headers().firstValue("content-type").orElseThrow());
        for (HttpResponse<String> r : List.of(js, css)) {
            assertFalse(r.body().contains("http://") || r.body().contains("https://") || r.body().contains("@import"),
                    "nothing loaded from elsewhere: " + r.uri());
        }
        assertEquals(405, send("POST", "/").statusCode());
        assertEquals(405, send("POST", "/ui/status.js").statusCode());
    }

    @Test
    void explainAnswersWithTheTablesChoiceAndRefusesABadClient() throws Exception {
        HttpResponse<String> r = send("GET", "/vips/web/explain?client=198.51.100.7:53124");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode e = json(r);
        assertEquals("web", e.get("vip").asText());
        assertTrue(Set.of("a", "b").contains(e.get("backend").asText()), r.body());
        assertEquals(e.get("tableBackend").asText(), e.get("backend").asText());
        assertEquals(400, send("GET", "/vips/web/explain").statusCode());
        assertEquals(400, send("GET", "/vips/web/explain?client=1.2.3.4").statusCode());
        assertEquals(400, send("GET", "/vips/web/explain?client=1.2.3.4:1&client=1.2.3.4:2").statusCode());
        assertEquals(404, send("GET", "/vips/nope/explain?client=1.2.3.4:1").statusCode());
        assertEquals(405, send("POST", "/vips/web/explain?client=1.2.3.4:1").statusCode());
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
