package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Health checks against real servers on loopback. Time bounds are generous: they only stop a hung test. */
class HealthCheckerTest {
    private static final Duration INTERVAL = Duration.ofMillis(100);
    private static final Duration TIMEOUT = Duration.ofMillis(300);
    private static final int RISE = 2;
    private static final int FALL = 3;
    /** interval x max(rise, fall) x 1.1 jitter + timeout + 2 s of slack for a loaded 2-core machine. */
    private static final long VERDICT_BOUND_MS = INTERVAL.toMillis() * FALL * 11 / 10 + TIMEOUT.toMillis() + 2000;

    private final LinkedBlockingQueue<HealthTransition> transitions = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<String> listenerThreads = new LinkedBlockingQueue<>();
    private ExecutorService control;
    private HealthChecker checker;

    @BeforeEach
    void start() {
        control = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-control"));
        checker = new HealthChecker(t -> {
            listenerThreads.add(Thread.currentThread().getName());
            transitions.add(t);
        }, control);
    }

    @AfterEach
    void stop() throws InterruptedException {
        checker.close();
        control.shutdown();
        assertTrue(control.awaitTermination(5, TimeUnit.SECONDS));
    }

    private static HealthCheckConfig tcp() {
        return new HealthCheckConfig(HealthCheckType.TCP, INTERVAL, TIMEOUT, RISE, FALL, "/", 200, 399);
    }

    private static HealthCheckConfig http(String path, int min, int max) {
        return new HealthCheckConfig(HealthCheckType.HTTP, INTERVAL, TIMEOUT, RISE, FALL, path, min, max);
    }

    private BackendHealth watch(String backend, InetSocketAddress address, HealthCheckConfig check,
            InitialState initial) {
        return checker.watch(new HealthTarget("web", backend, address, check), initial);
    }

    private HealthTransition nextTransition(long timeoutMs) throws InterruptedException {
        return transitions.poll(timeoutMs, TimeUnit.MILLISECONDS);
    }

