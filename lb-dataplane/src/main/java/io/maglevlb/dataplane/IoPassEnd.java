package io.maglevlb.dataplane;

import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work deferred to the end of an event loop's current pass over its ready descriptors: after Netty's epoll handler
 * has handled every descriptor one {@code epoll_wait} reported, and before the loop runs its tasks and waits again.
 * A forwarder that gathers output from several descriptors of one pass (the UDP forwarder's replies from many
 * flows' sockets, all leaving through one VIP socket) sends it once here, in one system call, instead of once per
 * descriptor.
 *
 * <p>One per event loop whose I/O handler is this project's epoll handler ({@link EpollEmptyInterestWorkaround});
 * {@link #current()} finds it from the loop's own thread. Loops with another handler (NIO, or a group made without
 * {@link Transport#ioHandlerFactory()}) have none, and their users do the work at once instead.
 *
 * <p><b>Threading.</b> Loop thread only: {@link #request} from handlers of the pass, {@link #run} by the I/O handler.
 * Nothing is allocated per pass: requests go into an array that grows only when more users wait in one pass than
 * ever before.
 */
public final class IoPassEnd {
    /** Something to run once at the end of the current pass. */
    public interface Listener {
        /** On the loop, after the pass that {@link #request}ed it. */
        void ioPassEnded();
    }

    private static final Logger log = LoggerFactory.getLogger(IoPassEnd.class);
    private static final ThreadLocal<IoPassEnd> CURRENT = new ThreadLocal<>();

    private Listener[] requested = new Listener[4];
    private int count;
    /** Sleep after the current pass ({@link #pauseAfterPass}); 0: none. */
    private long pauseNs;

    IoPassEnd() {
    }

    /** On an event loop's thread: that loop's pass end, or null when its I/O handler has none. */
    public static IoPassEnd current() {
        return CURRENT.get();
    }

    /** Called by the I/O handler on its loop's thread before the first pass. */
    void bindToCurrentThread() {
        CURRENT.set(this);
    }

    /** Called by the I/O handler on its loop's thread when the loop ends. */
    void unbindFromCurrentThread() {
        if (CURRENT.get() == this) {
            CURRENT.remove();
        }
    }

    /**
     * Runs {@code listener} once at the end of the current pass. The caller asks at most once per pass (it keeps a
     * flag of its own), so nothing here checks for duplicates.
     */
    public void request(Listener listener) {
        if (count == requested.length) {
            requested = Arrays.copyOf(requested, count * 2);
        }
        requested[count++] = listener;
    }

    /** Called by the I/O handler after each pass: runs every requested listener once, in request order. */
    void run() {
        // A listener that requests again while running is run again in this same call (the count grows).
        for (int i = 0; i < count; i++) {
            Listener listener = requested[i];
            requested[i] = null;
            try {
                listener.ioPassEnded();
            } catch (RuntimeException e) { // a bug; the other listeners must still run, or their work would wait
                log.error("end of I/O pass: {} failed", listener, e);
            }
        }
        count = 0;
        if (pauseNs > 0) {
            long ns = pauseNs;
            pauseNs = 0;
            LockSupport.parkNanos(ns);
        }
    }

    /**
     * Makes the loop sleep {@code ns} after this pass (after every listener ran), before it runs its tasks and
     * waits on epoll again; the longest pause asked for in a pass wins. For a user that finds each pass moving too
     * little to pay for its system calls: the sockets fill meanwhile, and the next pass moves more per call. The
     * sleep is a timed park (the kernel's timer slack, 50 µs by default, may lengthen it); the loop's tasks and
     * every other descriptor of the loop wait for it too.
     */
    public void pauseAfterPass(long ns) {
        pauseNs = Math.max(pauseNs, ns);
    }
}
