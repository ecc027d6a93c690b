package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.snapshot.FlowPlacement;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link TcpProxyVip#trackedBackend}: the open connection from a client address and port is found on whichever
 * loop holds it, with the backend it reached, on every relay engine; its backend stays after the table changes;
 * a closed connection or an unknown client is not tracked.
 */
class TcpTrackedBackendTest {

    @ParameterizedTest
    @EnumSource(Relay.class)
    void anOpenConnectionIsTrackedOnTheBackendItReached(Relay relay) throws Exception {
        try (TestBackend a = TestBackend.start("a", TestBackend.sendsName());
                TestBackend b = TestBackend.start("b", TestBackend.sendsName());
                ProxyFixture proxy = relay.apply(ProxyFixture.spec("web").backend(a).backend(b)).start()) {
            InetAddress source = InetAddress.getByAddress(new byte[] {127, 0, 9, 1});
            for (int i = 0; i < 6; i++) {
                String reached;
                InetSocketAddress client;
                try (Socket s = new Socket()) {
                    s.setSoTimeout(10_000);
                    s.bind(new InetSocketAddress(source, 0));
                    client = (InetSocketAddress) s.getLocalSocketAddress();
                    assertEquals(ForwardingSnapshot.NO_BACKEND, proxy.vip.trackedBackend(client));
                    s.connect(proxy.address(), 10_000);
                    reached = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))
                            .readLine();
                    FlowPlacement p = FlowPlacement.of(proxy.snapshot(), proxy.vip.config().hash(), Protocol.TCP,
                            client, proxy.address());
                    assertEquals(p.backend().name(), reached, "the table's choice is where the connection went");
                    assertEquals(proxy.idOf(reached), proxy.vip.trackedBackend(client));

                    // The table changes (the backend goes down): the open connection is still on it.
                    proxy.publishWithDown(2 + i, reached);
                    assertEquals(proxy.idOf(reached), proxy.vip.trackedBackend(client));
                    proxy.publishWithDown(100 + i);
                }
                ProxyFixture.awaitTrue("the closed connection forgotten",
                        () -> proxy.vip.trackedBackend(client) == ForwardingSnapshot.NO_BACKEND);
            }
        }
    }
}
