package io.maglevlb.control.admin;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The status page: {@code GET /} (an HTML shell) and its two assets under {@code /ui/}, read once from the class
 * path. The page's script fetches {@code status} and {@code metrics} every few seconds and draws them; nothing is
 * loaded from anywhere else (no CDN, no fonts), so it works on an isolated management network.
 *
 * <p><b>Why the shell needs no token.</b> A browser cannot attach a bearer token to the navigation that loads a
 * page, so a token-protected shell would need a cookie (and then a CSRF defence for the POST endpoints) or the
 * token in the URL (kept in history, logs and Referer headers). The shell and assets are instead the same static
 * bytes on every maglevd and carry no data; every piece of data still comes from {@code /status} and
 * {@code /metrics}, which keep asking for the token. The page asks the operator for the token on a 401, keeps it
 * in {@code sessionStorage} (this tab only) and sends it as {@code Authorization: Bearer}. The answers carry a
 * Content-Security-Policy that allows scripts, styles and requests from this origin only, no inline script, no
 * framing, no form submission; the script writes every daemon value as text, never as markup.
 */
final class StatusPage {
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            + "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    private static final Map<String, String> SECURITY_HEADERS = Map.of(
            "Content-Security-Policy", CSP,
            "X-Content-Type-Options", "nosniff",
            "X-Frame-Options", "DENY",
            "Referrer-Policy", "no-referrer");

    private static final byte[] HTML = load("index.html");
    private static final Map<String, Asset> ASSETS = Map.of(
            "status.js", new Asset("text/javascript; charset=utf-8", load("status.js")),
            "status.css", new Asset("text/css; charset=utf-8", load("status.css")));

    private record Asset(String contentType, byte[] body) {}

    private StatusPage() {}

    /** {@code GET /}. */
    static Reply page() {
        return new Reply(HttpResponseStatus.OK, "text/html; charset=utf-8", HTML, SECURITY_HEADERS);
    }

    /** {@code GET /ui/NAME}: an asset, or null when there is none by that name. */
    static Reply asset(String name) {
        Asset a = ASSETS.get(name);
        return a == null ? null : new Reply(HttpResponseStatus.OK, a.contentType(), a.body(), SECURITY_HEADERS);
    }

    /** Whether a path (as segments) is the page or one of its assets: public even when a token is configured. */
    static boolean isPublic(java.util.List<String> segments) {
        return segments.isEmpty() || (segments.size() == 2 && segments.get(0).equals("ui"));
    }

    /** Bytes served by the page: shell and assets (docs/operations.md states the figure). */
    static int totalBytes() {
        return HTML.length + ASSETS.values().stream().mapToInt(a -> a.body().length).sum();
    }

    private static byte[] load(String name) {
        try (InputStream in = StatusPage.class.getResourceAsStream("ui/" + name)) {
            if (in == null) {
                throw new IllegalStateException("status page asset ui/" + name + " is missing from the class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
