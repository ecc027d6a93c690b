package io.maglevlb.control.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.dataplane.Transport;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The demo backend speaks enough HTTP/1.1 for curl and browsers, including keep-alive. */
class DemoHttpServerTest {
    private MultiThreadIoEventLoopGroup group;
    private DemoHttpServer server;

    @BeforeEach
    void start() throws IOException {
        group = Transport.detect().newEventLoopGroup(1, "demo-test");
        server = DemoHttpServer.start(group, Transport.detect(),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "web-7");
    }

    @AfterEach
    void stop() {
        server.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Reads one response: status line, headers (lower-cased names), body by Content-Length. */
    private static List<String> readResponse(BufferedReader in) throws IOException {
        List<String> lines = new ArrayList<>();
        String line;
        int length = 0;
        while ((line = in.readLine()) != null && !line.isEmpty()) {
            lines.add(line.toLowerCase(java.util.Locale.ROOT));
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        char[] body = new char[length];
        int read = 0;
        while (read < length) {
            int n = in.read(body, read, length - read);
            if (n < 0) {
                throw new IOException("short body");
            }
            read += n;
        }
        lines.add("body:" + new String(body));
        return lines;
    }

    @Test
    void http11KeepsTheConnectionOpenForManyRequests() throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(5000);
            s.connect(server.address());
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (int i = 0; i < 3; i++) {
                out.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                List<String> r = readResponse(in);
                assertEquals("http/1.1 200 ok", r.get(0));
                assertTrue(r.contains("content-length: 6"), r.toString());
                assertEquals("body:web-7\n", r.get(r.size() - 1));
            }
            out.write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            List<String> last = readResponse(in);
            assertTrue(last.contains("connection: close"), last.toString());
            assertEquals(-1, in.read(), "closed after Connection: close");
        }
    }

    @Test
    void http10ClosesUnlessAskedToKeepAlive() throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(5000);
            s.connect(server.address());
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            List<String> r = readResponse(in);
            assertEquals("http/1.0 200 ok", r.get(0));
            assertEquals("body:web-7\n", r.get(r.size() - 1));
            assertEquals(-1, in.read());
        }
        try (Socket s = new Socket()) {
            s.setSoTimeout(5000);
            s.connect(server.address());
            OutputStream out = s.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (int i = 0; i < 2; i++) {
                out.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                List<String> r = readResponse(in);
                assertTrue(r.contains("connection: keep-alive"), r.toString());
            }
        }
    }

    @Test
    void aBusyAddressIsOneClearError() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> DemoHttpServer.start(group, Transport.detect(),
                    (InetSocketAddress) taken.getLocalSocketAddress(), "web-9"));
            assertEquals("demo backend web-9: cannot listen on 127.0.0.1:" + taken.getLocalPort()
                    + ": Address already in use", e.getMessage());
        }
    }
}
