package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import org.junit.jupiter.api.Test;

/** Thousands of connections of every kind leave no file descriptor behind. */
class TcpFileDescriptorLeakTest {

    private static int openFileDescriptors() {
        String[] fds = new File("/proc/self/fd").list();
        if (fds == null) {
            throw new AssertionError("/proc/self/fd is not readable here");
        }
        return fds.length;
    }

    @Test
    void noDescriptorsLeakAfterThousandsOfConnections() throws Exception {
        InetSocketAddress dead = TestBackend.refusedAddress();
        try (TestBackend a = TestBackend.start("a", TestBackend.sendsName());
             TestBackend b = TestBackend.start("b", TestBackend.sendsName());
             TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture names = ProxyFixture.spec("names").backend(a).backend("dead", dead).backend(b).start();
             ProxyFixture echoes = ProxyFixture.spec("echoes").backend(echo).start();
             ProxyFixture down = ProxyFixture.spec("down").backend("dead", dead).connectRetries(0).start()) {
            runMix(names, echoes, down, 50); // warm-up: lazily created JDK and Netty resources
            System.gc();
            int before = openFileDescriptors();

            runMix(names, echoes, down, 2000);

            names.awaitNoConnections();
            echoes.awaitNoConnections();
            down.awaitNoConnections();
            ProxyFixture.awaitTrue("test backends closed their sockets",
                    () -> a.openConnections() + b.openConnections() + echo.openConnections() == 0);
            int after = openFileDescriptors();
            assertTrue(after <= before + 10, "file descriptors before " + before + ", after " + after);
        }
    }

    /** {@code n} connections: mostly complete exchanges (some retried), some client resets, some refused. */
    private static void runMix(ProxyFixture names, ProxyFixture echoes, ProxyFixture down, int n)
            throws IOException {
        for (int i = 0; i < n; i++) {
            switch (i % 10) {
                case 0 -> resetMidStream(echoes.address());
                case 1 -> refused(down.address());
                default -> Clients.fetchName(names.address(), Clients.source(i % 200));
            }
        }
    }

    private static void resetMidStream(InetSocketAddress proxy) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(Clients.TIMEOUT_MS);
        s.connect(proxy);
        s.getOutputStream().write(new byte[10_000]);
        s.getInputStream().readNBytes(100);
        s.setSoLinger(true, 0); // close() sends RST
        s.close();
    }

    private static void refused(InetSocketAddress proxy) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(Clients.TIMEOUT_MS);
            s.connect(proxy);
            s.getInputStream().read();
        } catch (SocketException e) {
            // reset by the proxy: expected
        }
    }
}
