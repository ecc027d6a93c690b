package io.maglevlb.dataplane.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.socket.SocketProtocolFamily;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SCM_RIGHTS over real Unix sockets: descriptors arrive as new numbers for the same open files. */
class UnixSocketTest {
    @Test
    void aDescriptorSentOverASocketpairReadsTheSameFile(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("f"), "hand-over");
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; LinuxNative sys = new LinuxNative()) {
            int fd = sys.open(file.toString(), LinuxNative.O_RDWR | LinuxNative.O_CLOEXEC);
            assertTrue(fd >= 0);
            try {
                a.send("x1".getBytes(StandardCharsets.US_ASCII), new int[] {fd});
                byte[] into = new byte[16];
                UnixSocket.Received r = b.receive(into, 0, 4);
                assertEquals(2, r.bytes());
                assertEquals("x1", new String(into, 0, 2, StandardCharsets.US_ASCII));
                assertEquals(1, r.fds().length);
                int received = r.fds()[0];
                assertNotEquals(fd, received, "the kernel installs a new descriptor");
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment buf = arena.allocate(32);
                    long n = sys.read(received, buf, 32);
                    assertEquals("hand-over", new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            StandardCharsets.US_ASCII));
                } finally {
                    UnixSocket.closeQuietly(received);
                }
            } finally {
                sys.closeFd(fd);
            }
        }
    }

    @Test
    void aListeningTcpSocketArrivesStillListeningAndAcceptsOnTheOtherSide() throws Exception {
        io.netty.channel.epoll.Epoll.ensureAvailability();
        LinuxSocket listener = LinuxSocket.newSocketStream(SocketProtocolFamily.INET);
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        listener.listen(16);
        InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            a.send(new byte[] {1, 2, 3}, new int[] {listener.intValue()});
            UnixSocket.Received r = b.receive(new byte[8], 0, 4);
            int fd = r.fds()[0];
            try {
                assertNull(UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_STREAM, true, bound));
                assertTrue(UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_DGRAM, false, bound).contains("type"));
                InetSocketAddress other = new InetSocketAddress(bound.getAddress(), bound.getPort() == 1 ? 2 : 1);
                assertTrue(UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_STREAM, true, other).contains("bound to"));
                assertEquals(bound, UnixSocket.localAddress(fd));
                listener.close(); // the sender lets go: the socket lives on in the received descriptor
                try (Socket client = new Socket(bound.getAddress(), bound.getPort());
                        LinuxNative sys = new LinuxNative()) {
                    int accepted = sys.accept4(fd, MemorySegment.NULL, MemorySegment.NULL, 0);
                    assertTrue(accepted >= 0, "accepted on the received listener: " + LinuxNative.describe(sys.errno()));
                    sys.closeFd(accepted);
                    assertTrue(client.isConnected());
                }
            } finally {
                UnixSocket.closeQuietly(fd);
            }
        }
    }

    @Test
    void aFileIsNotAnInetSocket(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("f"), "x");
        try (LinuxNative sys = new LinuxNative()) {
            int fd = sys.open(file.toString(), LinuxNative.O_RDWR | LinuxNative.O_CLOEXEC);
            try {
                String why = UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_STREAM, true,
                        new InetSocketAddress(InetAddress.getLoopbackAddress(), 80));
                assertTrue(why.contains("not a socket"), why);
            } finally {
                sys.closeFd(fd);
            }
        }
    }

    @Test
    void manyDescriptorsInOneSendAndBytesWithout() throws IOException {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            UnixSocket[] extra = UnixSocket.pair();
            int[] fds = new int[40];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = i % 2 == 0 ? extra[0].fd() : extra[1].fd();
            }
            a.send(new byte[] {7}, fds);
            a.send(new byte[] {8, 9}, new int[0]);
            byte[] into = new byte[3];
            int bytes = 0;
            int received = 0;
            while (bytes < 3) {
                UnixSocket.Received r = b.receive(into, bytes, 64);
                bytes += r.bytes();
                received += r.fds().length;
                for (int f : r.fds()) {
                    UnixSocket.closeQuietly(f);
                }
            }
            assertArrayEquals(new byte[] {7, 8, 9}, into);
            assertEquals(40, received);
            extra[0].close();
            extra[1].close();
        }
    }

    @Test
    void tooManyDescriptorsForTheReceiversBufferFailAndAreClosed() throws IOException {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            a.send(new byte[] {1}, new int[] {a.fd(), a.fd(), a.fd(), a.fd(), a.fd()});
            IOException e = assertThrows(IOException.class, () -> b.receive(new byte[4], 0, 1));
            assertTrue(e.getMessage().contains("dropped"), e.getMessage());
        }
    }

    @Test
    void listenConnectPeerCredentialsTimeoutAndEndOfStream(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("u.sock");
        try (UnixSocket listener = UnixSocket.listen(path, 4)) {
            CompletableFuture<UnixSocket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return listener.accept();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (UnixSocket client = UnixSocket.connect(path); UnixSocket server = accepted.get()) {
                UnixSocket.PeerCredentials peer = server.peer();
                assertEquals(ProcessHandle.current().pid(), peer.pid());
                server.timeout(Duration.ofMillis(200));
                IOException timedOut = assertThrows(IOException.class, () -> server.receive(new byte[4], 0, 1));
                assertTrue(timedOut.getMessage().contains("timed out"), timedOut.getMessage());
                client.close();
                assertThrows(EOFException.class, () -> server.receive(new byte[4], 0, 1));
            }
            // shutdown wakes a blocked accept
            CompletableFuture<Throwable> blocked = CompletableFuture.supplyAsync(() -> {
                try {
                    listener.accept().close();
                    return null;
                } catch (IOException e) {
                    return e;
                }
            });
            listener.shutdown();
            assertTrue(blocked.get() instanceof IOException);
        }
    }

    @Test
    void aPathTooLongIsRefusedWithItsLength(@TempDir Path dir) {
        Path path = dir.resolve("x".repeat(120));
        IOException e = assertThrows(IOException.class, () -> UnixSocket.listen(path, 1));
        assertTrue(e.getMessage().contains("too long"), e.getMessage());
    }
}
