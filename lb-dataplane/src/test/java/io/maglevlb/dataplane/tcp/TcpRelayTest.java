package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Byte relay through the proxy: integrity, half-close, idle timeout and backpressure. */
class TcpRelayTest {
    private static final int CHUNK = 64 * 1024;

    // ---- integrity --------------------------------------------------------------------------------------------

    /**
     * Backend side of the integrity exchange: reads (seed, client length, server length), sends server-length
     * random bytes while it checksums the client's bytes, then sends CRC32C of what it sent and of what it got.
     */
    private static TestBackend.Behaviour integrityServer() {
        return (socket, backend) -> {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            long seed = in.readLong();
            long clientLength = in.readLong();
            long serverLength = in.readLong();
            Future<Long> sent;
            try (ExecutorService writer = Executors.newVirtualThreadPerTaskExecutor()) {
                sent = writer.submit(() -> writeRandom(out, seed ^ 0x5eedL, serverLength));
                long received = checksum(in, clientLength);
                long sentCrc = get(sent);
                out.writeLong(sentCrc);
                out.writeLong(received);
                out.flush();
            }
            socket.shutdownOutput();
            while (in.read() >= 0) {
                // wait for the client's end
            }
        };
    }

    private static long get(Future<Long> f) throws IOException {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Writes {@code length} bytes (a multiple of 64 KiB) of seeded random data; returns their CRC32C. */
    static long writeRandom(OutputStream out, long seed, long length) throws IOException {
        return writeRandom(out, seed, length, CHUNK);
    }

    /** Writes {@code length} bytes of seeded random data in writes of {@code chunk}; returns their CRC32C. */
    static long writeRandom(OutputStream out, long seed, long length, int chunk) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] buf = new byte[chunk];
        CRC32C crc = new CRC32C();
        for (long done = 0; done < length; done += chunk) {
            int n = (int) Math.min(chunk, length - done);
            random.nextBytes(buf);
            crc.update(buf, 0, n);
            out.write(buf, 0, n);
        }
        out.flush();
        return crc.getValue();
    }

    static long checksum(InputStream in, long length) throws IOException {
        byte[] buf = new byte[CHUNK];
        CRC32C crc = new CRC32C();
        long left = length;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new IOException("stream ended with " + left + " bytes missing");
            }
            crc.update(buf, 0, n);
            left -= n;
        }
        return crc.getValue();
    }

    /** One client of the exchange; returns normally only when both checksums match and the stream ended. */
    private static void integrityClient(ProxyFixture proxy, long seed, long length) throws Exception {
        try (Socket s = new Socket(); ExecutorService writer = Executors.newVirtualThreadPerTaskExecutor()) {
            s.setSoTimeout(60_000);
            s.connect(proxy.address(), Clients.TIMEOUT_MS);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            DataInputStream in = new DataInputStream(s.getInputStream());
            Future<Long> sent = writer.submit(() -> {
                out.writeLong(seed);
                out.writeLong(length);
                out.writeLong(length);
                long crc = writeRandom(out, seed, length);
                s.shutdownOutput();
                return crc;
            });
            long received = checksum(in, length);
            long serverSent = in.readLong();
            long serverReceived = in.readLong();
            assertEquals(serverSent, received, "backend -> client bytes differ (seed " + seed + ")");
            assertEquals((long) get(sent), serverReceived, "client -> backend bytes differ (seed " + seed + ")");
            assertEquals(-1, in.read(), "stream should end after the checksums");
        }
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void largePayloadsArriveIntactBothWaysOnManyConnections(Relay relay) throws Exception {
        int connections = 50;
        long length = relay == Relay.EPOLL ? 8L << 20 : 2L << 20;
        try (TestBackend a = TestBackend.start("a", integrityServer());
             TestBackend b = TestBackend.start("b", integrityServer());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("bulk").backend(a).backend(b)).start();
             ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                long seed = 1000 + i;
                done.add(clients.submit(() -> {
                    integrityClient(proxy, seed, length);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
            proxy.awaitNoConnections();
            TcpVipStats stats = proxy.vip.stats();
            assertEquals(connections, stats.accepted());
            assertEquals(connections * (24 + length), stats.totalBytesToBackend());
            assertEquals(connections * (length + 16), stats.totalBytesToClient());
        }
    }

    // ---- half-close -------------------------------------------------------------------------------------------

    /**
     * The client sends its request and FIN, then downloads a large answer: the proxy must keep writing to a
     * client whose input side it has seen end (and whose socket buffer fills up many times on the way).
     */
    @ParameterizedTest
    @EnumSource(Relay.class)
    void clientHalfCloseStillGetsTheBackendsAnswer(Relay relay) throws Exception {
        int answerLength = 16 << 20;
        TestBackend.Behaviour countsThenAnswers = (socket, backend) -> {
            long n = socket.getInputStream().transferTo(OutputStream.nullOutputStream());
            OutputStream out = socket.getOutputStream();
            out.write(("got " + n + "\n").getBytes(StandardCharsets.US_ASCII));
            writeRandom(out, n, answerLength);
        };
        try (TestBackend a = TestBackend.start("a", countsThenAnswers);
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("half").backend(a)).start();
             Socket s = new Socket()) {
            s.setSoTimeout(Clients.TIMEOUT_MS);
            s.connect(proxy.address());
            s.getOutputStream().write(new byte[300_000]);
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            assertEquals("got 300000", Clients.readLine(in));
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            long expectedCrc = writeRandom(expected, 300_000, answerLength);
            assertEquals(expectedCrc, checksum(in, answerLength));
            assertEquals(-1, in.read());
        }
    }

    /**
     * The backend answers and closes at once, like an HTTP server answering "Connection: close": its bytes and
     * FIN often arrive together, and the raw relay then forwards the end without reading it (and sends the FIN
     * in the same segment as the last bytes). Every answer must still arrive whole, end with EOF, and leave the
     * client free to send afterwards. Sizes straddle the relay's 64 KiB read so the last read is short, full,
     * or one byte over.
     */
    @ParameterizedTest
    @EnumSource(Relay.class)
    void answersFollowedAtOnceByCloseArriveWholeOnManyConnections(Relay relay) throws Exception {
        int[] sizes = {1, 145, 4096, 65_535, 65_536, 65_537, 131_072, 200_001};
        AtomicLong trailingBytesSeen = new AtomicLong();
        TestBackend.Behaviour answersAndCloses = (socket, backend) -> {
            InputStream in = socket.getInputStream();
            int size = new DataInputStream(in).readInt();
            OutputStream out = socket.getOutputStream();
            writeRandom(out, size, size, size); // one write: the FIN follows the last byte immediately
            socket.shutdownOutput();
            trailingBytesSeen.addAndGet(in.transferTo(OutputStream.nullOutputStream()));
        };
        int rounds = 25;
        try (TestBackend a = TestBackend.start("a", answersAndCloses);
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("close").backend(a)).start();
             ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (int size : sizes) {
                    done.add(clients.submit(() -> {
                        try (Socket s = new Socket()) {
                            s.setSoTimeout(Clients.TIMEOUT_MS);
                            s.connect(proxy.address());
                            new DataOutputStream(s.getOutputStream()).writeInt(size);
                            InputStream in = s.getInputStream();
                            assertEquals(writeRandom(OutputStream.nullOutputStream(), size, size, size),
                                    checksum(in, size), "answer of " + size + " bytes");
                            assertEquals(-1, in.read(), "EOF after " + size + " bytes");
                            s.getOutputStream().write(new byte[] {1, 2, 3}); // half-open: still delivered
                            s.shutdownOutput();
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
            proxy.awaitNoConnections();
            long trailing = (long) rounds * sizes.length * 3;
            ProxyFixture.awaitTrue("the backend got every client's bytes after its FIN",
                    () -> trailingBytesSeen.get() >= trailing);
            assertEquals(trailing, trailingBytesSeen.get());
            long answered = 0;
            for (int size : sizes) {
                answered += size;
            }
            assertEquals(rounds * answered, proxy.vip.stats().totalBytesToClient());
        }
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void backendHalfCloseStillReceivesTheClientsBytes(Relay relay) throws Exception {
        AtomicLong receivedByBackend = new AtomicLong(-1);
        TestBackend.Behaviour greetsThenListens = (socket, backend) -> {
            socket.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            receivedByBackend.set(socket.getInputStream().transferTo(OutputStream.nullOutputStream()));
        };
        try (TestBackend a = TestBackend.start("a", greetsThenListens);
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("half-back").backend(a)).start()) {
            try (Socket s = new Socket()) {
                s.setSoTimeout(Clients.TIMEOUT_MS);
                s.connect(proxy.address());
                InputStream in = s.getInputStream();
                assertEquals("hello", Clients.readLine(in));
                assertEquals(-1, in.read(), "the backend's FIN reaches the client");
                s.getOutputStream().write(new byte[200_000]);
                s.shutdownOutput();
                ProxyFixture.awaitTrue("backend saw the client's bytes and FIN", () -> receivedByBackend.get() >= 0);
            }
            assertEquals(200_000, receivedByBackend.get());
            proxy.awaitNoConnections();
        }
    }

    // ---- idle timeout -----------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Relay.class)
    void idleConnectionsAreClosedAndBusyOnesAreNot(Relay relay) throws Exception {
        // Wide margins: the busy client pings every 100 ms, but a loaded machine can keep its thread off the CPU
        // for a few hundred ms, which makes it idle as far as the proxy can tell.
        Duration idle = Duration.ofMillis(1200);
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("idle").backend(echo).idleTimeout(idle)).start();
             Socket quiet = new Socket();
             Socket busy = new Socket()) {
            quiet.setSoTimeout(Clients.TIMEOUT_MS);
            quiet.connect(proxy.address());
            busy.setSoTimeout(Clients.TIMEOUT_MS);
            busy.connect(proxy.address());
            quiet.getOutputStream().write('q');
            assertEquals('q', quiet.getInputStream().read());

            long start = System.nanoTime();
            int pings = 0;
            while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(3000)) {
                busy.getOutputStream().write('p');
                assertEquals('p', busy.getInputStream().read(), "busy connection still echoes after " + pings);
                pings++;
                Thread.sleep(100);
            }
            // The quiet one was closed by the proxy (EOF, not an error and not our read timeout).
            assertEquals(-1, quiet.getInputStream().read());
            busy.getOutputStream().write('z');
            assertEquals('z', busy.getInputStream().read());
        }
    }

    // ---- backpressure -----------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Relay.class)
    void aClientThatStopsReadingDoesNotGrowTheProxysMemory(Relay relay) throws Exception {
        long total = 64L << 20;
        AtomicLong written = new AtomicLong();
        TestBackend.Behaviour pushes = (socket, backend) -> {
            OutputStream out = socket.getOutputStream();
            byte[] buf = new byte[CHUNK];
            for (long done = 0; done < total; done += CHUNK) {
                for (int i = 0; i < CHUNK; i++) {
                    buf[i] = (byte) ((done + i) % 251);
                }
                out.write(buf);
                written.addAndGet(CHUNK);
            }
            socket.shutdownOutput();
            socket.getInputStream().transferTo(OutputStream.nullOutputStream());
        };
        try (TestBackend pusher = TestBackend.start("pusher", pushes);
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("slow").backend(pusher)).start();
             Socket s = new Socket()) {
            s.setSoTimeout(30_000);
            s.connect(proxy.address());
            // Wait until the backend is blocked: its byte count stops moving for 500 ms.
            long last = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (written.get() != last) {
                assertTrue(System.nanoTime() < deadline, "backend never stalled");
                last = written.get();
                Thread.sleep(500);
            }
            assertTrue(last < total, "the backend pushed everything (" + last + " bytes) into a client that reads "
                    + "nothing: backpressure did not reach it");
            long pending = proxy.vip.pendingBytes();
            TcpProxyOptions options = TcpProxyOptions.defaults();
            // Raw relay: one read in its buffer, or (a bulk direction) one splice's worth in the pipe.
            long bound = relay == Relay.EPOLL ? RawTcpConnection.PIPE_SIZE : options.writeBufferHighWaterMark() + 2L * CHUNK;
            assertTrue(pending <= bound, "proxy holds " + pending + " bytes for a stalled client");

            // Now read: everything arrives, in order.
            InputStream in = s.getInputStream();
            byte[] buf = new byte[CHUNK];
            long offset = 0;
            int n;
            while ((n = in.read(buf)) >= 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] != (byte) ((offset + i) % 251)) {
                        throw new AssertionError("byte " + (offset + i) + " differs");
                    }
                }
                offset += n;
            }
            assertEquals(total, offset);
        }
    }

    // ---- splice -----------------------------------------------------------------------------------------------

    /**
     * Raw relay: a direction whose read fills the relay buffer moves on through a pipe with splice(2); the pipe is
     * closed with the connection. With splice off no pipe is opened. Either way every byte arrives in order.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void aBulkDirectionGoesThroughAPipeThatClosesWithTheConnection(boolean splice) throws Exception {
        long total = 16L << 20;
        AtomicLong written = new AtomicLong();
        CountDownLatch release = new CountDownLatch(1);
        TestBackend.Behaviour pushes = (socket, backend) -> {
            OutputStream out = socket.getOutputStream();
            byte[] buf = new byte[CHUNK];
            for (long done = 0; done < total; done += CHUNK) {
                for (int i = 0; i < CHUNK; i++) {
                    buf[i] = (byte) ((done + i) % 251);
                }
                out.write(buf);
                written.addAndGet(CHUNK);
            }
            out.flush();
            try {
                release.await(60, TimeUnit.SECONDS); // the connection stays open until the client has counted pipes
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            socket.shutdownOutput();
            socket.getInputStream().transferTo(OutputStream.nullOutputStream());
        };
        try (TestBackend pusher = TestBackend.start("pusher", pushes);
             ProxyFixture proxy = Relay.EPOLL.apply(ProxyFixture.spec("pipe").backend(pusher))
                     .options(TcpProxyOptions.defaults().withSplice(splice)).start()) {
            long before = openPipes();
            try (Socket s = new Socket()) {
                s.setSoTimeout(30_000);
                s.connect(proxy.address());
                // Not reading at first: the backend's bytes pile up in the proxy's socket until the backend stalls,
                // so the proxy's next read, once the client reads, fills its buffer.
                long last = -1;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (written.get() != last) {
                    assertTrue(System.nanoTime() < deadline, "backend never stalled");
                    last = written.get();
                    Thread.sleep(500);
                }
                InputStream in = s.getInputStream();
                byte[] buf = new byte[CHUNK];
                for (long offset = 0; offset < total; ) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, total - offset));
                    assertTrue(n > 0, "stream ended at byte " + offset);
                    for (int i = 0; i < n; i++) {
                        if (buf[i] != (byte) ((offset + i) % 251)) {
                            throw new AssertionError("byte " + (offset + i) + " differs");
                        }
                    }
                    offset += n;
                }
                assertEquals(splice ? before + 2 : before, openPipes(), "pipe descriptors while the connection is open");
                release.countDown();
                assertEquals(-1, in.read());
            }
            // The proxy closes both sockets, and with them the pipe, once the client's FIN has come through.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (openPipes() != before && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(before, openPipes(), "pipe descriptors after the connection closed");
        } finally {
            release.countDown();
        }
    }

    /** Pipes among this process's open descriptors. */
    private static long openPipes() throws IOException {
        long n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith("pipe:")) {
                        n++;
                    }
                } catch (IOException e) {
                    // closed meanwhile (the stream's own descriptor, or another thread's)
                }
            }
        }
        return n;
    }

    @Test
    void readTimeoutHelperIsNotMistakenForClose() throws Exception {
        // Guards the idle test: a read timeout is an exception, an idle close is EOF.
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("guard").backend(echo).start();
             Socket s = new Socket()) {
            s.setSoTimeout(200);
            s.connect(proxy.address());
            assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
            // The short timeout was only to provoke one; the echo may take longer on a loaded machine.
            s.setSoTimeout(Clients.TIMEOUT_MS);
            s.getOutputStream().write(new byte[] {1, 2, 3});
            byte[] back = s.getInputStream().readNBytes(3);
            assertArrayEquals(new byte[] {1, 2, 3}, back);
        }
    }
}
