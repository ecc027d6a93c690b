package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.VipConfig;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A successor forwarder on the same address takes over the listening sockets ({@link TcpProxyVip#startInPlaceOf}):
 * a connection that waits in the accept queue at the hand-off is served by the successor, the predecessor's open
 * connection goes on, and the predecessor's {@code max_connections} pause does not carry over.
 */
class TcpListenerHandOverTest {

    @ParameterizedTest
    @EnumSource(Relay.class)
    void queuedConnectionsAreServedByTheSuccessorAndOpenOnesStay(Relay relay) throws Exception {
        TcpProxyOptions options = TcpProxyOptions.defaults();
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("handover").backend(echo).maxConnections(1)
                     .workers(1)).start();
             Socket open = connect(proxy);
             Socket queued = new Socket()) {
            roundTrip(open, 1);
            // The predecessor is at its limit: its listener stops accepting, the next client waits in the queue.
            queued.setSoTimeout(Clients.TIMEOUT_MS);
            queued.connect(proxy.address(), Clients.TIMEOUT_MS);
            queued.getOutputStream().write(2);
            assertEquals(1, proxy.vip.stats().accepted(), "the second client waits in the accept queue");

            VipConfig next = ProxyFixture.spec("handover").backend(echo).listen(proxy.address()).maxConnections(0)
                    .workers(1).connectTimeout(Duration.ofSeconds(3)).toConfig();
            TcpProxyVip successor = new TcpProxyVip(next, proxy.snapshots, proxy.group, proxy.vip.transport(), options);
            try {
                assertTrue(successor.startInPlaceOf(proxy.vip));
                assertEquals(0, proxy.vip.listenerCount());
                assertEquals(1, successor.listenerCount());
                assertEquals(proxy.address(), successor.localAddress());

                assertEquals(2, queued.getInputStream().read(), "the queued client is served by the successor");
                assertEquals(1, successor.stats().accepted());
                roundTrip(open, 3); // the predecessor's connection goes on

                proxy.vip.stopAccepting(); // the reload retires it: the handed-over sockets stay open
                try (Socket fresh = connect(proxy)) {
                    roundTrip(fresh, 4);
                }
                assertEquals(2, successor.stats().accepted());
                assertEquals(1, proxy.vip.stats().accepted());

                open.shutdownOutput();
                assertEquals(-1, open.getInputStream().read());
                proxy.awaitNoConnections();
                proxy.vip.closeConnections();
                try (Socket afterReap = connect(proxy)) {
                    roundTrip(afterReap, 5);
                }
            } finally {
                successor.stopAccepting();
                successor.closeConnections();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void anotherAddressOrEngineIsNotTakenOver(Relay relay) throws Exception {
        TcpProxyOptions options = TcpProxyOptions.defaults();
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("handover").backend(echo)).start()) {
            int listeners = proxy.vip.listenerCount();
            VipConfig otherPort = ProxyFixture.spec("handover").backend(echo).toConfig();
            assertFalse(new TcpProxyVip(otherPort, proxy.snapshots, proxy.group, proxy.vip.transport(), options)
                    .startInPlaceOf(proxy.vip));
            VipConfig same = ProxyFixture.spec("handover").backend(echo).listen(proxy.address()).toConfig();
            Relay otherEngine = relay == Relay.EPOLL ? Relay.NIO : Relay.EPOLL;
            TcpProxyVip other = new TcpProxyVip(same, proxy.snapshots, proxy.group, otherEngine.transport(), options);
            assertFalse(other.startInPlaceOf(proxy.vip));
            assertEquals(listeners, proxy.vip.listenerCount(), "nothing was taken");
        }
    }

    private static Socket connect(ProxyFixture proxy) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(Clients.TIMEOUT_MS);
        s.connect(proxy.address(), Clients.TIMEOUT_MS);
        return s;
    }

    private static void roundTrip(Socket s, int b) throws IOException {
        s.getOutputStream().write(b);
        assertEquals(b, s.getInputStream().read());
    }
}
