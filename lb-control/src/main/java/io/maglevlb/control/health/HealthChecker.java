package io.maglevlb.control.health;

import static com.google.common.base.Preconditions.checkArgument;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks backends on a schedule and reports up/down transitions to a {@link HealthListener}.
 *
 * <p><b>Design.</b> All checks run on one event loop of their own (one thread; epoll when available, else
 * NIO), never on a forwarding loop: a saturated dataplane cannot delay a verdict, and a slow check cannot
 * stall forwarding. Each check opens its own socket straight to the backend, bypassing the dataplane, so
 * the dataplane's connection limits do not apply to it. What the dataplane can still exhaust is shared by
 * the whole process: file descriptors and ephemeral ports. A check that fails for such a local reason is
 * counted as {@link CheckResult#LOCAL_ERROR} and moves neither rise nor fall, so descriptor exhaustion
 * cannot mark every backend down at once. The checker itself holds at most {@code maxConcurrentChecks}
 * sockets; a check due while at that bound waits (first come, first served) for a free slot instead of
 * failing.
 *
 * <p><b>Schedule.</b> A backend's first check starts after a random 0..10% of its interval; each next one
 * starts {@code interval + random 0..10% of interval} after the previous one started (or at once when the
 * previous one took longer). The jitter keeps checks of many backends, started together by a reload, from
 * staying in step.
 *
 * <p><b>Passive signal.</b> {@link #suspect} lets evidence from outside the checks (the UDP dataplane's ICMP
 * unreachable count, sampled by the control plane) bring a backend's next check forward; a failure of that
 * check takes the backend down at once. The checker decides; the caller only reports what it saw.
 *
 * <p><b>Threading.</b> {@link #watch}, {@link #unwatch} and {@link #close} may be called from any thread;
 * they hand their work to the health loop. Transitions are delivered on {@code listenerExecutor} (the
 * daemon's control thread), in the order they happened for any one backend.
 */
public final class HealthChecker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HealthChecker.class);

    public static final int DEFAULT_MAX_CONCURRENT_CHECKS = 256;
    /** Jitter as a fraction of the interval: each check is delayed by up to interval / JITTER_DIVISOR. */
    public static final int JITTER_DIVISOR = 10;

    private final ControlEventLoop loops;
    private final EventLoop loop;
    private final HealthListener listener;
    private final Executor listenerExecutor;
    private final int maxConcurrentChecks;
    private final ConcurrentHashMap<Key, BackendHealth> watches = new ConcurrentHashMap<>();
    private volatile boolean closed;

    // Health loop only.
    private int checksInFlight;
    // Checks that came due while at the bound, in the order they came: run as soon as a slot frees, so a
    // backend whose check just ended (and is due again at once) cannot starve the others.
    private final ArrayDeque<BackendHealth> waiting = new ArrayDeque<>();
    private long lastLocalErrorLogNs;

    private record Key(String vip, String backend) {}

    public HealthChecker(HealthListener listener, Executor listenerExecutor) {
        this(listener, listenerExecutor, DEFAULT_MAX_CONCURRENT_CHECKS);
    }

    public HealthChecker(HealthListener listener, Executor listenerExecutor, int maxConcurrentChecks) {
        checkArgument(maxConcurrentChecks >= 1, "maxConcurrentChecks must be >= 1, was %s", maxConcurrentChecks);
        this.listener = Objects.requireNonNull(listener, "listener");
        this.listenerExecutor = Objects.requireNonNull(listenerExecutor, "listenerExecutor");
        this.maxConcurrentChecks = maxConcurrentChecks;
        this.loops = new ControlEventLoop(1, "maglev-health");
        this.loop = loops.group().next();
    }

    /**
     * Starts checking {@code target}, replacing any watch of the same (vip, backend). A type {@code none}
     * check is always up and schedules nothing.
     *
     * @param initial the state to start in: {@link InitialState#PROVISIONALLY_UP} for a new backend, or
     *     the state of the watch being replaced (keep health across a reload)
     * @return the new watch; its identity tells its transitions apart from those of the watch it replaced
     */
    public BackendHealth watch(HealthTarget target, InitialState initial) {
        checkOpen();
        validate(target.check());
        BackendHealth health = new BackendHealth(target, initial);
        BackendHealth old = watches.put(new Key(target.vip(), target.backend()), health);
        loop.execute(() -> {
            if (old != null) {
                stop(old);
            }
            if (target.check().type() != HealthCheckType.NONE && !health.stopped) {
                long intervalNs = target.check().interval().toNanos();
                schedule(health, firstDelayNs(intervalNs, ThreadLocalRandom.current()));
            }
        });
        return health;
    }

    /** Stops checking a backend. No transition of it is delivered after the health loop has processed this. */
    public void unwatch(String vip, String backend) {
        BackendHealth old = watches.remove(new Key(vip, backend));
        if (old != null) {
            loop.execute(() -> stop(old));
        }
    }

    /** Stops checking every backend of {@code vip}. */
    public void unwatchVip(String vip) {
        for (Key key : new ArrayList<>(watches.keySet())) {
            if (key.vip().equals(vip)) {
                unwatch(key.vip(), key.backend());
            }
        }
    }

    /**
     * A passive signal: something other than the checks (the UDP dataplane's count of ICMP unreachable
     * errors toward the backend) suggests that {@code backend} is down. If it is up, it is checked now
     * instead of at its next scheduled time, and if that check fails (failure or timeout) it goes down at
     * once, not after {@code fall} failures: the signal and the check are two independent witnesses. Only a
     * check that starts after the signal can confirm it: a check waiting for a slot serves; one already in
     * flight counts as usual and a new check follows it at once. A successful or local-error check changes
     * nothing, so a stale or local signal (the dataplane counts failed sends too) cannot take a backend down
     * by itself.
     *
     * <p>Bounded: at most one such check per backend per {@code interval}; ignored while the backend is down
     * (coming back still takes {@code rise} scheduled successes), for type none, and for unknown backends.
     * Any thread.
     *
     * @param evidence what was seen, the start of the transition's reason, e.g. {@code "2 ICMP unreachable
     *     errors from the dataplane"}
     */
    public void suspect(String vip, String backend, String evidence) {
        Objects.requireNonNull(evidence, "evidence");
        BackendHealth health = watches.get(new Key(vip, backend));
        if (health == null || closed) {
            return;
        }
        try {
            loop.execute(() -> onSuspect(health, evidence));
        } catch (RejectedExecutionException e) {
            log.debug("passive signal not handled, health loop shut down: {}/{}", vip, backend);
        }
    }

    /** The current watch of a backend, if any. */
    public Optional<BackendHealth> health(String vip, String backend) {
        return Optional.ofNullable(watches.get(new Key(vip, backend)));
    }

    /** All current watches, in no particular order. */
    public Collection<BackendHealth> watches() {
        return List.copyOf(watches.values());
    }

    /** Stops every check and the health event loop. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (BackendHealth h : watches.values()) {
            loop.execute(() -> stop(h));
        }
        watches.clear();
        loops.shutdown(2000);
    }

    /** Delay before a backend's first check: a random 0..interval/10, so a reload's checks spread out. */
    public static long firstDelayNs(long intervalNs, RandomGenerator random) {
        return random.nextLong(intervalNs / JITTER_DIVISOR + 1);
    }

    /** Time from one check's start to the next one's: interval plus a random 0..interval/10. */
    public static long periodNs(long intervalNs, RandomGenerator random) {
        return intervalNs + random.nextLong(intervalNs / JITTER_DIVISOR + 1);
    }

    private static void validate(HealthCheckConfig check) {
        if (check.type() == HealthCheckType.NONE) {
            return;
        }
        checkArgument(check.interval().toNanos() > 0, "health check interval must be > 0, was %s", check.interval());
        checkArgument(check.timeout().toNanos() > 0, "health check timeout must be > 0, was %s", check.timeout());
        checkArgument(check.rise() >= 1 && check.fall() >= 1, "rise and fall must be >= 1");
        if (check.type() == HealthCheckType.HTTP) {
            String path = check.path();
            checkArgument(path != null && path.startsWith("/") && path.chars().noneMatch(c -> c <= ' ' || c == 127),
                    "http health check path must start with '/' and contain no spaces or control characters: %s",
                    path);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("health checker is closed");
        }
    }

    // ---- health loop only ----

    private void stop(BackendHealth health) {
        health.stopped = true;
        waiting.remove(health);
        if (health.nextCheck != null) {
            health.nextCheck.cancel(false);
            health.nextCheck = null;
        }
    }

    private void schedule(BackendHealth health, long delayNs) {
        if (health.stopped || loop.isShuttingDown()) {
            return;
        }
        health.nextCheck = loop.schedule(() -> runCheck(health), Math.max(0, delayNs), TimeUnit.NANOSECONDS);
    }

    private void runCheck(BackendHealth health) {
        health.nextCheck = null;
        if (health.stopped) {
            return;
        }
        if (checksInFlight >= maxConcurrentChecks) {
            health.countDeferred();
            waiting.add(health);
            return;
        }
        startCheck(health);
    }

    private void onSuspect(BackendHealth health, String evidence) {
        if (health.stopped || !health.isUp() || health.target().check().type() == HealthCheckType.NONE
                || health.suspicion != null) {
            return;
        }
        long now = System.nanoTime();
        if (health.lastPassiveCheckNs != 0
                && now - health.lastPassiveCheckNs < health.target().check().interval().toNanos()) {
            return;
        }
        health.lastPassiveCheckNs = now;
        health.suspicion = evidence;
        health.suspicionNs = now;
        health.countPassiveCheck();
        log.debug("{}/{}: {}; checking now", health.target().vip(), health.target().backend(), evidence);
        if (health.checkInFlight || waiting.contains(health)) {
            // A waiting check starts after this and confirms or clears it; one in flight started before,
            // so it cannot (it may have been sent before the backend died): onOutcome starts another.
            return;
        }
        if (health.nextCheck != null) {
            health.nextCheck.cancel(false);
        }
        runCheck(health);
    }

    private void startCheck(BackendHealth health) {
        checksInFlight++;
        health.checkInFlight = true;
        health.checkStartNs = System.nanoTime();
        Future<CheckOutcome> result = health.target().check().type() == HealthCheckType.UDP
                ? UdpProbe.run(loop, loops.datagramChannelClass(), health.target())
                : Probe.run(loop, loops.socketChannelClass(), health.target());
        result.addListener(f -> {
            checksInFlight--;
            health.checkInFlight = false;
            CheckOutcome outcome = f.isSuccess()
                    ? (CheckOutcome) f.getNow()
                    : Probe.classify(f.cause(), health.checkStartNs);
            ProbeRoute route = health.target().route();
            if (route != null) {
                outcome = route.explain(outcome);
            }
            onOutcome(health, outcome);
            startWaiting();
        });
    }

    /** Starts checks that waited for a free slot, oldest first. */
    private void startWaiting() {
        while (checksInFlight < maxConcurrentChecks && !waiting.isEmpty()) {
            BackendHealth next = waiting.poll();
            if (!next.stopped) {
                startCheck(next);
            }
        }
    }

    private void onOutcome(BackendHealth health, CheckOutcome outcome) {
        if (health.stopped) {
            return;
        }
        if (outcome.result() == CheckResult.LOCAL_ERROR) {
            logLocalError(health, outcome);
        }
        String suspicion = null;
        boolean confirmNext = false;
        if (health.suspicion != null) {
            if (health.checkStartNs - health.suspicionNs >= 0) {
                suspicion = health.suspicion;
                health.suspicion = null;
            } else {
                confirmNext = true; // this check started before the signal: it neither confirms nor clears it
            }
        }
        String reason = health.record(outcome, suspicion);
        if (reason != null) {
            HealthTransition transition = new HealthTransition(health, health.isUp(), reason);
            log.debug("{}/{} {}: {}", health.target().vip(), health.target().backend(),
                    transition.up() ? "up" : "down", reason);
            deliver(transition);
        }
        if (confirmNext) {
            if (health.isUp()) {
                runCheck(health);
                return;
            }
            health.suspicion = null;
        }
        long intervalNs = health.target().check().interval().toNanos();
        long elapsedNs = System.nanoTime() - health.checkStartNs;
        schedule(health, periodNs(intervalNs, ThreadLocalRandom.current()) - elapsedNs);
    }

    private void deliver(HealthTransition transition) {
        try {
            listenerExecutor.execute(() -> listener.onTransition(transition));
        } catch (RejectedExecutionException e) {
            log.debug("transition not delivered, control executor shut down: {}", transition);
        }
    }

    private void logLocalError(BackendHealth health, CheckOutcome outcome) {
        long now = System.nanoTime();
        if (lastLocalErrorLogNs == 0 || now - lastLocalErrorLogNs > TimeUnit.SECONDS.toNanos(10)) {
            lastLocalErrorLogNs = now;
            log.warn("health check of {}/{} could not run ({}); not counted against the backend",
                    health.target().vip(), health.target().backend(), outcome.detail());
        }
    }
}
