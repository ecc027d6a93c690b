package io.maglevlb.control.takeover;

import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** VIP configurations for the takeover tests (proxy mode, no backends: only protocol and address matter). */
final class TestVips {
    private TestVips() {}

    static VipConfig tcp(String name, InetSocketAddress listen) {
        return vip(name, listen, Protocol.TCP);
    }

    static VipConfig udp(String name, InetSocketAddress listen) {
        return vip(name, listen, Protocol.UDP);
    }

    private static VipConfig vip(String name, InetSocketAddress listen, Protocol protocol) {
        return new VipConfig(name, listen, protocol, ForwardingMode.PROXY, HashMode.FIVE_TUPLE, 1009, List.of(),
                HealthCheckConfig.defaults(), 0, Duration.ofSeconds(2), 2, Duration.ofSeconds(60), ProxyProtocol.NONE,
                Optional.empty());
    }
}
