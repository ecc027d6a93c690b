package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** max_connections: above the limit the VIP stops accepting instead of accepting and closing. */
class TcpConnectionLimitTest {

    private static Socket echoOnce(InetSocketAddress proxy, int value) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(Clients.TIMEOUT_MS);
        s.connect(proxy);
        s.getOutputStream().write(value);
        assertEquals(value, s.getInputStream().read());
        return s;
    }

    @Test
    void theConnectionAboveTheLimitIsServedOnlyAfterOneCloses() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("limit").backend(echo).maxConnections(2).start();
             Socket first = echoOnce(proxy.address(), 1);
             Socket second = echoOnce(proxy.address(), 2);
             Socket third = new Socket()) {
            third.connect(proxy.address()); // completes in the kernel's accept queue
            third.getOutputStream().write(3);
            third.setSoTimeout(700);
            assertThrows(SocketTimeoutException.class, () -> third.getInputStream().read(),
                    "the third connection must wait while two are open");
            assertEquals(2, echo.accepted(), "only two connections reached the backend");
            TcpVipStats stats = proxy.vip.stats();
            assertEquals(stats.accepted(), 2 + proxy.vip.parkedConnections(),
                    "the third is either still in the kernel's queue or parked, never forwarded");

            first.close();
            third.setSoTimeout(Clients.TIMEOUT_MS);
            assertEquals(3, third.getInputStream().read(), "served once a slot is free");
            assertEquals(3, echo.accepted());
            second.getOutputStream().write(4);
            assertEquals(4, second.getInputStream().read(), "the others are untouched");
        }
    }

    @Test
    void manyClientsQueueBehindASmallLimitAndAllComplete() throws Exception {
        int clients = 30;
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("queue").backend(echo).maxConnections(3).start();
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int value = i;
                done.add(pool.submit(() -> {
                    try (Socket s = echoOnce(proxy.address(), value)) {
                        Thread.sleep(20);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            proxy.awaitNoConnections();
            assertEquals(clients, proxy.vip.stats().accepted());
            assertEquals(0, proxy.vip.parkedConnections());
            assertTrue(echo.accepted() == clients);
            // And the VIP accepts again afterwards.
            echoOnce(proxy.address(), 99).close();
        }
    }
}
