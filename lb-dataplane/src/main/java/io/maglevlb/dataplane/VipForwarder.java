package io.maglevlb.dataplane;

import io.maglevlb.dataplane.handover.HandoverSection;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * The forwarding side of one VIP as the daemon drives it: bind, stop accepting, drain, close. Implemented by
 * the TCP proxy ({@link io.maglevlb.dataplane.tcp.TcpProxyVip}), the UDP forwarder
 * ({@link io.maglevlb.dataplane.udp.UdpForwarder}) and the DSR packet engine
 * ({@link io.maglevlb.dataplane.packet.DsrVip}). The control plane drives every kind through this interface
 * alone: it chooses the class once, when it creates the forwarder, and never tests for it afterwards.
 *
 * <p>Threading: the control plane calls these methods (never an event loop: they may wait for the loops).
 */
public interface VipForwarder {
    /** The VIP's configured name. */
    String name();

    /** Binds the VIP's sockets and starts forwarding. */
    void start() throws VipBindException;

    /**
     * Starts in place of {@code predecessor}, the same VIP's forwarder on the same address, by taking over its
     * sockets instead of binding new ones, so the address never goes without a socket. The predecessor keeps its
     * open connections or flows and takes no new ones; the caller retires it.
     *
     * @return false, with nothing changed, when this forwarder cannot take over {@code predecessor}'s sockets (the
     *     default); the caller then stops the predecessor and calls {@link #start()}
     */
    default boolean startInPlaceOf(VipForwarder predecessor) throws VipBindException {
        return false;
    }

    /**
     * Binds the VIP's sockets beside {@code predecessor}, the same VIP's forwarder on another address, which still
     * serves (a reload that moved the VIP); the caller then {@linkplain #drainListeners drains} the predecessor. The
     * default is {@link #start()}.
     */
    default void startBeside(VipForwarder predecessor) throws VipBindException {
        start();
    }

    /**
     * Takeover, old process: what this forwarder hands to a successor process (its sockets, and flow state where
     * it has some), as sections of the takeover protocol. The descriptors stay this forwarder's. Empty (the
     * default): nothing can be handed over, the successor binds its own sockets. Control thread.
     */
    default List<HandoverSection> handOverSections() {
        return List.of();
    }

    /**
     * Takeover, new process: starts from the sections a predecessor process handed over (instead of
     * {@link #start()}), adopting their descriptors, which it owns from then on. It accepts and reads on them from
     * {@link #serveHandedOver()} on; the predecessor still does too until it is told to let go
     * ({@link #releaseAfterHandover}).
     *
     * @return false, with nothing changed and no descriptor adopted, when this forwarder cannot start from them
     *     (the default); the caller then refuses the takeover or binds with {@link #start()}
     * @throws VipBindException when a descriptor is not the socket the sections say (nothing adopted then)
     */
    default boolean startFromHandover(List<HandoverSection> sections) throws VipBindException {
        return false;
    }

    /**
     * Takeover, new process: starts accepting and reading on what {@link #startFromHandover} adopted. Until then the
     * sockets are registered but not read, so a takeover refused halfway (another VIP, the admin API) has taken
     * nothing from the old process it would have to reset. Waits for the loops. Default: nothing to do.
     */
    default void serveHandedOver() {
    }

    /**
     * Takeover, new process: the predecessor has let go ({@link #releaseAfterHandover} there, acknowledged), or is
     * gone. A forwarder whose sockets cannot be read by two processes at once (a DSR engine's packet rings) starts
     * reading here instead of in {@link #serveHandedOver}. Default: nothing to do. Control thread.
     */
    default void predecessorReleased() {}

    /**
     * Takeover, old process, once the successor serves: stops accepting and reading on the sockets it shares with
     * the successor, without closing them for the successor (each process holds its own descriptor; this one's are
     * taken out of the event loop before they are closed). Open connections and tracked flows go on (UDP replies
     * still leave through the VIP sockets). The default: {@link #stopAccepting()}.
     */
    default void releaseAfterHandover() {
        stopAccepting();
    }

    /** Stops taking new connections or flows; open ones go on. Waits until the sockets are closed. */
    void stopAccepting();

    /**
     * Stops taking new connections or flows, but first serves those the kernel already took for it: what waits
     * in an accept queue (TCP) or a receive queue (UDP) when it is called. Returns when no new connection can
     * start on its sockets; sockets that still drain close by themselves ({@link #listening()}). The default is
     * {@link #stopAccepting()}.
     */
    default void drainListeners() {
        stopAccepting();
    }

    /**
     * Whether a socket of this forwarder still takes connections from its queue: a retired forwarder whose
     * {@link #drainListeners} has not finished. Its connections are not all known yet, so it must not be closed.
     * Any thread.
     */
    default boolean listening() {
        return false;
    }

    /** Open connections (TCP) or tracked flows (UDP). Any thread. */
    int activeConnections();

    /**
     * The forwarder's counters now, summed over its forwarding threads: the common {@link VipStats} view, as the
     * record of the forwarder's kind. Any thread; allocates (scrapes and status requests, not a forwarding path).
     */
    VipStats stats();

    /**
     * ICMP errors (port or host unreachable) the kernel reported toward backend {@code backendId}, summed over the
     * forwarding threads: a passive health signal the control plane samples a few times a second, so it allocates
     * nothing. -1 (the default) when this forwarder does not see such errors (TCP reports them as failed
     * connects; DSR never hears back from a backend).
     */
    default long backendUnreachable(int backendId) {
        return -1;
    }

    /** Closes every open connection or flow at once. Waits until done. */
    void closeConnections();

    /**
     * Whether this forwarder, once it stops accepting, may drain its open connections while a successor serves
     * the same address (true for proxies: the kernel gives each socket its own connections). When false, a
     * reload that replaces it on the same address closes it before the successor starts.
     */
    default boolean drainsBesideSuccessor() {
        return true;
    }

    /**
     * The backend this forwarder's flow tracking holds for the flow from {@code client} to the VIP: the backend of
     * the open connection from that address and port (TCP proxy), or of the tracked flow (UDP proxy, DSR). A flow
     * keeps that backend across table changes while the backend stays healthy, so it can differ from what the
     * current table says. Read-only: each forwarding thread looks in its own table (a task on its loop, run
     * between batches), and nothing is refreshed or counted. Waits for the threads (never call it from one).
     *
     * @return the backend id, or {@link io.maglevlb.core.snapshot.ForwardingSnapshot#NO_BACKEND} when no
     *     forwarding thread tracks the flow
     * @throws IllegalStateException when a forwarding thread did not answer within
     *     {@link TrackedFlows#ANSWER_TIMEOUT_MS} (stopped, or stuck)
     */
    int trackedBackend(InetSocketAddress client);

    /** The address the VIP is bound to. */
    InetSocketAddress localAddress();

    /** One line for the startup log: what it serves and how, after the VIP's name. */
    String describe();
}
