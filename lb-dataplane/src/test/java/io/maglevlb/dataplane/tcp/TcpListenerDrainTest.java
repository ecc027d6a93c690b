package io.maglevlb.dataplane.tcp;

import static io.maglevlb.dataplane.tcp.ProxyFixture.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A retired forwarder drains its listeners ({@link TcpProxyVip#drainListeners}) instead of closing them: what waits
 * in the accept queue is accepted and served (past its {@code max_connections}, parked until a slot frees), no new
 * handshake starts on them (their SYNs are dropped), and they close by themselves. A successor on an overlapping
 * address binds beside them ({@link TcpProxyVip#startBeside}). Epoll only: the NIO engine closes its listener.
 */
class TcpListenerDrainTest {

    @Test
    void queuedConnectionsAreServedAndNoNewHandshakeStartsOnADrainingListener() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("drain").backend(echo).maxConnections(1).workers(1)
                     .transport(Transport.epoll()).start();
             Socket open = connect(proxy.address())) {
            roundTrip(open, 1);
            List<Socket> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    Socket s = connect(proxy.address()); // the listener is paused at the limit: the kernel queues it
                    s.getOutputStream().write(10 + i);
                    queued.add(s);
                }
                assertEquals(1, proxy.vip.stats().accepted(), "three clients wait in the accept queue");

                proxy.vip.drainListeners();
                assertEquals(4, proxy.vip.activeConnections(), "the queue was accepted (over the limit: parked)");
                assertEquals(3, proxy.vip.parkedConnections());

                // A client that comes now: its SYN is dropped, so it never lands in the draining listener's queue;
                // once the listener closed, its SYN sent again is refused.
                try (SocketChannel late = SocketChannel.open()) {
                    late.configureBlocking(false);
                    late.connect(proxy.address());
                    awaitTrue("the drained listener closed", () -> !proxy.vip.listening());
                    late.configureBlocking(true);
                    assertThrows(ConnectException.class, late::finishConnect);
                }
                assertEquals(4, proxy.vip.stats().accepted(), "nothing was accepted after the drain began");

                open.shutdownOutput();
                assertEquals(-1, open.getInputStream().read());
                for (int i = 0; i < queued.size(); i++) { // parked in accept order; each frees the slot for the next
                    Socket s = queued.get(i);
                    assertEquals(10 + i, s.getInputStream().read(), "queued client " + i + " is served");
                    s.shutdownOutput();
                    assertEquals(-1, s.getInputStream().read());
                }
            } finally {
                for (Socket s : queued) {
                    s.close();
                }
            }
        }
    }

    /** listen 127.0.0.1:P -> 0.0.0.0:P: the wildcard binds beside; a client of 127.0.0.1:P is served, not refused. */
    @Test
    void aWideningSuccessorBindsBesideAndServesTheDrainedAddressesClients() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("widen").backend(echo).workers(1).transport(Transport.epoll())
                     .start()) {
            int port = proxy.address().getPort();
            VipConfig wide = ProxyFixture.spec("widen").backend(echo).workers(1)
                    .listen(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), port)).toConfig();
            TcpProxyVip plain = new TcpProxyVip(wide, proxy.snapshots, proxy.group, Transport.epoll(),
                    TcpProxyOptions.defaults());
            assertThrows(VipBindException.class, plain::start, "the exclusive check sees the predecessor");

            TcpProxyVip successor = new TcpProxyVip(wide, proxy.snapshots, proxy.group, Transport.epoll(),
                    TcpProxyOptions.defaults());
            successor.startBeside(proxy.vip);
            try {
                proxy.vip.drainListeners();
                try (Socket s = connect(proxy.address())) { // dropped while the old one drains, then the wildcard's
                    roundTrip(s, 7);
                }
                assertEquals(1, successor.stats().accepted());
                assertEquals(0, proxy.vip.stats().accepted());
                assertFalse(proxy.vip.listening());
            } finally {
                successor.stopAccepting();
                successor.closeConnections();
            }
        }
    }

    /** listen 0.0.0.0:P -> 127.0.0.1:P: the specific address binds beside and takes its clients at once. */
    @Test
    void aNarrowingSuccessorTakesItsAddressesClientsAtOnce() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("narrow").backend(echo).workers(1).transport(Transport.epoll())
                     .listen(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), 0)).start()) {
            InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    proxy.address().getPort());
            VipConfig narrow = ProxyFixture.spec("narrow").backend(echo).workers(1).listen(loopback).toConfig();
            TcpProxyVip successor = new TcpProxyVip(narrow, proxy.snapshots, proxy.group, Transport.epoll(),
                    TcpProxyOptions.defaults());
            successor.startBeside(proxy.vip);
            try {
                try (Socket s = connect(loopback)) { // the old wildcard listener still listens
                    roundTrip(s, 8);
                }
                assertEquals(1, successor.stats().accepted(), "the exact address wins over the wildcard");
                proxy.vip.drainListeners();
                awaitTrue("the drained listener closed", () -> !proxy.vip.listening());
                try (Socket s = connect(loopback)) {
                    roundTrip(s, 9);
                }
                assertEquals(0, proxy.vip.stats().accepted());
            } finally {
                successor.stopAccepting();
                successor.closeConnections();
            }
        }
    }

    /** A VIP removed and added again (or moved away and back) while its old listeners drain binds beside them. */
    @Test
    void theSameAddressBindsBesideListenersThatStillDrain() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("again").backend(echo).workers(1).transport(Transport.epoll())
                     .start();
             Socket open = connect(proxy.address())) {
            roundTrip(open, 1);
            VipConfig same = ProxyFixture.spec("again").backend(echo).workers(1).listen(proxy.address()).toConfig();
            // The open connection keeps the retired forwarder; its listener drains for 200 ms at least, in which the
            // exclusive-bind check of a plain start() would fail ("Address already in use").
            proxy.vip.drainListeners();
            TcpProxyVip again = new TcpProxyVip(same, proxy.snapshots, proxy.group, Transport.epoll(),
                    TcpProxyOptions.defaults());
            again.startBeside(proxy.vip);
            try {
                try (Socket s = connect(proxy.address())) { // a SYN hashed to the draining one comes again in 1 s
                    roundTrip(s, 2);
                }
                assertEquals(1, again.stats().accepted());
                roundTrip(open, 3);
            } finally {
                again.stopAccepting();
                again.closeConnections();
            }
        }
    }

    @Test
    void overlapIsTheSamePortWithAWildcardThatCoversTheOther() throws Exception {
        InetAddress any4 = InetAddress.getByName("0.0.0.0");
        InetAddress any6 = InetAddress.getByName("::");
        InetAddress lo4 = InetAddress.getByName("127.0.0.1");
        InetAddress lo6 = InetAddress.getByName("::1");
        assertTrue(TcpProxyVip.overlaps(at(any4, 80), at(lo4, 80)));
        assertTrue(TcpProxyVip.overlaps(at(lo4, 80), at(any4, 80)));
        assertTrue(TcpProxyVip.overlaps(at(any6, 80), at(lo4, 80)));
        assertTrue(TcpProxyVip.overlaps(at(any6, 80), at(lo6, 80)));
        assertFalse(TcpProxyVip.overlaps(at(any4, 80), at(lo6, 80)), "an IPv4 wildcard does not cover IPv6");
        assertFalse(TcpProxyVip.overlaps(at(any4, 80), at(lo4, 81)), "another port");
        assertFalse(TcpProxyVip.overlaps(at(lo4, 80), at(InetAddress.getByName("127.0.0.2"), 80)));
        assertFalse(TcpProxyVip.overlaps(at(any4, 80), at(any6, 80)));
    }

    private static InetSocketAddress at(InetAddress a, int port) {
        return new InetSocketAddress(a, port);
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(Clients.TIMEOUT_MS);
        s.connect(address, Clients.TIMEOUT_MS);
        return s;
    }

    private static void roundTrip(Socket s, int b) throws IOException {
        s.getOutputStream().write(b);
        assertEquals(b, s.getInputStream().read());
    }
}
