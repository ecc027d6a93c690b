package io.maglevlb.control.demo;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.Transport;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code maglevd run --demo-backends}: one {@link DemoHttpServer} per backend address of the configuration's
 * TCP proxy VIPs, named after the backend, on an event loop of their own (not the forwarding loops), so that
 * {@code curl} through a VIP shows which backend answered.
 */
public final class DemoBackends implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DemoBackends.class);

    private final MultiThreadIoEventLoopGroup group;
    private final List<DemoHttpServer> servers;

    private DemoBackends(MultiThreadIoEventLoopGroup group, List<DemoHttpServer> servers) {
        this.group = group;
        this.servers = List.copyOf(servers);
    }

    /**
     * Starts a server for every distinct backend address of every {@code tcp}/{@code proxy} VIP (the first
     * backend configured at an address names it).
     *
     * @throws IOException when an address cannot be bound (everything started is closed again)
     */
    public static DemoBackends start(MaglevConfig config, Transport transport) throws IOException {
        MultiThreadIoEventLoopGroup group = transport.newEventLoopGroup(1, "maglev-demo");
        List<DemoHttpServer> servers = new ArrayList<>();
        Set<InetSocketAddress> seen = new HashSet<>();
        try {
            for (VipConfig vip : config.vips()) {
                if (vip.protocol() != Protocol.TCP || vip.mode() != ForwardingMode.PROXY) {
                    continue;
                }
                for (BackendConfig b : vip.backends()) {
                    if (!seen.add(b.address())) {
                        continue;
                    }
                    servers.add(DemoHttpServer.start(group, transport, b.address(), b.name()));
                    LOG.info("demo backend {} answering HTTP on {}", b.name(),
                            ConfigValues.formatSocketAddress(b.address()));
                }
            }
        } catch (IOException | RuntimeException e) {
            servers.forEach(DemoHttpServer::close);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
            throw e;
        }
        return new DemoBackends(group, servers);
    }

    public List<DemoHttpServer> servers() {
        return servers;
    }

    @Override
    public void close() {
        servers.forEach(DemoHttpServer::close);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
