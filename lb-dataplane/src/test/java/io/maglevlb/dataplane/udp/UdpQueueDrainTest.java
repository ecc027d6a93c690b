package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.snapshot.BackendState;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A reload that moves a UDP VIP retires its forwarder with {@link UdpForwarder#drainListeners}: datagrams of new
 * flows the kernel queued on the old VIP socket before that are forwarded (and answered), not dropped as they are
 * once the forwarder stops accepting. The queue is filled deterministically: the loop is kept busy by a task that
 * waits for a latch while the clients send, and the drain's task runs on the loop right after it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpQueueDrainTest {
    private static EventLoopGroup group;

    @BeforeAll
    static void startLoops() {
        group = UdpHarness.epollLoops(1);
    }

    @AfterAll
    static void stopLoops() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void datagramsQueuedBeforeTheDrainAreForwardedNewFlowsIncluded() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2");
        List<BackendState> states = UdpHarness.statesOf(backends);
        List<DatagramSocket> clients = new ArrayList<>();
        try (UdpHarness h = new UdpHarness(group, backends, states)) {
            SingleThreadEventExecutor loop = (SingleThreadEventExecutor) group.next();
            CountDownLatch release = new CountDownLatch(1);
            loop.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 8; i++) { // eight new flows, queued in the kernel: the loop is busy
                DatagramSocket c = UdpHarness.client();
                clients.add(c);
                c.send(new DatagramPacket(hello, hello.length, h.vipAddress()));
            }
            Thread drain = Thread.ofPlatform().start(h.forwarder::drainListeners);
            UdpHarness.await("the drain's task is queued behind the busy one", UdpHarness.REPLY_TIMEOUT,
                    () -> loop.pendingTasks() > 0);
            release.countDown();
            drain.join();

            int answered = 0;
            for (DatagramSocket c : clients) {
                DatagramPacket in = new DatagramPacket(new byte[256], 256);
                try {
                    c.receive(in);
                    answered++;
                } catch (SocketTimeoutException e) {
                    // counted below
                }
            }
            assertEquals(clients.size(), answered, "every queued new flow was forwarded and answered");
            assertEquals(clients.size(), h.forwarder.stats().flowsActive());
        } finally {
            for (DatagramSocket c : clients) {
                c.close();
            }
        }
    }
}
