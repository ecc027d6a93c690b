package io.maglevlb.control.daemon;

import io.maglevlb.core.config.AdminConfig;
import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Configurations built directly as records (what ConfigBinder produces), for daemon tests. */
final class TestConfigs {
    private TestConfigs() {}

    static InetSocketAddress freeLoopbackAddress() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return (InetSocketAddress) s.getLocalSocketAddress();
        }
    }

    static VipConfig tcpVip(String name, InetSocketAddress listen, List<BackendConfig> backends) {
        return new VipConfig(name, listen, Protocol.TCP, ForwardingMode.PROXY, HashMode.FIVE_TUPLE, 1009, backends,
                HealthCheckConfig.defaults(), 0, Duration.ofSeconds(2), 2, Duration.ofMinutes(15), ProxyProtocol.NONE,
                Optional.empty());
    }

    static VipConfig udpVip(String name, InetSocketAddress listen, List<BackendConfig> backends) {
        return new VipConfig(name, listen, Protocol.UDP, ForwardingMode.PROXY, HashMode.FIVE_TUPLE, 1009, backends,
                HealthCheckConfig.defaults(), 0, Duration.ofSeconds(2), 2, Duration.ofSeconds(60), ProxyProtocol.NONE,
                Optional.empty());
    }

    static MaglevConfig config(Duration shutdownTimeout, VipConfig... vips) {
        return new MaglevConfig(new AdminConfig(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9190),
                Optional.empty()), 2, shutdownTimeout, FlowTableConfig.defaults(), List.of(vips));
    }
}
