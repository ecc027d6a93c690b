package io.maglevlb.control.daemon;

import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.tcp.TcpProxyOptions;
import io.maglevlb.dataplane.udp.UdpTuning;
import java.util.Objects;

/**
 * Daemon settings that are not in the configuration file.
 *
 * @param tcp TCP relay settings (the NIO engine's write buffer water marks)
 * @param transport the forwarding transport: {@link Transport#detect()} (epoll, else NIO) unless a test or
 *     the {@value #TRANSPORT_PROPERTY} system property asks for NIO
 * @param udp UDP forwarder knobs (the defaults, with {@value UdpTuning#PASS_PAUSE_PROPERTY} applied)
 */
public record DaemonOptions(TcpProxyOptions tcp, Transport transport, UdpTuning udp) {
    /** System property: {@code nio} forces the NIO transport even where epoll is available. */
    public static final String TRANSPORT_PROPERTY = "maglevd.transport";

    public DaemonOptions {
        Objects.requireNonNull(tcp, "tcp");
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(udp, "udp");
    }

    /** With the UDP forwarder's defaults. */
    public DaemonOptions(TcpProxyOptions tcp, Transport transport) {
        this(tcp, transport, UdpTuning.defaults());
    }

    /**
     * Options from system properties ({@value TcpProxyOptions#SPLICE_PROPERTY},
     * {@value TcpProxyOptions#ENGINE_PROPERTY}, {@value #TRANSPORT_PROPERTY}, {@value UdpTuning#PASS_PAUSE_PROPERTY}).
     */
    public static DaemonOptions fromSystemProperties() {
        String transport = System.getProperty(TRANSPORT_PROPERTY, "auto");
        Transport t = switch (transport) {
            case "auto" -> Transport.detect();
            case "nio" -> Transport.nio();
            case "epoll" -> Transport.epoll();
            default -> throw new IllegalArgumentException(
                    "system property " + TRANSPORT_PROPERTY + " must be auto, epoll or nio, was '" + transport + "'");
        };
        return new DaemonOptions(TcpProxyOptions.fromSystemProperties(), t, UdpTuning.fromSystemProperties());
    }

    public DaemonOptions withTcp(TcpProxyOptions value) {
        return new DaemonOptions(value, transport, udp);
    }
}
