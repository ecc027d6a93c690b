package io.maglevlb.control.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** An admin API answer, computed off the event loop and turned into an HTTP response on it. */
record Reply(HttpResponseStatus status, String contentType, byte[] body, Map<String, String> headers) {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper COMPACT_JSON = new ObjectMapper();
    static final String JSON_TYPE = "application/json";

    static Reply json(HttpResponseStatus status, Object value, boolean pretty) {
        try {
            byte[] body = (pretty ? JSON : COMPACT_JSON).writeValueAsBytes(value);
            return new Reply(status, JSON_TYPE, body, Map.of());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON for " + value.getClass().getSimpleName(), e);
        }
    }

    /** {@code {"error": message}}: the body of every error answer, whoever gives it. */
    static Reply error(HttpResponseStatus status, String message) {
        return json(status, Map.of("error", message), true).withNewline();
    }

    static Reply text(HttpResponseStatus status, String contentType, String body) {
        return new Reply(status, contentType, body.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    Reply with(String header, String value) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        h.put(header, value);
        return new Reply(status, contentType, body, h);
    }

    Reply withNewline() {
        byte[] b = Arrays.copyOf(body, body.length + 1);
        b[body.length] = '\n';
        return new Reply(status, contentType, b, headers);
    }

    /**
     * The HTTP response. Always an HTTP/1.1 status line (RFC 9110 section 6.2: the highest minor version
     * the server supports); an HTTP/1.0 client that asked for keep-alive is told so explicitly.
     *
     * @param head a HEAD answer: the headers of the GET answer (its Content-Length too), no body
     * @param http10 the request was HTTP/1.0
     */
    FullHttpResponse toResponse(boolean head, boolean keepAlive, boolean http10) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        headers.forEach(response.headers()::set);
        if (!keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (http10) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        return response;
    }
}
