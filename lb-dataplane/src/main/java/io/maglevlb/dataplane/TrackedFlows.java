package io.maglevlb.dataplane;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Gathers the answers of {@link VipForwarder#trackedBackend}'s per-thread lookups. At most one forwarding thread
 * tracks a given flow (the kernel, or the packet fanout, steers every packet of a flow to one thread), so the
 * first id found is the answer.
 */
public final class TrackedFlows {
    /** How long a forwarding thread may take to answer one lookup (it runs between two batches). */
    public static final long ANSWER_TIMEOUT_MS = 5_000;

    private TrackedFlows() {}

    /** One event loop's lookup of the flow from a client address (as {@link AddressBits}) and port; on the loop. */
    @FunctionalInterface
    public interface LoopLookup<L> {
        int backend(L loop, long addressHi, long addressLo, int port);
    }

    /**
     * Asks each of {@code loops} on its own event loop (a task each, so no forwarding state is read off its thread)
     * for the backend of the flow from {@code client}, and gathers the answers as {@link #first} does.
     */
    public static <L> int askEveryLoop(String vip, InetSocketAddress client, List<L> loops,
            Function<L, EventLoop> eventLoop, LoopLookup<L> lookup) {
        byte[] raw = client.getAddress().getAddress();
        long hi = AddressBits.hi(raw);
        long lo = AddressBits.lo(raw);
        int port = client.getPort();
        List<Future<Integer>> answers = new ArrayList<>(loops.size());
        for (L loop : loops) {
            answers.add(eventLoop.apply(loop).submit(() -> lookup.backend(loop, hi, lo, port)));
        }
        return first(vip, answers);
    }

    /**
     * The backend id one of {@code answers} found, or {@link ForwardingSnapshot#NO_BACKEND}.
     *
     * @throws IllegalStateException when a thread did not answer in time or failed
     */
    public static int first(String vip, List<? extends Future<Integer>> answers) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ANSWER_TIMEOUT_MS);
        int found = ForwardingSnapshot.NO_BACKEND;
        for (Future<Integer> answer : answers) {
            int id;
            try {
                id = answer.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("vip " + vip + ": interrupted waiting for the forwarding threads", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("vip " + vip + ": flow lookup failed: " + e.getCause(), e.getCause());
            } catch (TimeoutException e) {
                answer.cancel(false);
                throw new IllegalStateException("vip " + vip + ": a forwarding thread did not answer the flow lookup "
                        + "within " + ANSWER_TIMEOUT_MS + " ms", e);
            }
            if (found == ForwardingSnapshot.NO_BACKEND) {
                found = id;
            }
        }
        return found;
    }
}
