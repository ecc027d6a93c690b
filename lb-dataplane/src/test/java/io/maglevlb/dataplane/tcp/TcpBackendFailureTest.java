package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What clients see when backends refuse, time out, or are all gone. */
class TcpBackendFailureTest {

    @ParameterizedTest
    @EnumSource(Relay.class)
    void aRefusedBackendIsRetriedOnAnotherAndClientsSeeNoError(Relay relay) throws Exception {
        InetSocketAddress dead = TestBackend.refusedAddress();
        try (TestBackend a = TestBackend.start("a", TestBackend.sendsName());
             TestBackend c = TestBackend.start("c", TestBackend.sendsName());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("retry").backend(a).backend("b-dead", dead).backend(c)
                     .connectRetries(2)).start()) {
            ForwardingSnapshot snapshot = proxy.snapshot();
            int deadId = proxy.idOf("b-dead");
            int firstChoiceDead = 0;
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 150; i++) {
                InetAddress source = Clients.source(i);
                Clients.Answer answer = Clients.fetchName(proxy.address(), source);
                seen.add(answer.name());
                int expected = Clients.expectedBackend(snapshot, HashMode.FIVE_TUPLE, source, answer.clientPort(),
                        proxy.address());
                if (expected == deadId) {
                    firstChoiceDead++;
                } else {
                    assertEquals(snapshot.backend(expected).name(), answer.name(), "live first choices are kept");
                }
            }
            assertEquals(Set.of("a", "c"), seen);
            assertTrue(firstChoiceDead > 25, "about a third of 150 flows should have chosen the dead backend first");
            proxy.awaitNoConnections();
            TcpVipStats stats = proxy.vip.stats();
            assertEquals(firstChoiceDead, stats.connectFailures(deadId));
            assertEquals(firstChoiceDead, stats.totalRetries());
            assertEquals(0, stats.connectGiveUps());
        }
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void aBackendThatDoesNotAnswerTimesOutAndIsRetried(Relay relay) throws Exception {
        // A listener that never accepts, with its accept queue full: Linux drops further SYNs, so connects to
        // it time out instead of being refused.
        try (ServerSocket blackHole = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             TestBackend a = TestBackend.start("a", TestBackend.sendsName())) {
            List<Socket> fillers = new ArrayList<>();
            try {
                fillAcceptQueue(blackHole, fillers);
                InetSocketAddress hole = (InetSocketAddress) blackHole.getLocalSocketAddress();
                try (ProxyFixture proxy = relay.apply(ProxyFixture.spec("timeout").backend(a).backend("hole", hole)
                        .connectTimeout(Duration.ofMillis(200)).connectRetries(1)).start()) {
                    int holeId = proxy.idOf("hole");
                    int timedOut = 0;
                    for (int i = 0; i < 40; i++) {
                        InetAddress source = Clients.source(i);
                        Clients.Answer answer = Clients.fetchName(proxy.address(), source);
                        assertEquals("a", answer.name());
                        if (Clients.expectedBackend(proxy.snapshot(), HashMode.FIVE_TUPLE, source,
                                answer.clientPort(), proxy.address()) == holeId) {
                            timedOut++;
                        }
                    }
                    assertTrue(timedOut > 0, "some of 40 flows should have chosen the silent backend first");
                    proxy.awaitNoConnections();
                    assertEquals(timedOut, proxy.vip.stats().connectFailures(holeId));
                }
            } finally {
                for (Socket s : fillers) {
                    s.close();
                }
            }
        }
    }

    /** Connects to {@code server} until a connect no longer completes at once (its queue is full). */
    private static void fillAcceptQueue(ServerSocket server, List<Socket> fillers) throws IOException {
        for (int i = 0; i < 16; i++) {
            Socket s = new Socket();
            fillers.add(s);
            try {
                s.connect(server.getLocalSocketAddress(), 300);
            } catch (SocketTimeoutException e) {
                return; // the queue is full: SYNs are being dropped
            }
        }
        fail("the accept queue of a backlog-1 listener never filled up");
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void whenEveryBackendRefusesTheClientIsResetPromptly(Relay relay) throws Exception {
        try (ProxyFixture proxy = relay.apply(ProxyFixture.spec("all-down")
                .backend("x", TestBackend.refusedAddress())
                .backend("y", TestBackend.refusedAddress())
                .connectRetries(2)).start()) {
            for (int i = 0; i < 5; i++) {
                assertResetWithin2Seconds(proxy.address(), true);
            }
            proxy.awaitNoConnections();
            TcpVipStats stats = proxy.vip.stats();
            assertEquals(5, stats.connectGiveUps());
            assertEquals(10, stats.totalConnectFailures(), "first choice and one fallback (2 backends) each");
        }
    }

    @ParameterizedTest
    @EnumSource(Relay.class)
    void whenTheTableIsEmptyTheClientIsResetAtOnce(Relay relay) throws Exception {
        try (TestBackend a = TestBackend.start("a", TestBackend.sendsName());
             ProxyFixture proxy = relay.apply(ProxyFixture.spec("empty").backend(a)).start()) {
            proxy.publishWithDown(2, "a");
            assertResetWithin2Seconds(proxy.address(), false);
            proxy.awaitNoConnections();
            assertEquals(1, proxy.vip.stats().closedNoBackend());
            assertEquals(0, a.accepted());
        }
    }

    /** The client gets a reset (or at worst an EOF) within 2 s, never a hang. */
    private static void assertResetWithin2Seconds(InetSocketAddress proxy, boolean sendFirst) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(2000);
            try {
                s.connect(proxy, Clients.TIMEOUT_MS); // the reset may come before connect() returns
                if (sendFirst) {
                    s.getOutputStream().write("hello".getBytes());
                }
                InputStream in = s.getInputStream();
                int b = in.read();
                assertEquals(-1, b, "no data expected");
                fail("expected a reset, got a clean EOF");
            } catch (SocketTimeoutException e) {
                fail("client left hanging for 2 s");
            } catch (SocketException e) {
                assertTrue(e.getMessage().contains("reset"), e.toString());
            }
        }
    }

    @Test
    void aNewSnapshotMovesNewConnectionsAndLeavesExistingOnesAlone() throws Exception {
        try (TestBackend a = TestBackend.start("a", TestBackend.echoes());
             TestBackend b = TestBackend.start("b", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("switch").backend(a).backend(b).start()) {
            // Open connections until one lands on a (echo backends do not say who they are: count accepts).
            List<Socket> onA = new ArrayList<>();
            try {
                for (int i = 0; i < 40 && onA.isEmpty(); i++) {
                    int before = a.accepted();
                    Socket s = new Socket();
                    s.setSoTimeout(Clients.TIMEOUT_MS);
                    s.connect(proxy.address());
                    s.getOutputStream().write(1);
                    assertEquals(1, s.getInputStream().read());
                    if (a.accepted() > before) {
                        onA.add(s);
                    } else {
                        s.close();
                    }
                }
                assertEquals(1, onA.size(), "no connection reached a in 40 tries");
                ForwardingSnapshot withoutA = proxy.publishWithDown(2, "a");
                assertNotEquals(proxy.idOf("a"), withoutA.backendFor(0));
                int acceptedByA = a.accepted();
                for (int i = 0; i < 50; i++) {
                    try (Socket s = new Socket()) {
                        s.setSoTimeout(Clients.TIMEOUT_MS);
                        s.connect(proxy.address());
                        s.getOutputStream().write(2);
                        assertEquals(2, s.getInputStream().read());
                    }
                }
                assertEquals(acceptedByA, a.accepted(), "new connections must not reach a");
                Socket old = onA.get(0);
                old.getOutputStream().write(3);
                assertEquals(3, old.getInputStream().read(), "the existing connection to a still works");
            } finally {
                for (Socket s : onA) {
                    s.close();
                }
            }
        }
    }
}
