package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrConfig;
import io.maglevlb.core.config.DsrIo;
import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything one DSR VIP's packet engine is started with.
 *
 * @param vipName the VIP's name (thread names, logs, metrics)
 * @param vip VIP address and port
 * @param protocol tcp or udp
 * @param hashMode 5-tuple or source-ip
 * @param method l2, ipip or gue
 * @param interfaceName interface the engine receives on and sends from
 * @param guePort gue: UDP destination port of the encapsulation
 * @param threads forwarding threads (one AF_PACKET socket each, in one fanout group)
 * @param cpus CPUs to pin forwarding thread i to ({@code cpus[i % size]}); empty = no pinning
 * @param flowTable flow table capacity and flood threshold, per thread
 * @param idleTimeout a tracked flow with no packet for this long is forgotten
 * @param outerSource ipip/gue: outer source addresses, picked per flow; empty = the interface's IPv4 address
 * @param packetOptions AF_PACKET ring and batch sizes
 * @param ingressDrop attach a tc ingress filter that ends the VIP's packets once the engine's socket has them,
 *     so the host's IP stack does not route each one too (see {@link VipFilter#ingressDrop}); AF_PACKET only
 * @param io AF_XDP, AF_PACKET, or AF_XDP where possible ({@code dsr.io})
 * @param xdpFrames AF_XDP: UMEM frames (and fill/RX ring entries) per socket ({@code dsr.xdp_frames}); the first
 *     VIP on an interface decides for all of them
 */
public record DsrEngineConfig(String vipName, InetSocketAddress vip, Protocol protocol, HashMode hashMode,
        DsrMethod method, String interfaceName, int guePort, int threads, List<Integer> cpus,
        FlowTableConfig flowTable, Duration idleTimeout, Optional<Ipv4Range> outerSource,
        AfPacketOptions packetOptions, boolean ingressDrop, DsrIo io, int xdpFrames) {

    public static final int DEFAULT_THREADS = 1;

    public DsrEngineConfig {
        Objects.requireNonNull(vipName, "vipName");
        Objects.requireNonNull(vip, "vip");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(hashMode, "hashMode");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(interfaceName, "interfaceName");
        cpus = List.copyOf(cpus);
        Objects.requireNonNull(flowTable, "flowTable");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(outerSource, "outerSource");
        Objects.requireNonNull(packetOptions, "packetOptions");
        Objects.requireNonNull(io, "io");
        if (vip.isUnresolved()) {
            throw new IllegalArgumentException("vip " + vipName + ": address must be an IP literal, was " + vip);
        }
        if (vip.getPort() < 1) {
            throw new IllegalArgumentException("vip " + vipName + ": DSR needs a port 1..65535, was " + vip.getPort());
        }
        if (threads < 1 || threads > 64) {
            throw new IllegalArgumentException("vip " + vipName + ": DSR threads must be 1..64, was " + threads);
        }
        if (method == DsrMethod.GUE && (guePort < 1 || guePort > 65535)) {
            throw new IllegalArgumentException("vip " + vipName + ": gue port must be 1..65535, was " + guePort);
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("vip " + vipName + ": idle timeout must be > 0, was " + idleTimeout);
        }
        if (xdpFrames < DsrConfig.MIN_XDP_FRAMES || xdpFrames > DsrConfig.MAX_XDP_FRAMES
                || Integer.bitCount(xdpFrames) != 1) {
            throw new IllegalArgumentException("vip " + vipName + ": xdp frames must be a power of two "
                    + DsrConfig.MIN_XDP_FRAMES + ".." + DsrConfig.MAX_XDP_FRAMES + ", was " + xdpFrames);
        }
    }

    /** Settings with the default AF_XDP frame count ({@link DsrConfig#DEFAULT_XDP_FRAMES}). */
    public DsrEngineConfig(String vipName, InetSocketAddress vip, Protocol protocol, HashMode hashMode,
            DsrMethod method, String interfaceName, int guePort, int threads, List<Integer> cpus,
            FlowTableConfig flowTable, Duration idleTimeout, Optional<Ipv4Range> outerSource,
            AfPacketOptions packetOptions, boolean ingressDrop, DsrIo io) {
        this(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus, flowTable, idleTimeout,
                outerSource, packetOptions, ingressDrop, io, DsrConfig.DEFAULT_XDP_FRAMES);
    }

    /**
     * The engine settings of a {@code mode: dsr} VIP, with {@code threads} forwarding threads, no pinning, the
     * interface's address as outer source and default ring sizes.
     */
    public static DsrEngineConfig of(VipConfig vip, FlowTableConfig flowTable, int threads) {
        if (vip.mode() != ForwardingMode.DSR) {
            throw new IllegalArgumentException("vip " + vip.name() + " is not in dsr mode");
        }
        DsrConfig dsr = vip.dsr().orElseThrow(
                () -> new IllegalArgumentException("vip " + vip.name() + ": dsr mode without dsr settings"));
        return new DsrEngineConfig(vip.name(), vip.listen(), vip.protocol(), vip.hash(), dsr.method(),
                dsr.interfaceName(), dsr.guePort(), threads, List.of(), flowTable, vip.idleTimeout(),
                Optional.empty(), AfPacketOptions.defaults(), dsr.ingressDrop(), dsr.io(), dsr.xdpFrames());
    }

    public DsrEngineConfig withThreads(int value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, value, cpus,
                flowTable, idleTimeout, outerSource, packetOptions, ingressDrop, io, xdpFrames);
    }

    public DsrEngineConfig withCpus(List<Integer> value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, value,
                flowTable, idleTimeout, outerSource, packetOptions, ingressDrop, io, xdpFrames);
    }

    public DsrEngineConfig withOuterSource(Optional<Ipv4Range> value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus,
                flowTable, idleTimeout, value, packetOptions, ingressDrop, io, xdpFrames);
    }

    public DsrEngineConfig withPacketOptions(AfPacketOptions value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus,
                flowTable, idleTimeout, outerSource, value, ingressDrop, io, xdpFrames);
    }

    public DsrEngineConfig withIngressDrop(boolean value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus,
                flowTable, idleTimeout, outerSource, packetOptions, value, io, xdpFrames);
    }

    public DsrEngineConfig withIo(DsrIo value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus,
                flowTable, idleTimeout, outerSource, packetOptions, ingressDrop, value, xdpFrames);
    }

    public DsrEngineConfig withXdpFrames(int value) {
        return new DsrEngineConfig(vipName, vip, protocol, hashMode, method, interfaceName, guePort, threads, cpus,
                flowTable, idleTimeout, outerSource, packetOptions, ingressDrop, io, value);
    }

    /** Bytes the method adds in front of the client's IP packet (besides the Ethernet header). */
    public int encapsulationOverhead() {
        return switch (method) {
            case L2 -> 0;
            case IPIP -> 20;
            case GUE -> 20 + 8 + 4;
        };
    }
}
