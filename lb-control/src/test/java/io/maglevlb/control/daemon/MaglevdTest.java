package io.maglevlb.control.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.tcp.TcpProxyOptions;
import io.maglevlb.dataplane.tcp.TcpProxyVip;
import io.maglevlb.dataplane.tcp.TcpVipStats;
import io.maglevlb.dataplane.udp.UdpForwarder;
import io.maglevlb.dataplane.udp.UdpVipStats;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The daemon in-process: start, forward, rebuild tables, shut down with open connections. */
class MaglevdTest {
    private static final DaemonOptions OPTIONS = new DaemonOptions(TcpProxyOptions.defaults(), Transport.detect());

    /** A loopback echo server with a blocking thread per connection. */
    private ServerSocket echo;
    private final List<Socket> echoSockets = new ArrayList<>();
    private Maglevd daemon;

    @BeforeEach
    void startEcho() throws IOException {
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    synchronized (echoSockets) {
                        echoSockets.add(s);
                    }
                    Thread.ofVirtual().start(() -> {
                        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                            in.transferTo(out);
                        } catch (IOException e) {
                            // peer gone
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stopAll() throws IOException {
        if (daemon != null) {
            daemon.stopWaitingForConnections();
            daemon.shutdown(Duration.ZERO);
        }
        echo.close();
        synchronized (echoSockets) {
            for (Socket s : echoSockets) {
                s.close();
            }
        }
    }

    private InetSocketAddress echoAddress() {
        return (InetSocketAddress) echo.getLocalSocketAddress();
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.connect(address, 10_000);
        return s;
    }

    private static void roundTrip(Socket s, int value) throws IOException {
        s.getOutputStream().write(value);
        assertEquals(value, s.getInputStream().read());
    }

    private Maglevd start(MaglevConfig config) throws DaemonStartException {
        daemon = new Maglevd(config, OPTIONS);
        daemon.start();
        return daemon;
    }

    @Test
    void forwardsTcpAndUdpVips() throws Exception {
        InetSocketAddress web = TestConfigs.freeLoopbackAddress();
        InetSocketAddress dns;
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            dns = (InetSocketAddress) probe.getLocalSocketAddress();
        }
        Maglevd d = start(TestConfigs.config(Duration.ofSeconds(5),
                TestConfigs.tcpVip("web", web, List.of(new BackendConfig("e", echoAddress(), 1))),
                TestConfigs.udpVip("dns", dns, List.of(new BackendConfig("d", echoAddress(), 1)))));
        assertTrue(d.isRunning());
        assertInstanceOf(TcpProxyVip.class, d.vip("web").orElseThrow().forwarder().orElseThrow());
        assertInstanceOf(TcpVipStats.class, d.vip("web").orElseThrow().forwarder().orElseThrow().stats());
        assertInstanceOf(UdpForwarder.class, d.vip("dns").orElseThrow().forwarder().orElseThrow());
        assertInstanceOf(UdpVipStats.class, d.vip("dns").orElseThrow().forwarder().orElseThrow().stats());
        assertEquals(dns, d.vip("dns").orElseThrow().forwarder().orElseThrow().localAddress());
        try (Socket s = connect(web)) {
            roundTrip(s, 42);
        }
    }

    @Test
    void shutdownLetsOpenConnectionsFinishThenReturnsTrue() throws Exception {
        InetSocketAddress web = TestConfigs.freeLoopbackAddress();
        Maglevd d = start(TestConfigs.config(Duration.ofSeconds(20),
                TestConfigs.tcpVip("web", web, List.of(new BackendConfig("e", echoAddress(), 1)))));
        Socket open = connect(web);
        roundTrip(open, 1);
        CompletableFuture<Boolean> stopped = CompletableFuture.supplyAsync(() -> d.shutdown(Duration.ofSeconds(20)));
        awaitTrue(() -> !d.isRunning());
        awaitTrue(() -> {
            try (Socket s = new Socket()) {
                s.connect(web, 1000);
                return false;
            } catch (ConnectException e) {
                return true; // listeners are closed
            } catch (IOException e) {
                return false;
            }
        });
        assertFalse(stopped.isDone(), "shutdown waits for the open connection");
        roundTrip(open, 2); // still forwarding
        open.shutdownOutput();
        assertEquals(-1, open.getInputStream().read());
        open.close();
        assertTrue(stopped.get(20, TimeUnit.SECONDS), "every connection finished by itself");
    }

    @Test
    void shutdownClosesWhatIsStillOpenAtTheDeadline() throws Exception {
        InetSocketAddress web = TestConfigs.freeLoopbackAddress();
        Maglevd d = start(TestConfigs.config(Duration.ofMillis(300),
                TestConfigs.tcpVip("web", web, List.of(new BackendConfig("e", echoAddress(), 1)))));
        try (Socket lingering = connect(web)) {
            roundTrip(lingering, 1);
            assertFalse(d.shutdown(Duration.ofMillis(300)));
            assertEquals(-1, lingering.getInputStream().read(), "closed by the daemon");
            assertEquals(0, d.activeConnections());
        }
    }

    @Test
    void aVipThatCannotBindFailsTheStartWithOneLineAndReleasesTheOthers() throws Exception {
        InetSocketAddress first = TestConfigs.freeLoopbackAddress();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress busy = (InetSocketAddress) taken.getLocalSocketAddress();
            Maglevd d = new Maglevd(TestConfigs.config(Duration.ofSeconds(1),
                    TestConfigs.tcpVip("first", first, List.of(new BackendConfig("e", echoAddress(), 1))),
                    TestConfigs.tcpVip("second", busy, List.of(new BackendConfig("e", echoAddress(), 1)))), OPTIONS);
            DaemonStartException e = assertThrows(DaemonStartException.class, d::start);
            assertEquals("vip second: cannot listen on 127.0.0.1:" + busy.getPort()
                    + " (vips[1].listen): Address already in use",
                    e.getMessage());
            assertFalse(d.isRunning());
        }
        try (ServerSocket again = new ServerSocket()) {
            again.bind(first); // the first VIP's listeners were closed
        }
    }

    @Test
    void healthChangesRebuildThePublishedTable() throws Exception {
        InetSocketAddress web = TestConfigs.freeLoopbackAddress();
        InetSocketAddress otherEcho = echoAddress();
        Maglevd d = start(TestConfigs.config(Duration.ofSeconds(1), TestConfigs.tcpVip("web", web,
                List.of(new BackendConfig("a", otherEcho, 1), new BackendConfig("b", otherEcho, 1)))));
        VipRuntime vip = d.vip("web").orElseThrow();
        assertEquals(2, vip.snapshot().tableBackends().size());
        assertTrue(vip.setHealthy("b", false));
        assertFalse(vip.setHealthy("b", false), "no change, no rebuild");
        ForwardingSnapshot s = vip.snapshot();
        assertEquals(2, s.generation());
        assertEquals(List.of("a"), s.tableBackends().stream().map(x -> x.name()).toList());
        assertTrue(vip.setDrained("a", true));
        assertTrue(vip.snapshot().isEmpty());
        assertEquals(3, vip.rebuilds());
        assertThrows(IllegalArgumentException.class, () -> vip.setHealthy("nope", true));
        // Empty table: a new client is reset at once.
        try (Socket s2 = new Socket()) {
            s2.setSoTimeout(5000);
            try {
                s2.connect(web, 5000);
                assertEquals(-1, s2.getInputStream().read());
            } catch (IOException expected) {
                // reset
            }
        }
        assertEquals(1, ((TcpVipStats) vip.forwarder().orElseThrow().stats()).closedNoBackend());
    }

    @Test
    void servicesStartAfterTheVipsAndStopInReverseOrder() throws Exception {
        InetSocketAddress web = TestConfigs.freeLoopbackAddress();
        List<String> events = new ArrayList<>();
        Maglevd d = new Maglevd(TestConfigs.config(Duration.ofSeconds(1),
                TestConfigs.tcpVip("web", web, List.of(new BackendConfig("e", echoAddress(), 1)))), OPTIONS);
        for (String name : List.of("health", "admin")) {
            d.addService(new DaemonService() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public void start(Maglevd daemon) {
                    events.add("start " + name + " forwarding=" + daemon.vip("web").orElseThrow().forwarder()
                            .isPresent());
                }

                @Override
                public void stop() {
                    events.add("stop " + name);
                }
            });
        }
        daemon = d;
        d.start();
        assertTrue(d.shutdown(Duration.ofSeconds(1)));
        assertEquals(List.of("start health forwarding=true", "start admin forwarding=true", "stop admin",
                "stop health"), events);
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 20 s");
            }
            Thread.sleep(10);
        }
    }

    @Test
    void vipConfigsKeepFileOrder() throws Exception {
        InetSocketAddress a = TestConfigs.freeLoopbackAddress();
        VipConfig one = TestConfigs.tcpVip("one", a, List.of(new BackendConfig("e", echoAddress(), 1)));
        VipConfig two = TestConfigs.udpVip("two", a, List.of(new BackendConfig("e", echoAddress(), 1)));
        Maglevd d = new Maglevd(TestConfigs.config(Duration.ofSeconds(1), one, two), OPTIONS);
        assertEquals(List.of("one", "two"), d.vips().stream().map(VipRuntime::name).toList());
    }
}
