package io.maglevlb.core.config;

/**
 * DSR settings of a {@code mode: dsr} VIP.
 *
 * @param method l2, ipip or gue
 * @param interfaceName the interface the engine receives VIP traffic on and sends from
 * @param guePort gue only: the UDP destination port of the encapsulation
 * @param ingressDrop end the VIP's packets in the interface's ingress hook once the engine has its copy, so the
 *     host's IP stack does not also route (and drop or answer) every packet the engine forwards
 * @param io the kernel interface the engine uses: auto, af_xdp or af_packet
 * @param xdpFrames AF_XDP: frames of {@value #XDP_FRAME_BYTES} bytes in each socket's UMEM (one socket per receive
 *     queue, shared by the interface's VIPs); its fill and RX rings hold as many, so a forwarding thread may be
 *     kept off the CPU this many frames long without loss. A power of two, {@value #MIN_XDP_FRAMES} to
 *     {@value #MAX_XDP_FRAMES}
 */
public record DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop, DsrIo io,
        int xdpFrames) {
    public static final int DEFAULT_GUE_PORT = 6080;
    public static final boolean DEFAULT_INGRESS_DROP = true;
    /** AF_XDP where the kernel, driver and interface allow it, else AF_PACKET (logged with the reason). */
    public static final DsrIo DEFAULT_IO = DsrIo.AUTO;
    /** Bytes of one AF_XDP UMEM frame. */
    public static final int XDP_FRAME_BYTES = 2048;
    /**
     * 8,192 frames: 16 MiB of UMEM per queue, as much memory as an AF_PACKET thread's ring; about 8 ms of a
     * 1 M frames/s queue, which covers the scheduling stalls that dropped frames with the earlier 2,048-frame RX ring.
     */
    public static final int DEFAULT_XDP_FRAMES = 8192;
    public static final int MIN_XDP_FRAMES = 2048;
    /** 65,536 frames: 128 MiB of locked memory per queue. */
    public static final int MAX_XDP_FRAMES = 65536;

    public DsrConfig {
        java.util.Objects.requireNonNull(io, "io");
        if (xdpFrames < MIN_XDP_FRAMES || xdpFrames > MAX_XDP_FRAMES || Integer.bitCount(xdpFrames) != 1) {
            throw new IllegalArgumentException("xdp_frames must be a power of two from " + MIN_XDP_FRAMES + " to "
                    + MAX_XDP_FRAMES + ", was " + xdpFrames);
        }
    }

    /** Settings with the default {@code xdp_frames}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop, DsrIo io) {
        this(method, interfaceName, guePort, ingressDrop, io, DEFAULT_XDP_FRAMES);
    }

    /** Settings with the default {@code io}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort, boolean ingressDrop) {
        this(method, interfaceName, guePort, ingressDrop, DEFAULT_IO);
    }

    /** Settings with the default {@code ingress_drop}. */
    public DsrConfig(DsrMethod method, String interfaceName, int guePort) {
        this(method, interfaceName, guePort, DEFAULT_INGRESS_DROP);
    }
}
