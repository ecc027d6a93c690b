package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.control.health.LoopbackServer.Ending;
import io.maglevlb.control.health.LoopbackServer.Mode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * How a tcp or http check ends: with a reset once its verdict is known, so that maglevd keeps no TIME_WAIT socket
 * per check (docs/reliability.md, ephemeral-ports), without changing any verdict. Real sockets on loopback, on
 * both transports the health loop may use.
 *
 * <p>The backends here keep each connection until the client ends it, as a server that reads to EOF does: a
 * check that closed with a FIN would close first and so, once the backend's FIN came back, hold a TIME_WAIT
 * socket for 60 s. With {@code Probe.closeWithReset} reduced to a plain {@code channel.close()}, the tcp and the
 * http case fail on both transports: 20 TIME_WAIT sockets toward the backend after 20 checks.
 */
class ProbeCloseTest {
    private static final int CHECKS = 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    /** TCP_TIME_WAIT in /proc/net/tcp{,6}'s {@code st} column. */
    private static final String TIME_WAIT = "06";

    enum Transport { EPOLL, NIO }

    private EventLoopGroup group;

    @AfterEach
    void stop() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5000);
            group = null;
        }
    }

    private Class<? extends SocketChannel> start(Transport transport) {
        if (transport == Transport.EPOLL) {
            assumeTrue(Epoll.isAvailable(), () -> "epoll unavailable: " + Epoll.unavailabilityCause());
            group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            return EpollSocketChannel.class;
        }
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        return NioSocketChannel.class;
    }

    private static HealthCheckConfig check(HealthCheckType type) {
        return new HealthCheckConfig(type, Duration.ofSeconds(10), TIMEOUT, 2, 3, "/healthz", 200, 399);
    }

    /**
     * A loopback address of this JVM's own (127.77.x.y from the pid), so that no other process's sockets toward
     * the same port can be counted: other test JVMs on this machine use 127.0.0.1 and ports of their own.
     */
    private static InetAddress ownLoopbackAddress() throws IOException {
        long pid = ProcessHandle.current().pid();
        return InetAddress.getByAddress(new byte[] {127, 77, (byte) (pid >> 8), (byte) Math.max(1, pid & 0xff)});
    }

    private CheckOutcome probe(Class<? extends SocketChannel> channelClass, InetSocketAddress backend,
            HealthCheckConfig check) throws Exception {
        return Probe.run(group.next(), channelClass, new HealthTarget("web", "b1", backend, check))
                .get(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void tcpChecksLeaveNoTimeWaitSocketOnTheCheckingSide(Transport transport) throws Exception {
        runChecksAndCountTimeWait(transport, HealthCheckType.TCP, Mode.HOLD_UNTIL_CLIENT_CLOSES);
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void httpChecksLeaveNoTimeWaitSocketOnTheCheckingSide(Transport transport) throws Exception {
        runChecksAndCountTimeWait(transport, HealthCheckType.HTTP, Mode.HTTP_STATUS_UNTIL_CLIENT_CLOSES);
    }

    private void runChecksAndCountTimeWait(Transport transport, HealthCheckType type, Mode mode) throws Exception {
        Class<? extends SocketChannel> channelClass = start(transport);
        try (LoopbackServer backend = LoopbackServer.on(ownLoopbackAddress(), mode, 200)) {
            List<CheckOutcome> outcomes = new ArrayList<>();
            for (int i = 0; i < CHECKS; i++) {
                outcomes.add(probe(channelClass, backend.address(), check(type)));
            }
            for (CheckOutcome o : outcomes) {
                assertEquals(CheckResult.SUCCESS, o.result(), "our own reset is no failure: " + o);
            }
            // Every connection over, as the backend saw it: without the reset, its FIN has now put ours in
            // TIME_WAIT (a loopback segment is processed before the backend's close() returns).
            await(() -> backend.endings().size() >= CHECKS, "the backend to see " + CHECKS + " connections end");
            assertEquals(0, timeWaitSocketsToward(backend.address()),
                    "TIME_WAIT sockets toward " + backend.address() + " after " + CHECKS + " checks");
            assertEquals(List.of(Ending.RESET), backend.endings().stream().distinct().toList(),
                    "the backend sees each check end with a reset");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aResetFromTheBackendBeforeTheStatusLineIsStillItsFailure(Transport transport) throws Exception {
        Class<? extends SocketChannel> channelClass = start(transport);
        try (LoopbackServer backend = LoopbackServer.on(ownLoopbackAddress(), Mode.RESET_AFTER_REQUEST, 0)) {
            CheckOutcome o = probe(channelClass, backend.address(), check(HealthCheckType.HTTP));
            assertEquals(CheckResult.FAILURE, o.result(), o.toString());
            String detail = o.detail().toLowerCase(Locale.ROOT);
            assertTrue(detail.contains("reset"), o.detail());
        }
    }

    /** Sockets in TIME_WAIT whose remote end is {@code remote} (IPv4, also as ::ffff:a.b.c.d in tcp6). */
    static int timeWaitSocketsToward(InetSocketAddress remote) throws IOException {
        byte[] a = remote.getAddress().getAddress();
        // /proc/net/tcp prints the address as the host-order hex of the network-order word (little-endian x86,
        // aarch64: bytes reversed) and the port as big-endian hex.
        String v4 = String.format("%02X%02X%02X%02X", a[3], a[2], a[1], a[0]);
        String port = String.format("%04X", remote.getPort());
        int count = 0;
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path path = Path.of(table);
            if (!Files.exists(path)) {
                continue;
            }
            List<String> lines = Files.readAllLines(path);
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                String rem = f[2];
                String st = f[3];
                boolean toRemote = rem.equals(v4 + ":" + port)
                        || rem.equals("0000000000000000FFFF0000" + v4 + ":" + port);
                if (toRemote && st.equals(TIME_WAIT)) {
                    count++;
                }
            }
        }
        return count;
    }

    private static void await(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }
}
