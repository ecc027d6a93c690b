package io.maglevlb.dataplane;

import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.channels.spi.SelectorProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty transport the forwarding threads use: Linux epoll when its native library loads, else NIO.
 *
 * <p>Epoll is checked once per process ({@link #detect()}); when it is unavailable the cause is logged at WARN,
 * never swallowed, because NIO forwards without SO_REUSEPORT steering (one listener per VIP instead of one per
 * event loop) and through the portable TCP relay (Netty channels) instead of the raw one.
 */
public final class Transport {
    private static final Logger LOG = LoggerFactory.getLogger(Transport.class);

    private static final Transport EPOLL = new Transport("epoll", true);
    private static final Transport NIO = new Transport("nio", false);

    private final String name;
    private final boolean epoll;

    private Transport(String name, boolean epoll) {
        this.name = name;
        this.epoll = epoll;
    }

    /** Epoll when available, else NIO (logged once at WARN with the reason). */
    public static Transport detect() {
        return Detected.INSTANCE;
    }

    /** The NIO transport, whatever the platform supports (tests of the fallback path). */
    public static Transport nio() {
        return NIO;
    }

    /**
     * The epoll transport.
     *
     * @throws IllegalStateException with the reason when the native library is unavailable
     */
    public static Transport epoll() {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("epoll transport unavailable: " + Epoll.unavailabilityCause(),
                    Epoll.unavailabilityCause());
        }
        return EPOLL;
    }

    /** "epoll" or "nio". */
    public String name() {
        return name;
    }

    public boolean isEpoll() {
        return epoll;
    }

    /** Whether one listening socket per event loop can share a VIP address (SO_REUSEPORT). */
    public boolean supportsReusePort() {
        return epoll;
    }

    /** Epoll's handler (with {@link EpollEmptyInterestWorkaround}) or NIO's. */
    public IoHandlerFactory ioHandlerFactory() {
        return epoll ? new EpollEmptyInterestWorkaround() : NioIoHandler.newFactory();
    }

    public Class<? extends ServerSocketChannel> serverSocketChannelClass() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public Class<? extends SocketChannel> socketChannelClass() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * Listening channels of {@code bindAddress}'s family. An IPv4 VIP gets an AF_INET socket rather than
     * Netty's default dual-stack AF_INET6 one: its accepted sockets are then plain IPv4 ones, which are smaller
     * in the kernel and need no IPv4-mapped address handling.
     */
    public ChannelFactory<ServerSocketChannel> serverSocketChannelFactory(InetAddress bindAddress) {
        SocketProtocolFamily family = familyOf(bindAddress);
        return epoll ? () -> new EpollServerSocketChannel(family) : () -> new NioServerSocketChannel(
                SelectorProvider.provider(), family);
    }

    /**
     * A new, unregistered client channel of {@code remote}'s family (AF_INET for IPv4 backends: no
     * IPV6_V6ONLY option to set and no mapped addresses). Made directly rather than through a
     * {@code Bootstrap}, whose per-connection clone copies its option maps and constructs reflectively.
     */
    public SocketChannel newSocketChannel(InetAddress remote) {
        SocketProtocolFamily family = familyOf(remote);
        return epoll ? new EpollSocketChannel(family)
                : new NioSocketChannel(SelectorProvider.provider(), family);
    }

    private static SocketProtocolFamily familyOf(InetAddress address) {
        return address instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
    }

    public Class<? extends DatagramChannel> datagramChannelClass() {
        return epoll ? EpollDatagramChannel.class : NioDatagramChannel.class;
    }

    /** A group of {@code threads} event loops of this transport, threads named {@code threadPrefix-N}. */
    public MultiThreadIoEventLoopGroup newEventLoopGroup(int threads, String threadPrefix) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(threadPrefix, false),
                ioHandlerFactory());
    }

    @Override
    public String toString() {
        return name;
    }

    /** Lazy holder: the availability check and its log line happen once, on first use. */
    private static final class Detected {
        static final Transport INSTANCE = choose();

        private static Transport choose() {
            if (Epoll.isAvailable()) {
                LOG.info("transport: epoll (Netty's native epoll library for {} {} loaded)",
                        System.getProperty("os.name"), System.getProperty("os.arch"));
                return EPOLL;
            }
            Throwable cause = Epoll.unavailabilityCause();
            LOG.warn("epoll transport unavailable on {} {}, falling back to NIO (one listener per VIP, no "
                    + "SO_REUSEPORT steering, the portable TCP relay): {}", System.getProperty("os.name"),
                    System.getProperty("os.arch"), String.valueOf(cause));
            LOG.debug("epoll unavailability cause", cause);
            return NIO;
        }
    }
}
