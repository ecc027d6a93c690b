package io.maglevlb.core.config;

import io.maglevlb.core.flow.HashMode;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One virtual service as configured. Immutable; built only by {@link ConfigBinder} after validation.
 *
 * @param name unique VIP name, used in metrics labels and the admin API
 * @param listen the VIP address and port
 * @param protocol tcp or udp
 * @param mode proxy (default) or dsr
 * @param hash 5-tuple (default) or source-ip
 * @param tableSize Maglev table size M, prime
 * @param backends backends in configuration order (the table sorts them itself)
 * @param healthCheck how backends are probed
 * @param maxConnections tcp: accepted connections at most (0 = unlimited); udp: flows at most per VIP
 * @param connectTimeout tcp proxy: how long a backend connect may take before the next backend is tried
 * @param connectRetries tcp proxy: other backends tried after the first choice fails
 * @param idleTimeout a connection or flow with no traffic either way for this long is closed
 * @param proxyProtocol tcp proxy: header toward backends
 * @param delayedAck tcp proxy: which connections delay their ACKs of received data
 * @param dsr dsr mode settings, present only when {@code mode: dsr}
 */
public record VipConfig(String name, InetSocketAddress listen, Protocol protocol, ForwardingMode mode,
        HashMode hash, int tableSize, List<BackendConfig> backends, HealthCheckConfig healthCheck,
        int maxConnections, Duration connectTimeout, int connectRetries, Duration idleTimeout,
        ProxyProtocol proxyProtocol, DelayedAck delayedAck, Optional<DsrConfig> dsr) {

    public static final Protocol DEFAULT_PROTOCOL = Protocol.TCP;
    public static final ForwardingMode DEFAULT_MODE = ForwardingMode.PROXY;
    public static final HashMode DEFAULT_HASH = HashMode.FIVE_TUPLE;
    public static final ProxyProtocol DEFAULT_PROXY_PROTOCOL = ProxyProtocol.NONE;
    public static final DelayedAck DEFAULT_DELAYED_ACK = DelayedAck.OFF;
    public static final int DEFAULT_TABLE_SIZE = 65537;
    public static final int DEFAULT_MAX_CONNECTIONS = 0;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
    public static final int DEFAULT_CONNECT_RETRIES = 2;
    public static final Duration DEFAULT_TCP_IDLE_TIMEOUT = Duration.ofMinutes(15);
    public static final Duration DEFAULT_UDP_IDLE_TIMEOUT = Duration.ofSeconds(60);

    public VipConfig {
        backends = List.copyOf(backends);
    }

    /** A VIP with the default {@code delayed_ack}. */
    public VipConfig(String name, InetSocketAddress listen, Protocol protocol, ForwardingMode mode,
            HashMode hash, int tableSize, List<BackendConfig> backends, HealthCheckConfig healthCheck,
            int maxConnections, Duration connectTimeout, int connectRetries, Duration idleTimeout,
            ProxyProtocol proxyProtocol, Optional<DsrConfig> dsr) {
        this(name, listen, protocol, mode, hash, tableSize, backends, healthCheck, maxConnections, connectTimeout,
                connectRetries, idleTimeout, proxyProtocol, DEFAULT_DELAYED_ACK, dsr);
    }

    /** The idle timeout used when a VIP sets none: long for TCP, short for UDP, which has no close. */
    public static Duration defaultIdleTimeout(Protocol protocol) {
        return protocol == Protocol.UDP ? DEFAULT_UDP_IDLE_TIMEOUT : DEFAULT_TCP_IDLE_TIMEOUT;
    }

    /** The backend with {@code backendName}, if configured. */
    public Optional<BackendConfig> backend(String backendName) {
        return backends.stream().filter(b -> b.name().equals(backendName)).findFirst();
    }
}
