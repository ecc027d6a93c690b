package io.maglevlb.control.daemon;

/**
 * A part of the daemon with its own lifecycle that is not the dataplane: health checker, admin API,
 * metrics. Register it with {@link Maglevd#addService} before {@link Maglevd#start()}.
 *
 * <p>Services start after every VIP is bound (so they see the running forwarders through
 * {@link Maglevd#vips()}), in registration order, and stop in reverse order after the forwarders have
 * drained. A service that fails to start fails the daemon's start.
 */
public interface DaemonService {
    /** A short name for logs, e.g. "health checker". */
    String name();

    /** Starts the service; {@code daemon} gives access to the VIPs. Called once, from the starting thread. */
    void start(Maglevd daemon) throws Exception;

    /** Stops the service and releases its threads and sockets. Called once, after a successful start. */
    void stop();

    /**
     * Takeover, old process: a successor process serves now; let go of listening sockets it took over (without
     * closing them for it), keep the rest running until {@link #stop()}. Default: nothing to let go of.
     */
    default void releaseAfterHandover() {
    }
}
