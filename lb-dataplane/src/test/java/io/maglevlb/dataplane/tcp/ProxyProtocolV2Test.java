package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.config.ProxyProtocol;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The PROXY protocol v2 header, byte for byte, and on the wire in front of the client's bytes. */
class ProxyProtocolV2Test {
    private static final String SIGNATURE = "0d0a0d0a000d0a515549540a";

    private static String encode(String src, int srcPort, String dst, int dstPort) throws IOException {
        ByteBuf out = Unpooled.buffer();
        try {
            ProxyProtocolV2.encode(out, new InetSocketAddress(InetAddress.getByName(src), srcPort),
                    new InetSocketAddress(InetAddress.getByName(dst), dstPort));
            return ByteBufUtil.hexDump(out);
        } finally {
            out.release();
        }
    }

    @Test
    void tcpOverIpv4() throws IOException {
        assertEquals(SIGNATURE
                        + "21" // version 2, PROXY
                        + "11" // AF_INET, STREAM
                        + "000c" // 12 bytes of addresses
                        + "c0000201" // 192.0.2.1
                        + "c6336401" // 198.51.100.1
                        + "d431" // 54321
                        + "01bb", // 443
                encode("192.0.2.1", 54321, "198.51.100.1", 443));
    }

    @Test
    void tcpOverIpv6() throws IOException {
        assertEquals(SIGNATURE
                        + "21"
                        + "21" // AF_INET6, STREAM
                        + "0024" // 36 bytes
                        + "20010db8000000000000000000000001" // 2001:db8::1
                        + "20010db8000000000000000000000002" // 2001:db8::2
                        + "0400" // 1024
                        + "0050", // 80
                encode("2001:db8::1", 1024, "2001:db8::2", 80));
    }

    @Test
    void mixedFamiliesAreSentAsIpv6WithTheIpv4AddressMapped() throws IOException {
        assertEquals(SIGNATURE + "21" + "21" + "0024"
                        + "00000000000000000000ffffc0000201" // ::ffff:192.0.2.1
                        + "20010db8000000000000000000000002"
                        + "ffff" + "0001",
                encode("192.0.2.1", 65535, "2001:db8::2", 1));
    }

    @Test
    void lengthMatchesTheEncoding() throws IOException {
        InetSocketAddress v4 = new InetSocketAddress(InetAddress.getByName("198.18.0.1"), 1);
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("::1"), 1);
        assertEquals(28, ProxyProtocolV2.length(v4, v4));
        assertEquals(52, ProxyProtocolV2.length(v6, v4));
        assertEquals(2 * 28, encode("198.18.0.1", 1, "198.18.0.1", 1).length());
    }

    @Test
    void theBackendReceivesTheHeaderBeforeTheClientsBytes() throws Exception {
        CompletableFuture<byte[]> header = new CompletableFuture<>();
        CompletableFuture<String> payload = new CompletableFuture<>();
        TestBackend.Behaviour recordsHeader = (socket, backend) -> {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] h = new byte[28];
            in.readFully(h);
            header.complete(h);
            payload.complete(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            socket.getOutputStream().write('k');
        };
        try (TestBackend backend = TestBackend.start("pp", recordsHeader);
             ProxyFixture proxy = ProxyFixture.spec("pp").backend(backend).proxyProtocol(ProxyProtocol.V2).start();
             Socket client = new Socket()) {
            InetAddress source = InetAddress.getByName("127.0.0.9");
            client.bind(new InetSocketAddress(source, 0));
            client.setSoTimeout(Clients.TIMEOUT_MS);
            client.connect(proxy.address());
            OutputStream out = client.getOutputStream();
            out.write("hello".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            assertEquals('k', client.getInputStream().read());

            byte[] expected = HexFormat.of().parseHex(SIGNATURE + "21" + "11" + "000c"
                    + "7f000009" // client 127.0.0.9
                    + "7f000001" // VIP 127.0.0.1
                    + String.format("%04x", client.getLocalPort())
                    + String.format("%04x", proxy.address().getPort()));
            assertArrayEquals(expected, header.get(10, TimeUnit.SECONDS));
            assertEquals("hello", payload.get(10, TimeUnit.SECONDS));
            proxy.awaitNoConnections();
            assertEquals(5, proxy.vip.stats().totalBytesToBackend(), "client bytes only, not the header");
        }
    }
}
