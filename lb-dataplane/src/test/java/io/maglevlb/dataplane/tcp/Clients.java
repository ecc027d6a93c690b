package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.AddressBits;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;

/** Blocking test clients on loopback. */
final class Clients {
    static final int TIMEOUT_MS = 10_000;

    private Clients() {}

    /** One answer of a {@link TestBackend#sendsName()} backend, and the client port it came to. */
    record Answer(String name, int clientPort) {}

    /** Connects from {@code source} (port 0), reads the backend's name line until EOF, closes. */
    static Answer fetchName(InetSocketAddress proxy, InetAddress source) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(TIMEOUT_MS);
            s.bind(new InetSocketAddress(source, 0));
            s.connect(proxy, TIMEOUT_MS);
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return new Answer(answer.strip(), s.getLocalPort());
        }
    }

    static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        if (c < 0 && sb.isEmpty()) {
            throw new IOException("connection ended before a line");
        }
        return sb.toString();
    }

    /** The i-th of many distinct loopback source addresses (127.0.x.y). */
    static InetAddress source(int i) {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, (byte) (i / 250), (byte) (i % 250 + 1)});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** The backend id the proxy must pick for this client, by the same rule it documents. */
    static int expectedBackend(ForwardingSnapshot snapshot, HashMode mode, InetAddress client, int clientPort,
            InetSocketAddress vip) {
        byte[] c = client.getAddress();
        byte[] v = vip.getAddress().getAddress();
        long hash = mode == HashMode.SOURCE_IP
                ? FlowHash.sourceIp(AddressBits.hi(c), AddressBits.lo(c))
                : FlowHash.fiveTuple(6, AddressBits.hi(c), AddressBits.lo(c), clientPort, AddressBits.hi(v),
                        AddressBits.lo(v), vip.getPort());
        return snapshot.backendFor(hash);
    }
}
