package io.maglevlb.dataplane.tcp;

import io.maglevlb.dataplane.Transport;

/** The relay engines that ship, which tests of relay behaviour run against. */
enum Relay {
    /** Linux: the raw relay on the epoll loop. */
    EPOLL,
    /** The portable fallback (no epoll): Netty's NIO channels. */
    NIO;

    ProxyFixture.Spec apply(ProxyFixture.Spec spec) {
        return spec.transport(transport());
    }

    Transport transport() {
        return this == EPOLL ? Transport.epoll() : Transport.nio();
    }
}
