package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.flow.HashMode;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The client's first bytes around the backend connect: the raw relay reads them right after accept4 and sends them
 * with the connect still under way (see RawTcpConnection.connectTo). They must reach the backend that finally
 * takes the connection, behind the PROXY header, whether the first backend refuses, the backend is slow to
 * complete the handshake, or the client sends nothing at all because the server speaks first.
 */
class TcpFirstBytesTest {
    private static final String SIGNATURE = "0d0a0d0a000d0a515549540a";

    /** Reads the PROXY v2 header for IPv4 (when {@code header}), then one line; answers {@code name:line}. */
    private static TestBackend.Behaviour answersLine(boolean header, List<byte[]> headers) {
        return (socket, backend) -> {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            if (header) {
                byte[] h = new byte[28];
                in.readFully(h);
                headers.add(h);
            }
            String line = Clients.readLine(in);
            OutputStream out = socket.getOutputStream();
            out.write((backend.name() + ":" + line + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.shutdownOutput();
            while (in.read() >= 0) {
                // until the client closes
            }
        };
    }

    /**
     * The client's request is already in its socket when the proxy accepts it (it waited in the accept queue behind
     * {@code max_connections: 1}), so the proxy reads it before the connect to the first choice is refused; the
     * bytes in hand must go to the fallback, after the PROXY header when there is one.
     */
    @ParameterizedTest
    @CsvSource({"EPOLL,NONE", "EPOLL,V2", "NIO,NONE", "NIO,V2"})
    void bytesReadBeforeARefusedConnectReachTheFallback(Relay relay, ProxyProtocol proxyProtocol) throws Exception {
        boolean v2 = proxyProtocol == ProxyProtocol.V2;
        List<byte[]> headers = Collections.synchronizedList(new ArrayList<>());
        InetSocketAddress dead = TestBackend.refusedAddress();
        try (TestBackend live = TestBackend.start("live", answersLine(v2, headers));
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("first-bytes").backend("dead", dead).backend(live)
                     .maxConnections(1).workers(1).connectRetries(1).proxyProtocol(proxyProtocol)).start()) {
            int deadId = proxy.idOf("dead");
            int rounds = 3;
            for (int round = 0; round < rounds; round++) {
                InetSocketAddress from = sourceWhoseFirstChoiceIs(proxy, deadId, round);
                try (Socket holder = new Socket()) {
                    holder.connect(proxy.address(), Clients.TIMEOUT_MS); // takes the only slot
                    ProxyFixture.awaitTrue("the holder counted", () -> proxy.vip.activeConnections() == 1);
                    try (Socket client = new Socket()) {
                        client.setSoTimeout(Clients.TIMEOUT_MS);
                        client.setReuseAddress(true);
                        client.bind(from);
                        client.connect(proxy.address(), Clients.TIMEOUT_MS); // completes in the accept queue
                        client.getOutputStream().write(("hello " + round + "\n").getBytes(StandardCharsets.US_ASCII));
                        holder.close(); // frees the slot: the client is accepted with its request waiting
                        String answer = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                        assertEquals("live:hello " + round + "\n", answer);
                    }
                }
                proxy.awaitNoConnections();
            }
            TcpVipStats stats = proxy.vip.stats();
            assertTrue(stats.connectFailures(deadId) >= rounds, "each client chose the dead backend first");
            assertEquals(0, stats.connectGiveUps());
            if (v2) {
                assertEquals(2 * rounds, headers.size(), "one per connection, the holders' included");
                for (byte[] h : headers) {
                    assertArrayEquals(HexFormat.of().parseHex(SIGNATURE + "2111000c"), Arrays.copyOf(h, 16),
                            "the PROXY header comes first, once");
                }
            }
            assertEquals(rounds * "hello 0\n".length(), stats.totalBytesToBackend(), "client bytes, counted once");
        }
    }

    /**
     * A loopback source address and port whose connection the proxy sends to {@code backendId} first (by the
     * documented flow hash), so the test does not depend on which port the kernel would pick.
     */
    private static InetSocketAddress sourceWhoseFirstChoiceIs(ProxyFixture proxy, int backendId, int round) {
        InetAddress source = Clients.source(40 + round);
        for (int port = 20_000; port < 60_000; port++) {
            if (Clients.expectedBackend(proxy.snapshot(), HashMode.FIVE_TUPLE, source, port, proxy.address())
                    == backendId) {
                return new InetSocketAddress(source, port);
            }
        }
        throw new AssertionError("no port sends this source to backend " + backendId);
    }

    /**
     * A backend whose accept queue is full drops the SYN: the connect stays under way until the SYN is sent again
     * after the queue has room. The raw relay reads the client's request meanwhile (one read, held) and sends it
     * once the connection is up.
     */
    @ParameterizedTest
    @EnumSource(Relay.class)
    void aBackendSlowToCompleteTheHandshakeGetsTheBytesSentMeanwhile(Relay relay) throws Exception {
        try (ServerSocket slow = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            List<Socket> fillers = new ArrayList<>();
            try {
                fillAcceptQueue(slow, fillers);
                try (ProxyFixture proxy = relay.apply(ProxyFixture.spec("slow-connect")
                        .backend("slow", (InetSocketAddress) slow.getLocalSocketAddress())
                        .connectTimeout(Duration.ofSeconds(60))).start();
                     Socket client = new Socket()) {
                    client.setSoTimeout(Clients.TIMEOUT_MS * 3);
                    client.connect(proxy.address(), Clients.TIMEOUT_MS);
                    OutputStream out = client.getOutputStream();
                    out.write("hello\n".getBytes(StandardCharsets.US_ASCII));
                    client.shutdownOutput();
                    if (relay == Relay.EPOLL) {
                        ProxyFixture.awaitTrue("the request read and held while connecting",
                                () -> pendingBytes(proxy) == 6);
                    }
                    assertEquals(0, proxy.vip.stats().connections(proxy.idOf("slow")), "still connecting");
                    // Make room: accept everything, the fillers and then the proxy's connection, and answer each.
                    Thread server = Thread.ofPlatform().daemon().start(() -> serveAll(slow));
                    String answer = new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                    assertEquals("hello\n", answer);
                    proxy.awaitNoConnections();
                    TcpVipStats stats = proxy.vip.stats();
                    assertEquals(0, stats.totalConnectFailures());
                    assertEquals(6, stats.totalBytesToBackend());
                    slow.close();
                    server.join(5000);
                }
            } finally {
                for (Socket s : fillers) {
                    s.close();
                }
            }
        }
    }

    private static long pendingBytes(ProxyFixture proxy) {
        try {
            return proxy.vip.pendingBytes();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Accepts until {@code server} closes; echoes each connection's bytes back until its end. */
    private static void serveAll(ServerSocket server) {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            Thread.ofVirtual().start(() -> {
                try (s) {
                    InputStream in = s.getInputStream();
                    s.getOutputStream().write(in.readAllBytes());
                } catch (IOException e) {
                    // a filler that went away
                }
            });
        }
    }

    /** Connects to {@code server} until a connect no longer completes at once (its queue is full). */
    private static void fillAcceptQueue(ServerSocket server, List<Socket> fillers) throws IOException {
        for (int i = 0; i < 16; i++) {
            Socket s = new Socket();
            fillers.add(s);
            try {
                s.connect(server.getLocalSocketAddress(), 300);
            } catch (SocketTimeoutException e) {
                return; // the queue is full: SYNs are being dropped
            }
        }
        throw new AssertionError("the accept queue of a backlog-1 listener never filled up");
    }

    /**
     * A server that speaks first (SMTP, SSH, MySQL): the client sends nothing until it has the greeting, so the
     * proxy's read right after accept finds nothing and the connect must complete without client bytes; with PROXY
     * v2 the header still comes before anything else.
     */
    @ParameterizedTest
    @CsvSource({"EPOLL,NONE", "EPOLL,V2", "NIO,NONE", "NIO,V2"})
    void aServerThatSpeaksFirstGreetsAClientThatSendsNothing(Relay relay, ProxyProtocol proxyProtocol)
            throws Exception {
        boolean v2 = proxyProtocol == ProxyProtocol.V2;
        List<byte[]> headers = Collections.synchronizedList(new ArrayList<>());
        TestBackend.Behaviour smtpLike = (socket, backend) -> {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            if (v2) {
                byte[] h = new byte[28];
                in.readFully(h);
                headers.add(h);
            }
            OutputStream out = socket.getOutputStream();
            out.write("220 ready\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String command = Clients.readLine(in);
            out.write(("250 " + command + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.shutdownOutput();
            while (in.read() >= 0) {
                // until the client closes
            }
        };
        try (TestBackend smtp = TestBackend.start("smtp", smtpLike);
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("server-first").backend(smtp)
                     .proxyProtocol(proxyProtocol)).start()) {
            for (int i = 0; i < 20; i++) {
                try (Socket client = new Socket()) {
                    client.setSoTimeout(Clients.TIMEOUT_MS);
                    client.connect(proxy.address(), Clients.TIMEOUT_MS);
                    InputStream in = client.getInputStream();
                    assertEquals("220 ready", Clients.readLine(in), "greeted before sending anything");
                    client.getOutputStream().write(("HELO " + i + "\n").getBytes(StandardCharsets.US_ASCII));
                    assertEquals("250 HELO " + i, Clients.readLine(in));
                    assertEquals(-1, in.read());
                }
            }
            proxy.awaitNoConnections();
            if (v2) {
                assertEquals(20, headers.size());
            }
            assertEquals(10 * "HELO 0\n".length() + 10 * "HELO 10\n".length(), // i < 10, then i >= 10
                    proxy.vip.stats().totalBytesToBackend());
        }
    }

    /** A client that connects and closes at once, without a byte: the backend sees a connection that ends. */
    @Test
    void aClientThatClosesWithoutSendingEndsItsBackendConnection() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("empty-client").backend(echo).start()) {
            for (int i = 0; i < 20; i++) {
                try (Socket client = new Socket()) {
                    client.connect(proxy.address(), Clients.TIMEOUT_MS);
                    client.shutdownOutput();
                    client.setSoTimeout(Clients.TIMEOUT_MS);
                    assertEquals(-1, client.getInputStream().read(), "the echo backend ends too");
                }
            }
            proxy.awaitNoConnections();
            ProxyFixture.awaitTrue("the backend's connections closed", () -> echo.openConnections() == 0);
            assertEquals(20, echo.accepted());
        }
    }
}
