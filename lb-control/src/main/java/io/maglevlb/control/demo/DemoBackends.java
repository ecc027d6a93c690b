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
 * {@code curl} through a VIP shows which backend answered; and one {@link UdpEchoBackend} per backend address
 * of its UDP proxy VIPs, so that {@code nc -u} shows the same.
 */
public final class DemoBackends implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DemoBackends.class);

    private final MultiThreadIoEventLoopGroup group;
    private final List<DemoHttpServer> servers;
    private final List<UdpEchoBackend> udpServers;

    private DemoBackends(MultiThreadIoEventLoopGroup group, List<DemoHttpServer> servers,
            List<UdpEchoBackend> udpServers) {
        this.group = group;
        this.servers = List.copyOf(servers);
        this.udpServers = List.copyOf(udpServers);
    }

    /**
     * Starts a server for every distinct backend address of every {@code tcp}/{@code proxy} VIP and a UDP echo
     * backend for every distinct backend address of every {@code udp}/{@code proxy} VIP (the first backend
     * configured at an address names it). A UDP echo backend also answers TCP on its address (for health
     * checks) unless an HTTP demo server already does.
     *
     * @throws IOException when an address cannot be bound (everything started is closed again)
     */
    public static DemoBackends start(MaglevConfig config, Transport transport) throws IOException {
        MultiThreadIoEventLoopGroup group = transport.newEventLoopGroup(1, "maglev-demo");
        List<DemoHttpServer> servers = new ArrayList<>();
        List<UdpEchoBackend> udpServers = new ArrayList<>();
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
            Set<InetSocketAddress> seenUdp = new HashSet<>();
            for (VipConfig vip : config.vips()) {
                if (vip.protocol() != Protocol.UDP || vip.mode() != ForwardingMode.PROXY) {
                    continue;
                }
                for (BackendConfig b : vip.backends()) {
                    if (!seenUdp.add(b.address())) {
                        continue;
                    }
                    boolean tcpToo = !seen.contains(b.address());
                    udpServers.add(UdpEchoBackend.start(b.name(), b.address(), tcpToo));
                    LOG.info("demo backend {} answering UDP{} on {}", b.name(), tcpToo ? " (and TCP)" : "",
                            ConfigValues.formatSocketAddress(b.address()));
                }
            }
        } catch (IOException | RuntimeException e) {
            servers.forEach(DemoHttpServer::close);
            udpServers.forEach(UdpEchoBackend::close);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
            throw e;
        }
        return new DemoBackends(group, servers, udpServers);
    }

    public List<DemoHttpServer> servers() {
        return servers;
    }

    public List<UdpEchoBackend> udpServers() {
        return udpServers;
    }

    @Override
    public void close() {
        servers.forEach(DemoHttpServer::close);
        udpServers.forEach(UdpEchoBackend::close);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
