package io.maglevlb.control.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.control.demo.UdpEchoBackend;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The demo UDP backend answers with its name, on UDP and (for health checks) on TCP. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UdpEchoBackendTest {
    @Test
    void answersDatagramsWithItsNameAndTcpConnectionsToo() throws Exception {
        try (UdpEchoBackend backend = UdpEchoBackend.start("dns-1",
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            client.setSoTimeout(5_000);
            assertEquals("dns-1: hi\n", ask(client, backend.address(), "hi\n"));
            assertEquals("dns-1\n", ask(client, backend.address(), "\n"));
            try (Socket tcp = new Socket()) {
                tcp.connect(backend.address(), 5_000);
                tcp.setSoTimeout(5_000);
                InputStream in = tcp.getInputStream();
                assertEquals("dns-1\n", new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void theDemoBackendCommandServesUdpUntilSigterm(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        int port = UdpPorts.freeBelowEphemeralRange(); // the daemon JVM binds it a second or more later
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        try (DaemonProcess backend = DaemonProcess.start(dir.resolve("backend.log"), "demo-backend", "--udp",
                "--listen", "127.0.0.1:" + port, "--name", "solo");
                DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            backend.awaitLine("demo backend solo answering UDP", java.time.Duration.ofSeconds(60));
            client.setSoTimeout(5_000);
            assertEquals("solo: ping", ask(client, address, "ping"));
            backend.terminate();
            assertEquals(0, backend.awaitExit(java.time.Duration.ofSeconds(30)), backend.output());
        }
    }

    private static String ask(DatagramSocket client, InetSocketAddress to, String payload) throws Exception {
        byte[] b = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(b, b.length, to));
        DatagramPacket in = new DatagramPacket(new byte[65535], 65535);
        client.receive(in);
        assertEquals(to, in.getSocketAddress());
        return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
    }
}
