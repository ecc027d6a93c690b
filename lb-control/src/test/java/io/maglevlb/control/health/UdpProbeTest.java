package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.maglevlb.core.config.UdpPayload;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The udp probe against real UDP sockets on loopback, on both transports the health loop may use. The probe
 * ends by itself (reply, ICMP error or its own timeout); the test's bound of 10 s only stops a hung test.
 */
class UdpProbeTest {
    private static final Duration TIMEOUT = Duration.ofMillis(300);

    enum Transport { EPOLL, NIO }

    private EventLoopGroup group;

    @AfterEach
    void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5000);
        }
    }

    private Class<? extends DatagramChannel> start(Transport transport) {
        if (transport == Transport.EPOLL) {
            assumeTrue(Epoll.isAvailable(), () -> "epoll unavailable: " + Epoll.unavailabilityCause());
            group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            return EpollDatagramChannel.class;
        }
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        return NioDatagramChannel.class;
    }

    private static HealthCheckConfig udp(String send, String expect) {
        return new HealthCheckConfig(HealthCheckType.UDP, Duration.ofSeconds(1), TIMEOUT, 2, 3, "/", 200, 399,
                send == null ? HealthCheckConfig.DEFAULT_SEND : UdpPayload.parse(send),
                Optional.ofNullable(expect).map(UdpPayload::parse));
    }

    private CheckOutcome probe(Transport transport, InetSocketAddress backend, HealthCheckConfig check)
            throws Exception {
        Class<? extends DatagramChannel> channelClass = start(transport);
        return UdpProbe.run(group.next(), channelClass, new HealthTarget("dns", "d1", backend, check))
                .get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void echoingBackendIsUpAndGetsTheDefaultDatagram(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.echo()) {
            CheckOutcome o = probe(transport, backend.address(), udp(null, null));
            assertEquals(CheckResult.SUCCESS, o.result(), o::toString);
            assertEquals("reply of 20 bytes", o.detail());
            assertArrayEquals("maglevd health check".getBytes(StandardCharsets.US_ASCII),
                    backend.received().getFirst());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void replyThatStartsWithTheExpectedBytesMatches(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.answering("PONG from d1".getBytes(StandardCharsets.UTF_8))) {
            CheckOutcome o = probe(transport, backend.address(), udp("PING", "PONG"));
            assertEquals(CheckResult.SUCCESS, o.result(), o::toString);
            assertEquals("reply matches", o.detail());
            assertArrayEquals("PING".getBytes(StandardCharsets.UTF_8), backend.received().getFirst());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void closedPortIsDownByIcmpPortUnreachable(Transport transport) throws Exception {
        InetSocketAddress closed;
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.echo()) {
            closed = backend.address();
        }
        // With or without an expected reply: the ICMP error decides, before the timeout.
        for (String expect : new String[] {null, "x"}) {
            CheckOutcome o = probe(transport, closed, udp(null, expect));
            assertEquals(CheckResult.FAILURE, o.result(), o::toString);
            assertEquals("ICMP port unreachable", o.detail());
            stop();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void replyThatDoesNotMatchIsDown(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.answering("SERVFAIL".getBytes(StandardCharsets.UTF_8))) {
            CheckOutcome o = probe(transport, backend.address(), udp("PING", "PONG"));
            assertEquals(CheckResult.FAILURE, o.result(), o::toString);
            assertEquals("reply of 8 bytes does not start with the expected 4 bytes", o.detail());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void replyShorterThanTheExpectedBytesDoesNotMatch(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.answering("PO".getBytes(StandardCharsets.UTF_8))) {
            CheckOutcome o = probe(transport, backend.address(), udp("PING", "PONG"));
            assertEquals(CheckResult.FAILURE, o.result(), o::toString);
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void silentBackendWithExpectIsDownOnTimeout(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.silent()) {
            CheckOutcome o = probe(transport, backend.address(), udp("PING", "PONG"));
            assertEquals(CheckResult.TIMEOUT, o.result(), o::toString);
            assertEquals("no reply within 300 ms", o.detail());
            assertEquals(1, backend.received().size(), "the backend got the datagram and said nothing");
            assertTrue(o.durationNs() >= TIMEOUT.toNanos(), "ended by the timeout, not before");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void silentBackendWithoutExpectIsUp(Transport transport) throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.silent()) {
            CheckOutcome o = probe(transport, backend.address(), udp(null, null));
            assertEquals(CheckResult.SUCCESS, o.result(), o::toString);
            assertEquals("no ICMP error within 300 ms", o.detail());
            assertEquals(1, backend.received().size());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void hexPayloadIsSentVerbatimAndMatchedBytewise(Transport transport) throws Exception {
        byte[] answer = {(byte) 0x81, (byte) 0x80, 0, 1};
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.answering(answer)) {
            CheckOutcome o = probe(transport, backend.address(), udp("hex: 00 ff 0a", "hex: 81 80"));
            assertEquals(CheckResult.SUCCESS, o.result(), o::toString);
            assertArrayEquals(new byte[] {0, (byte) 0xff, 0x0a}, backend.received().getFirst());
        }
    }

    @Test
    void icmpErrorsAreBackendFailuresAndResourceShortagesLocalErrors() {
        long now = System.nanoTime();
        assertEquals(CheckResult.FAILURE, UdpProbe.classify(new PortUnreachableException("recvAddress(..) failed: "
                + "Connection refused"), now).result());
        assertEquals("ICMP host unreachable",
                UdpProbe.classify(new NoRouteToHostException("No route to host"), now).detail());
        assertEquals(CheckResult.LOCAL_ERROR,
                UdpProbe.classify(new SocketException("sendToAddress(..) failed: No buffer space available"), now)
                        .result());
        assertEquals(CheckResult.LOCAL_ERROR,
                UdpProbe.classify(new IOException("newSocketDgram(..) failed: Too many open files"), now).result());
        assertEquals(CheckResult.LOCAL_ERROR,
                UdpProbe.classify(new SocketException("Cannot assign requested address"), now).result());
    }
}
