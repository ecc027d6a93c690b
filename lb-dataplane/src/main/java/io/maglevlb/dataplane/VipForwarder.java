package io.maglevlb.dataplane;

import java.net.InetSocketAddress;

/**
 * The forwarding side of one VIP as the daemon drives it: bind, stop accepting, drain, close. Implemented by
 * the TCP proxy ({@link io.maglevlb.dataplane.tcp.TcpProxyVip}) and meant for the UDP and packet forwarders.
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

    /** Stops taking new connections or flows; open ones go on. Waits until the sockets are closed. */
    void stopAccepting();

    /** Open connections (TCP) or tracked flows (UDP). Any thread. */
    int activeConnections();

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

    /** The address the VIP is bound to. */
    InetSocketAddress localAddress();

    /** One line for the startup log: what it serves and how, after the VIP's name. */
    String describe();
}
