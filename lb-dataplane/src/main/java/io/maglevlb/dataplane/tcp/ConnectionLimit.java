package io.maglevlb.dataplane.tcp;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A VIP's {@code max_connections}: above the limit the VIP stops accepting (its listeners stop reading, so new
 * connections wait in the kernel's accept queue) instead of accepting and closing, and resumes when a
 * connection closes.
 *
 * <p><b>Design.</b> {@link #open} counts accepted connections that are not closed yet: one atomic increment
 * per accept and one decrement per close, whatever the limit. Below {@code max - 1} nothing else happens.
 * Near the limit the slow path takes this object's lock to (a) pause or resume the listeners and (b) decide
 * whether a connection may be served. Listeners live on several event loops, so in the instant the limit is
 * reached another loop may already have accepted one more connection; that connection is <em>parked</em>:
 * accepted by the kernel and by us but not read or forwarded until a slot frees, exactly as if it were still
 * in the accept queue. So the number of connections being forwarded never exceeds the limit, and at most
 * (event loops - 1) connections are ever parked: a listener checks {@link #full()} (one volatile read) before each
 * accept, and accepts only when it read {@code open < max}. While the count is at or above {@code max} only
 * listeners that checked before it got there can still accept, at most one per loop, and the one whose accept
 * took the count to {@code max} was served, so at most {@code loops - 1} connections wait for a slot. Pausing the
 * listeners alone is not enough: a pause reaches another loop's listener as a task, after that loop finished its
 * readiness event, and a raw listener accepts up to 64 connections per event (80 clients against a limit of
 * 50 parked 30).
 *
 * <p>One exception: a listener that drains after a reload retired its forwarder ({@link RawListener}) accepts its
 * whole queue past the limit, so a retired forwarder may park up to a listen backlog per loop; they are served, one
 * freed slot at a time, instead of being reset when the listener closes.
 *
 * <p>Under the lock, "served" is estimated as {@code open - parked}: connections that were counted but have
 * not reached the lock yet count as served, which can only delay a parked connection until that thread takes
 * the lock itself and decides again; it never lets more than {@code max} through.
 */
final class ConnectionLimit {
    /** Switches a VIP's listeners between accepting and not. Called under the limit's lock. */
    interface AcceptSwitch {
        void setAccepting(boolean accepting);
    }

    private final int max;
    private final AcceptSwitch acceptSwitch;
    private final AtomicInteger open = new AtomicInteger();
    // Guarded by this.
    private final ArrayDeque<ProxiedConnection> parked = new ArrayDeque<>();
    // Guarded by this; volatile for listeners that read it when they apply a switch (see accepting()).
    private volatile boolean paused;

    /** @param max connections forwarded at most; 0 = unlimited */
    ConnectionLimit(int max, AcceptSwitch acceptSwitch) {
        if (max < 0) {
            throw new IllegalArgumentException("max_connections must be >= 0, was " + max);
        }
        this.max = max;
        this.acceptSwitch = acceptSwitch;
    }

    /**
     * Counts a newly accepted connection. On its event loop.
     *
     * @return true when it may be forwarded now; false when it was parked, in which case
     *     {@link ProxiedConnection#startAfterPark()} is later run on its event loop
     */
    boolean admit(ProxiedConnection c) {
        int n = open.incrementAndGet();
        if (max == 0 || n < max) {
            return true;
        }
        synchronized (this) {
            updateAccepting();
            if (open.get() - parked.size() <= max) {
                return true;
            }
            c.everParked = true;
            c.parked = true;
            parked.addLast(c);
            return false;
        }
    }

    /** Uncounts a closed connection (served or parked). On its event loop. */
    void release(ProxiedConnection c) {
        if (c.everParked) {
            synchronized (this) {
                if (c.parked) {
                    c.parked = false;
                    parked.remove(c);
                }
            }
        }
        int n = open.decrementAndGet();
        if (max > 0 && n >= max - 1) {
            synchronized (this) {
                while (!parked.isEmpty() && open.get() - parked.size() < max) {
                    ProxiedConnection next = parked.pollFirst();
                    next.parked = false;
                    next.eventLoop().execute(next::startAfterPark);
                }
                updateAccepting();
            }
        }
    }

    /**
     * Whether a listener must not accept now: the count is at or above the limit. Any thread; one volatile read,
     * and always false without a limit.
     */
    boolean full() {
        return max > 0 && open.get() >= max;
    }

    /**
     * Whether the listeners should accept, as last switched. A listener reads it when it applies a switch, so a
     * switch that arrives late (as a task on its loop) applies the current state, never a stale one.
     */
    boolean accepting() {
        return !paused;
    }

    /**
     * A listener found the limit {@link #full()} before accepting: pauses the listeners if the count is still at
     * the limit (else nothing). The listener then reads {@link #accepting()}. On an event loop.
     */
    void pauseIfFull() {
        synchronized (this) {
            updateAccepting();
        }
    }

    /** Accepted connections not yet closed, including parked ones. */
    int open() {
        return open.get();
    }

    /** Connections accepted but waiting for a slot. */
    synchronized int parked() {
        return parked.size();
    }

    // Holds the lock.
    private void updateAccepting() {
        boolean pause = open.get() >= max;
        if (pause != paused) {
            paused = pause;
            acceptSwitch.setAccepting(!pause);
        }
    }
}
