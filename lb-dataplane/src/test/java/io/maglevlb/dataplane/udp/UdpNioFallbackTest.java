package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.snapshot.BackendState;
import io.netty.channel.EventLoopGroup;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The same forwarder on Netty's NIO transport (no native epoll): SO_REUSEPORT through the JDK. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UdpNioFallbackTest {
    private static EventLoopGroup group;

    @BeforeAll
    static void startLoops() {
        group = UdpHarness.nioLoops(2);
    }

    @AfterAll
    static void stopLoops() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void forwardsByTheTableWithRepliesFromTheVipAndSurvivesAClosedBackendPort() throws Exception {
        List<UdpTestBackend> backends = UdpHarness.startBackends(UdpTestBackend.Mode.NAME, "b1", "b2");
        InetSocketAddress closedPort;
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            closedPort = (InetSocketAddress) probe.getLocalSocketAddress();
        }
        List<BackendState> states = new java.util.ArrayList<>(UdpHarness.statesOf(backends));
        states.add(new BackendState(3, "dead", closedPort, 1, false, true));
        try (UdpHarness h = new UdpHarness(group, backends, states)) {
            assertEquals(2, h.forwarder.sockets());
            int answered = 0;
            for (int i = 0; i < 300; i++) {
                try (DatagramSocket c = UdpHarness.client()) {
                    String expected = h.expectedBackend((InetSocketAddress) c.getLocalSocketAddress());
                    if ("dead".equals(expected)) {
                        h.send(c, "hello?");
                        h.send(c, "hello?");
                        continue;
                    }
                    assertEquals(expected, h.askName(c));
                    assertEquals(expected, h.askName(c));
                    answered++;
                }
            }
            assertTrue(answered > 150, "answered " + answered);
            UdpHarness.await("ICMP errors counted", Duration.ofSeconds(5),
                    () -> h.forwarder.stats().backend(3).unreachable() > 0);
            assertEquals(0, h.forwarder.stats().vipSocketErrors());
        }
    }
}
