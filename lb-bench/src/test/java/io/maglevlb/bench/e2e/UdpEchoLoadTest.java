package io.maglevlb.bench.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class UdpEchoLoadTest {

    /** A UDP port that is free on {@code ip} right now. */
    private static int freePort(String ip) throws IOException {
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(ip, 0))) {
            return probe.getLocalPort();
        }
    }

    private static Thread serve(UdpEcho echo, long forMs) {
        long deadlineNs = System.nanoTime() + forMs * 1_000_000L;
        return Thread.ofPlatform().daemon().start(() -> echo.serve(deadlineNs));
    }

    @Test
    void everyDatagramComesBackWholeToItsOwnSenderFromTheAddressItWasSentTo() throws Exception {
        int port = freePort("127.0.0.2");
        List<InetSocketAddress> addresses = List.of(new InetSocketAddress("127.0.0.2", port),
                new InetSocketAddress("127.0.0.3", port));
        Thread server = serve(UdpEcho.open(addresses), 3000);
        try (DatagramSocket a = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                DatagramSocket b = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            for (DatagramSocket client : List.of(a, b)) {
                client.setSoTimeout(10_000); // a safety net: every reply is there long before
                client.setReceiveBufferSize(4 << 20); // room for every reply at once
            }
            // More datagrams than one batch, in both directions at once, sizes 1 B to 60 kB.
            Map<String, InetSocketAddress> sentA = new HashMap<>();
            Map<String, InetSocketAddress> sentB = new HashMap<>();
            for (int i = 0; i < 2 * UdpEcho.BATCH; i++) {
                InetSocketAddress to = addresses.get(i % 2);
                sentA.put(send(a, "a" + i, i == 7 ? 60_000 : 1 + i, to), to);
                sentB.put(send(b, "b" + i, 1 + i, to), to);
            }
            assertEquals(sentA, receive(a, sentA.size()));
            assertEquals(sentB, receive(b, sentB.size()));
        }
        server.join(20_000);
        assertFalse(server.isAlive(), "the echo thread ends at its deadline");
    }

    @Test
    void udpLoadCountsEveryRoundTripThroughTheEchoAndNoLoss() throws Exception {
        int port = freePort("127.0.0.2");
        String targets = "127.0.0.2:" + port + ",127.0.0.3:" + port;
        Thread server = serve(UdpEcho.open(new Args("t", new String[] {"--to", targets}, 0).addresses("to")), 2000);

        Map<String, Long> report = runLoad(targets);

        assertTrue(report.get("replies") > 0);
        assertEquals(0, report.get("lost"));
        assertEquals(0, report.get("errors"));
        server.join(20_000);
    }

    @Test
    void udpLoadCountsDatagramsThatNeverCameBackAsSkippedSequenceNumbers() throws Exception {
        int port = freePort("127.0.0.2");
        try (DatagramChannel lossy = DatagramChannel.open()) {
            lossy.bind(new InetSocketAddress("127.0.0.2", port));
            Thread server = Thread.ofPlatform().daemon().start(() -> echoDroppingEveryTenth(lossy));

            Map<String, Long> report = runLoad("127.0.0.2:" + port);

            assertTrue(report.get("replies") > 0);
            assertTrue(report.get("lost") > 0, "lost: " + report);
            assertEquals(0, report.get("errors"));
            lossy.close();
            server.join(20_000);
        }
    }

    /** Echoes every datagram whose sequence number is not a multiple of ten, until the channel is closed. */
    private static void echoDroppingEveryTenth(DatagramChannel channel) {
        ByteBuffer buffer = ByteBuffer.allocate(65_536);
        try {
            while (true) {
                SocketAddress from = channel.receive(buffer.clear());
                if (buffer.flip().getLong(0) % 10 != 0) {
                    channel.send(buffer, from);
                }
            }
        } catch (IOException closed) {
            // the test closed the channel
        }
    }

    private static final Pattern LINE = Pattern.compile("udp-load: .*: (\\d+) replies in [0-9.]+ s; sent (\\d+),"
            + " lost \\(skipped sequence numbers\\) (\\d+), window timeouts (\\d+), errors (\\d+)");

    /** Runs udp-load for 300 ms and returns the counts of its report line. */
    private static Map<String, Long> runLoad(String targets) throws IOException {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            UdpLoad.run(new Args("udp-load", new String[] {"--targets", targets, "--sockets", "8", "--window", "4",
                "--size", "100", "--warmup-ms", "50", "--duration-ms", "300"}, 0));
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        Matcher m = LINE.matcher(out);
        assertTrue(m.find(), out);
        assertTrue(out.lines().anyMatch(l -> l.matches("RESULT [0-9]+\\.[0-9]")), out);
        return Map.of("replies", Long.parseLong(m.group(1)), "sent", Long.parseLong(m.group(2)),
                "lost", Long.parseLong(m.group(3)), "timeouts", Long.parseLong(m.group(4)),
                "errors", Long.parseLong(m.group(5)));
    }

    /** Sends {@code length} bytes that start with {@code tag} and returns that content as text. */
    private static String send(DatagramSocket socket, String tag, int length, InetSocketAddress to)
            throws IOException {
        byte[] data = new byte[length];
        Arrays.fill(data, (byte) '.');
        byte[] name = tag.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(name, 0, data, 0, Math.min(name.length, length));
        socket.send(new DatagramPacket(data, length, to));
        return new String(data, StandardCharsets.US_ASCII);
    }

    private static Map<String, InetSocketAddress> receive(DatagramSocket socket, int count) throws IOException {
        Map<String, InetSocketAddress> got = new HashMap<>();
        List<String> duplicates = new ArrayList<>();
        byte[] buffer = new byte[65_536];
        for (int i = 0; i < count; i++) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            socket.receive(packet);
            String content = new String(buffer, 0, packet.getLength(), StandardCharsets.US_ASCII);
            if (got.put(content, (InetSocketAddress) packet.getSocketAddress()) != null) {
                duplicates.add(content);
            }
        }
        assertEquals(List.of(), duplicates);
        return got;
    }
}
