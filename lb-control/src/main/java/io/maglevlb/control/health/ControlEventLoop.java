package io.maglevlb.control.health;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small event loop group for control-plane I/O (health checks, the admin API): epoll when the native
 * transport loads, NIO otherwise. Control-plane work never runs on a forwarding event loop, so a busy or
 * starved dataplane cannot delay a health verdict or an admin request, and the reverse.
 *
 * <p>Epoll availability is checked once per JVM; when it is missing the cause is logged, not swallowed.
 */
public final class ControlEventLoop {
    private static final Logger log = LoggerFactory.getLogger(ControlEventLoop.class);
    private static final boolean EPOLL = checkEpoll();

    private final EventLoopGroup group;

    /**
     * @param threads event loop threads (control work needs one)
     * @param threadName prefix of the threads' names, e.g. {@code maglev-health}
     */
    public ControlEventLoop(int threads, String threadName) {
        DefaultThreadFactory threadFactory = new DefaultThreadFactory(threadName, true);
        this.group = new MultiThreadIoEventLoopGroup(threads, threadFactory,
                EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    }

    private static boolean checkEpoll() {
        if (Epoll.isAvailable()) {
            return true;
        }
        log.info("control plane uses NIO: epoll unavailable ({})", String.valueOf(Epoll.unavailabilityCause()));
        return false;
    }

    public EventLoopGroup group() {
        return group;
    }

    /** Whether this JVM uses the epoll transport for control-plane sockets. */
    public static boolean epoll() {
        return EPOLL;
    }

    public Class<? extends SocketChannel> socketChannelClass() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public Class<? extends DatagramChannel> datagramChannelClass() {
        return EPOLL ? EpollDatagramChannel.class : NioDatagramChannel.class;
    }

    public Class<? extends ServerSocketChannel> serverSocketChannelClass() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** Stops the loop without a quiet period and waits up to {@code timeoutMs} for its thread to end. */
    public void shutdown(long timeoutMs) {
        group.shutdownGracefully(0, timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS)
                .awaitUninterruptibly(timeoutMs + 1000);
    }
}
