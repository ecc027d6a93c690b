package io.maglevlb.dataplane.tcp;

import io.maglevlb.dataplane.Transport;

/** The relay variants tests run against. */
enum Relay {
    /** The default with epoll: raw sockets on the event loop. */
    EPOLL,
    /** Epoll through Netty channels. */
    EPOLL_CHANNELS,
    EPOLL_SPLICE,
    NIO;

    ProxyFixture.Spec apply(ProxyFixture.Spec spec) {
        return switch (this) {
            case EPOLL -> spec.transport(Transport.epoll()).options(TcpProxyOptions.defaults().withSplice(false));
            case EPOLL_CHANNELS -> spec.transport(Transport.epoll())
                    .options(TcpProxyOptions.defaults().withSplice(false).withRawRelay(false));
            case EPOLL_SPLICE -> spec.transport(Transport.epoll()).options(TcpProxyOptions.defaults().withSplice(true));
            case NIO -> spec.transport(Transport.nio()).options(TcpProxyOptions.defaults().withSplice(false));
        };
    }
}
