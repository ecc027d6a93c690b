package io.maglevlb.dataplane;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;

/**
 * Wraps Netty's {@link EpollIoHandler} to work around a bug in its fd registrations (seen in 4.2.18 through
 * 4.2.20, introduced with netty/netty#16689): when a channel's interest set becomes empty, the registration
 * removes the fd from epoll ({@code EPOLL_CTL_DEL}) but still records it as added, so the channel's next
 * interest change issues {@code EPOLL_CTL_MOD} on an fd epoll no longer knows and fails with ENOENT.
 *
 * <p>A TCP proxy meets this on every half-closed connection: once a peer has sent FIN, Netty stops watching
 * its socket for input and RDHUP, so as soon as nothing is queued toward it the interest set is empty; the
 * next write to that peer that fills its socket buffer needs EPOLLOUT, fails, and the connection breaks with
 * data lost (a client that sent its request and FIN, then downloads a large answer).
 *
 * <p>The workaround: an empty interest set on a registration that is already in epoll is submitted as
 * {@code EPOLLERR} alone, which keeps the fd registered with no interest beyond what epoll always reports
 * (errors and hang-ups); that is how Netty handled an empty set before the change. A registration that has
 * not been added yet still passes an empty set through, so unconnected sockets stay out of epoll. Remove the
 * workaround when Netty fixes the registration state.
 *
 * <p>The handler also ends each pass over the ready descriptors with its loop's {@link IoPassEnd}: work that
 * handlers of the pass deferred to it (the UDP forwarder's replies, sent in one call per pass).
 */
final class EpollEmptyInterestWorkaround implements IoHandlerFactory {
    private final IoHandlerFactory delegate = EpollIoHandler.newFactory();

    @Override
    public IoHandler newHandler(ThreadAwareExecutor ioExecutor) {
        return new Handler(delegate.newHandler(ioExecutor));
    }

    @Override
    public boolean isChangingThreadSupported() {
        return delegate.isChangingThreadSupported();
    }

    private static final class Handler implements IoHandler {
        private final IoHandler delegate;
        private final IoPassEnd passEnd = new IoPassEnd();

        Handler(IoHandler delegate) {
            this.delegate = delegate;
        }

        @Override
        public void initialize() {
            delegate.initialize();
            passEnd.bindToCurrentThread(); // Netty calls this on the loop's thread, before its first run()
        }

        @Override
        public int run(IoHandlerContext context) {
            int handled = delegate.run(context);
            passEnd.run();
            return handled;
        }

        @Override
        public void prepareToDestroy() {
            delegate.prepareToDestroy();
        }

        @Override
        public void destroy() {
            passEnd.unbindFromCurrentThread();
            delegate.destroy();
        }

        @Override
        public IoRegistration register(IoHandle handle) throws Exception {
            return new Registration(delegate.register(handle));
        }

        @Override
        public void wakeup() {
            delegate.wakeup();
        }

        @Override
        public boolean isCompatible(Class<? extends IoHandle> handleType) {
            return delegate.isCompatible(handleType);
        }
    }

    /** Threading: submit() is called on the registration's event loop only, so {@code added} needs no sync. */
    private static final class Registration implements IoRegistration {
        private final IoRegistration delegate;
        private boolean added;

        Registration(IoRegistration delegate) {
            this.delegate = delegate;
        }

        @Override
        public <T> T attachment() {
            return delegate.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            if (ops instanceof EpollIoOps epollOps && epollOps.value() == EpollIoOps.NONE.value()) {
                return added ? delegate.submit(EpollIoOps.EPOLLERR) : delegate.submit(ops);
            }
            long result = delegate.submit(ops);
            if (result != -1) { // -1: cancelled. Other values are the ops, negative with EPOLLET (the sign bit).
                added = true;
            }
            return result;
        }

        @Override
        public boolean isValid() {
            return delegate.isValid();
        }

        @Override
        public boolean cancel() {
            return delegate.cancel();
        }
    }
}
