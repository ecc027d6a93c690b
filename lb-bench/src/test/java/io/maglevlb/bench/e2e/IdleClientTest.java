package io.maglevlb.bench.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdleClientTest {

    /** Accepts connections on loopback; greets only the first {@code greeted}, holds the rest silently. */
    private static Thread server(ServerSocketChannel listener, int greeted, List<SocketChannel> accepted) {
        return Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    SocketChannel conn = listener.accept();
                    accepted.add(conn);
                    if (accepted.size() <= greeted) {
                        conn.write(ByteBuffer.wrap(new byte[] {'+'}));
                    }
                }
            } catch (IOException closed) {
                // listener closed by the test
            }
        });
    }

    @Test
    void readyOnlyWhenEveryConnectionGotTheBackendsGreeting() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
            List<SocketChannel> accepted = new ArrayList<>();
            server(listener, Integer.MAX_VALUE, accepted);
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();

            int status = IdleClient.run(new Args("idle-client", new String[] {"--target", "127.0.0.1:" + port,
                "--count", "300", "--concurrency", "64", "--timeout-ms", "30000", "--hold-ms", "0"}, 0));

            assertEquals(0, status);
            for (SocketChannel conn : accepted) {
                conn.close();
            }
        }
    }

    @Test
    void failsWhenSomeConnectionsNeverHearFromABackend() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
            List<SocketChannel> accepted = new ArrayList<>();
            server(listener, 10, accepted);
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();

            int status = IdleClient.run(new Args("idle-client", new String[] {"--target", "127.0.0.1:" + port,
                "--count", "20", "--timeout-ms", "1500", "--hold-ms", "0"}, 0));

            assertEquals(2, status);
            for (SocketChannel conn : accepted) {
                conn.close();
            }
        }
    }
}
