package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.DelayedAck;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** A started {@link TcpProxyVip} on loopback with its own event loops, for one test. */
final class ProxyFixture implements AutoCloseable {
    final MultiThreadIoEventLoopGroup group;
    final TcpProxyVip vip;
    final SnapshotHolder snapshots;
    final List<BackendState> backends;

    private ProxyFixture(Spec spec) throws VipBindException {
        List<BackendState> states = new ArrayList<>();
        int id = 1;
        for (BackendConfig b : spec.backends) {
            states.add(new BackendState(id++, b.name(), b.address(), b.weight(), false, true));
        }
        this.backends = List.copyOf(states);
        VipConfig config = spec.toConfig();
        this.snapshots = new SnapshotHolder(ForwardingSnapshot.build(config.name(), 1, config.tableSize(), states));
        this.group = spec.transport.newEventLoopGroup(spec.workers, "test-" + config.name());
        this.vip = new TcpProxyVip(config, snapshots, group, spec.transport, spec.options);
        try {
            vip.start();
        } catch (VipBindException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
            throw e;
        }
    }

    static Spec spec(String name) {
        return new Spec(name);
    }

    InetSocketAddress address() {
        return vip.localAddress();
    }

    ForwardingSnapshot snapshot() {
        return snapshots.current();
    }

    /** Publishes a snapshot where the backends named in {@code down} are unhealthy. */
    ForwardingSnapshot publishWithDown(long generation, String... down) {
        List<BackendState> states = new ArrayList<>();
        for (BackendState b : backends) {
            states.add(b.withHealthy(!List.of(down).contains(b.name())));
        }
        ForwardingSnapshot s = ForwardingSnapshot.build(vip.name(), generation, vip.config().tableSize(), states);
        snapshots.publish(s);
        return s;
    }

    int idOf(String backendName) {
        return backends.stream().filter(b -> b.name().equals(backendName)).findFirst().orElseThrow().id();
    }

    /** Waits (bounded) until the proxy has no open connection left. */
    void awaitNoConnections() throws InterruptedException {
        awaitTrue("all proxied connections closed", () -> vip.activeConnections() == 0);
    }

    static void awaitTrue(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() {
        vip.stopAccepting();
        vip.closeConnections();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** The knobs tests turn; everything else has the configuration defaults. */
    static final class Spec {
        final String name;
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        final List<BackendConfig> backends = new ArrayList<>();
        HashMode hash = HashMode.FIVE_TUPLE;
        int tableSize = VipConfig.DEFAULT_TABLE_SIZE;
        int maxConnections = 0;
        Duration connectTimeout = VipConfig.DEFAULT_CONNECT_TIMEOUT;
        int connectRetries = VipConfig.DEFAULT_CONNECT_RETRIES;
        Duration idleTimeout = VipConfig.DEFAULT_TCP_IDLE_TIMEOUT;
        ProxyProtocol proxyProtocol = ProxyProtocol.NONE;
        DelayedAck delayedAck = VipConfig.DEFAULT_DELAYED_ACK;
        Transport transport = Transport.detect();
        int workers = 2;
        TcpProxyOptions options = TcpProxyOptions.defaults();

        private Spec(String name) {
            this.name = name;
        }

        Spec backend(String backendName, InetSocketAddress address) {
            return backend(backendName, address, 1);
        }

        Spec backend(String backendName, InetSocketAddress address, int weight) {
            backends.add(new BackendConfig(backendName, address, weight));
            return this;
        }

        Spec backend(TestBackend b) {
            return backend(b.name(), b.address());
        }

        Spec listen(InetSocketAddress value) {
            listen = value;
            return this;
        }

        Spec hash(HashMode value) {
            hash = value;
            return this;
        }

        Spec maxConnections(int value) {
            maxConnections = value;
            return this;
        }

        Spec connectTimeout(Duration value) {
            connectTimeout = value;
            return this;
        }

        Spec connectRetries(int value) {
            connectRetries = value;
            return this;
        }

        Spec idleTimeout(Duration value) {
            idleTimeout = value;
            return this;
        }

        Spec proxyProtocol(ProxyProtocol value) {
            proxyProtocol = value;
            return this;
        }

        Spec delayedAck(DelayedAck value) {
            delayedAck = value;
            return this;
        }

        Spec transport(Transport value) {
            transport = value;
            return this;
        }

        Spec workers(int value) {
            workers = value;
            return this;
        }

        Spec options(TcpProxyOptions value) {
            options = value;
            return this;
        }

        VipConfig toConfig() {
            return new VipConfig(name, listen, Protocol.TCP, ForwardingMode.PROXY, hash, tableSize, backends,
                    HealthCheckConfig.defaults(), maxConnections, connectTimeout, connectRetries, idleTimeout,
                    proxyProtocol, delayedAck, Optional.empty());
        }

        ProxyFixture start() throws VipBindException {
            return new ProxyFixture(this);
        }
    }
}