    private static void await(BooleanSupplier condition, long timeoutMs, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void tcpBackendThatStaysUpProducesNoTransition() throws Exception {
        try (LoopbackServer server = LoopbackServer.tcp()) {
            BackendHealth h = watch("a", server.address(), tcp(), InitialState.PROVISIONALLY_UP);
            await(() -> h.checks(CheckResult.SUCCESS) >= 5, 10_000, "5 successful checks");
            assertTrue(h.isUp());
            assertNull(transitions.poll());
            await(() -> server.accepted() >= 5, 10_000, "the server to accept the checks");
            assertTrue(h.checkDurationTotalNs() > 0);
            assertEquals("connected", h.lastOutcome().orElseThrow().detail());
        }
    }

    @Test
    void tcpBackendGoesDownAfterFallFailuresAndComesBackAfterRise() throws Exception {
        LoopbackServer server = LoopbackServer.tcp();
        int port = server.port();
        BackendHealth h = watch("a", server.address(), tcp(), InitialState.PROVISIONALLY_UP);
        await(() -> h.checks(CheckResult.SUCCESS) >= 2, 10_000, "2 successful checks");

        server.close();
        long failuresBefore = h.checks(CheckResult.FAILURE);
        HealthTransition down = nextTransition(VERDICT_BOUND_MS);
        assertNotNull(down, "no down transition within " + VERDICT_BOUND_MS + " ms");
        assertFalse(down.up());
        assertSame(h, down.source());
        assertEquals("web", down.vip());
        assertEquals("a", down.backend());
        assertTrue(down.reason().startsWith(FALL + " consecutive failed checks"), down.reason());
        assertTrue(down.reason().contains("connection refused"), down.reason());
        assertFalse(h.isUp());
        assertTrue(h.checks(CheckResult.FAILURE) - failuresBefore >= FALL);
        assertEquals("test-control", listenerThreads.take());

        try (LoopbackServer back = LoopbackServer.tcpOn(port)) {
            HealthTransition up = nextTransition(VERDICT_BOUND_MS);
            assertNotNull(up, "no up transition");
            assertTrue(up.up());
            assertTrue(up.reason().startsWith(RISE + " consecutive successful checks"), up.reason());
            assertTrue(h.isUp());
            // The check completes at the kernel's handshake; the server's accept() may come a bit later.
            await(() -> back.accepted() >= RISE, 10_000, "the server to accept the checks");
        }
    }

    @Test
    void deadBackendAtStartGoesDownOnItsFirstCheck() throws Exception {
        InetSocketAddress dead;
        try (LoopbackServer server = LoopbackServer.tcp()) {
            dead = server.address();
        }
        BackendHealth h = watch("dead", dead, tcp(), InitialState.PROVISIONALLY_UP);
        assertTrue(h.isUp(), "starts up so a restart does not blackhole a VIP");
        HealthTransition down = nextTransition(INTERVAL.toMillis() + TIMEOUT.toMillis() + 2000);
        assertNotNull(down);
        assertFalse(down.up());
        assertTrue(down.reason().startsWith("first check failed"), down.reason());
        assertEquals(1, h.checks(CheckResult.FAILURE));
    }

    @Test
    void httpCheckSendsAGetWithHostAndConnectionCloseAndAcceptsStatusInRange() throws Exception {
        try (LoopbackServer server = LoopbackServer.http(204)) {
            BackendHealth h = watch("a", server.address(), http("/healthz?deep=1", 200, 299),
                    InitialState.PROVISIONALLY_UP);
            await(() -> h.checks(CheckResult.SUCCESS) >= 3, 10_000, "3 successful http checks");
            assertTrue(h.isUp());
            assertNull(transitions.poll());
            String request = server.requests().getFirst();
            assertTrue(request.startsWith("GET /healthz?deep=1 HTTP/1.1\r\n"), request);
            assertTrue(request.contains("\r\nHost: 127.0.0.1:" + server.port() + "\r\n"), request);
            assertTrue(request.contains("\r\nConnection: close\r\n"), request);
            assertEquals("status 204", h.lastOutcome().orElseThrow().detail());
        }
    }

    @Test
    void httpStatusOutOfRangeTakesTheBackendDownAndBackInRangeBringsItUp() throws Exception {
        try (LoopbackServer server = LoopbackServer.http(200)) {
            BackendHealth h = watch("a", server.address(), http("/", 200, 399), InitialState.PROVISIONALLY_UP);
            await(() -> h.checks(CheckResult.SUCCESS) >= 1, 10_000, "a successful check");
            server.setStatus(500);
            HealthTransition down = nextTransition(VERDICT_BOUND_MS);
            assertNotNull(down);
            assertFalse(down.up());
            assertTrue(down.reason().contains("status 500"), down.reason());
            server.setStatus(302);
            HealthTransition up = nextTransition(VERDICT_BOUND_MS);
            assertNotNull(up);
            assertTrue(up.up());
        }
    }

    @Test
    void httpServerThatNeverAnswersTimesOut() throws Exception {
        try (LoopbackServer server = LoopbackServer.silent()) {
            BackendHealth h = watch("a", server.address(), http("/", 200, 399), InitialState.UP);
            HealthTransition down = nextTransition(
                    (INTERVAL.toMillis() * 11 / 10 + TIMEOUT.toMillis()) * FALL + 2000);
            assertNotNull(down, "no down transition for a silent server");
            assertFalse(down.up());
            assertTrue(h.checks(CheckResult.TIMEOUT) >= FALL);
            assertEquals(CheckResult.TIMEOUT, h.lastOutcome().orElseThrow().result());
            assertTrue(down.reason().contains("no answer within " + TIMEOUT.toMillis() + " ms"), down.reason());
            // The timed-out check's duration is about the timeout, not more than a generous bound.
            long avgMs = h.checkDurationTotalNs() / h.checkCount() / 1_000_000;
            assertTrue(avgMs >= TIMEOUT.toMillis() - 5, "average check " + avgMs + " ms");
        }
    }

    @Test
    void nonHttpAnswerIsAFailure() throws Exception {
        try (LoopbackServer server = LoopbackServer.garbage()) {
            // A 10 s interval: the first check starts within interval/10 = 1 s and the second not before 10 s
            // after it, so the count read below is the one the transition came from, even on a loaded machine
            // (at 100 ms a second check could complete before the assertion).
            Duration interval = Duration.ofSeconds(10);
            HealthCheckConfig slowHttp = new HealthCheckConfig(HealthCheckType.HTTP, interval, TIMEOUT, RISE, FALL,
                    "/", 200, 399);
            BackendHealth h = watch("a", server.address(), slowHttp, InitialState.PROVISIONALLY_UP);
            HealthTransition down = nextTransition(
                    interval.toMillis() / HealthChecker.JITTER_DIVISOR + TIMEOUT.toMillis() + 2000);
            assertNotNull(down);
            assertFalse(down.up());
            assertEquals("first check failed: not an HTTP/1.x status line: SSH-2.0-OpenSSH", down.reason());
            assertEquals(1, h.checks(CheckResult.FAILURE), "down on its first failed check, not after fall");
        }
    }

    @Test
    void udpBackendIsCheckedOverUdpAndGoesDownByIcmpWhenItsPortCloses() throws Exception {
        UdpLoopbackBackend backend = UdpLoopbackBackend.echo();
        HealthCheckConfig udp = new HealthCheckConfig(HealthCheckType.UDP, INTERVAL, TIMEOUT, RISE, FALL, "/", 200,
                399);
        BackendHealth h = watch("a", backend.address(), udp, InitialState.PROVISIONALLY_UP);
        await(() -> h.checks(CheckResult.SUCCESS) >= 2, 10_000, "2 successful udp checks");
        assertTrue(h.isUp());
        assertTrue(backend.received().size() >= 2, "each check sent a datagram");
        assertNull(transitions.poll());

        backend.close();
        HealthTransition down = nextTransition(VERDICT_BOUND_MS);
        assertNotNull(down, "no down transition within " + VERDICT_BOUND_MS + " ms");
        assertFalse(down.up());
        assertTrue(down.reason().startsWith(FALL + " consecutive failed checks, last: ICMP port unreachable"),
                down.reason());
    }

    /** A udp check whose scheduled checks are far apart: only a passive signal can bring one forward. */
    private static HealthCheckConfig slowUdp() {
        return new HealthCheckConfig(HealthCheckType.UDP, Duration.ofSeconds(60), TIMEOUT, RISE, FALL, "/", 200, 399);
    }

    @Test
    void passiveSignalConfirmedByAFailedCheckTakesAnUpBackendDownAtOnce() throws Exception {
        InetSocketAddress dead;
        try (UdpLoopbackBackend gone = UdpLoopbackBackend.echo()) {
            dead = gone.address();
        }
        // Settled up: scheduled checks alone would need FALL failures, 60 s apart.
        BackendHealth h = watch("a", dead, slowUdp(), InitialState.UP);
        checker.suspect("web", "a", "2 ICMP unreachable errors from the dataplane");
        HealthTransition down = nextTransition(10_000);
        assertNotNull(down, "no down transition after the passive signal");
        assertFalse(down.up());
        assertSame(h, down.source());
        assertEquals("2 ICMP unreachable errors from the dataplane, confirmed by an immediate check: "
                + "ICMP port unreachable", down.reason());
        assertTrue(h.checks(CheckResult.FAILURE) < FALL, "down before fall failures");
        assertEquals(1, h.passiveChecks());

    }

    @Test
    void aCheckInFlightWhenTheSignalCameCannotClearItAFreshCheckFollows() throws Exception {
        UdpLoopbackBackend silent = UdpLoopbackBackend.silent();
        // A check lasts its whole 5 s timeout against a silent backend (no reply, no ICMP: success); scheduled
        // checks are 10 s apart, so FALL of them would take 30 s.
        HealthCheckConfig check = new HealthCheckConfig(HealthCheckType.UDP, Duration.ofSeconds(10),
                Duration.ofSeconds(5), RISE, FALL, "/", 200, 399);
        BackendHealth h = watch("a", silent.address(), check, InitialState.UP);
        await(() -> silent.received().size() == 1, 10_000, "the first check's datagram");
        silent.close(); // dies while that check waits: its datagram was taken, so that check will pass
        checker.suspect("web", "a", "1 ICMP unreachable error from the dataplane");
        HealthTransition down = nextTransition(15_000);
        assertNotNull(down, "no down transition");
        assertFalse(down.up());
        assertEquals("1 ICMP unreachable error from the dataplane, confirmed by an immediate check: "
                + "ICMP port unreachable", down.reason(), "a fresh check confirmed it, not fall scheduled failures");
        assertEquals(1, h.checks(CheckResult.SUCCESS), "the check in flight passed");
        assertEquals(1, h.checks(CheckResult.FAILURE), "the fresh check after it failed");
    }

    @Test
    void passiveSignalOnAHealthyBackendRunsOneCheckAndChangesNothing() throws Exception {
        try (UdpLoopbackBackend backend = UdpLoopbackBackend.echo()) {
            BackendHealth h = watch("a", backend.address(), slowUdp(), InitialState.UP);
            String reason = h.lastTransitionReason();
            // Two signals in one interval: one check (the bound keeps a noisy signal from flooding a backend).
            checker.suspect("web", "a", "1 ICMP unreachable error from the dataplane");
            checker.suspect("web", "a", "1 ICMP unreachable error from the dataplane");
            await(() -> h.checks(CheckResult.SUCCESS) >= 1, 10_000, "the confirming check");
            assertTrue(h.isUp());
            assertEquals(reason, h.lastTransitionReason(), "no transition");
            assertEquals(1, h.passiveChecks());
            assertEquals(0, h.checks(CheckResult.FAILURE));
        }
    }

    @Test
    void typeNoneIsAlwaysUpAndNeverConnects() throws Exception {
        try (LoopbackServer server = LoopbackServer.tcp()) {
            HealthCheckConfig none = new HealthCheckConfig(HealthCheckType.NONE, INTERVAL, TIMEOUT, RISE, FALL,
                    "/", 200, 399);
            BackendHealth h = watch("a", server.address(), none, InitialState.DOWN);
            assertTrue(h.isUp());
            Thread.sleep(INTERVAL.toMillis() * 3);
            assertEquals(0, server.accepted());
            assertEquals(0, h.checkCount());
        }
    }

    @Test
    void unwatchStopsChecking() throws Exception {
        try (LoopbackServer server = LoopbackServer.tcp()) {
            BackendHealth h = watch("a", server.address(), tcp(), InitialState.PROVISIONALLY_UP);
            await(() -> h.checks(CheckResult.SUCCESS) >= 2, 10_000, "2 checks");
            checker.unwatch("web", "a");
            assertTrue(checker.health("web", "a").isEmpty());
            Thread.sleep(INTERVAL.toMillis() * 2); // a check already in flight may still land
            int accepted = server.accepted();
            Thread.sleep(INTERVAL.toMillis() * 5);
            assertEquals(accepted, server.accepted());
        }
    }

    @Test
    void replacingAWatchKeepsTheGivenStateAndOnlyTheNewWatchReports() throws Exception {
        InetSocketAddress dead;
        try (LoopbackServer server = LoopbackServer.tcp()) {
            dead = server.address();
        }
        BackendHealth first = watch("a", dead, tcp(), InitialState.PROVISIONALLY_UP);
        HealthTransition down = nextTransition(VERDICT_BOUND_MS);
        assertNotNull(down);
        assertSame(first, down.source());
        try (LoopbackServer server = LoopbackServer.tcp()) {
            // A reload re-addresses the backend and carries its state (down) over.
            BackendHealth second = watch("a", server.address(), tcp(), InitialState.DOWN);
            assertFalse(second.isUp());
            assertSame(second, checker.health("web", "a").orElseThrow());
            HealthTransition up = nextTransition(VERDICT_BOUND_MS);
            assertNotNull(up);
            assertTrue(up.up());
            assertSame(second, up.source());
            assertTrue(up.reason().startsWith(RISE + " consecutive successful"), up.reason());
        }
    }

    @Test
    void withABoundOfOneConcurrentCheckEveryBackendTakesItsTurn() throws Exception {
        checker.close();
        checker = new HealthChecker(transitions::add, control, 1);
        try (LoopbackServer server = LoopbackServer.silent()) {
            // Each check holds the only slot for its whole timeout (longer than the interval), so every
            // backend is due again the moment its check ends: waiting checks must still get their turn.
            List<BackendHealth> all = new ArrayList<>();
            for (String name : List.of("a", "b", "c")) {
                all.add(watch(name, server.address(), http("/", 200, 399), InitialState.UP));
            }
            await(() -> all.stream().allMatch(h -> h.checks(CheckResult.TIMEOUT) >= 2), 20_000,
                    "two checks of every backend");
            assertTrue(all.stream().mapToLong(BackendHealth::deferredChecks).sum() > 0);
        }
    }
}
