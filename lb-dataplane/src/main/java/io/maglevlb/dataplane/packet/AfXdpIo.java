package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * {@link PacketIo} on one AF_XDP socket bound to one queue of an interface: a UMEM (frames of
 * {@value #FRAME_SIZE} bytes, {@code dsr.xdp_frames} of them) shared by receive and transmit, and the four rings mapped with mmap: fill (frames
 * the kernel may receive into), RX (received frames), TX (frames to send), completion (sent frames it is done
 * with). The {@link XdpRedirect} program sends the VIP's packets of this queue here.
 *
 * <p><b>Forwarding in place.</b> A received frame is rewritten where it lies and its descriptor goes on the TX
 * ring: no copy in user space. {@link #transmitWithHeader} copies the outer headers (at most 46 bytes) into the
 * frame's headroom, in front of the IP packet, and sends that. A frame comes back when the kernel has sent it
 * (completion ring) or, when it was not forwarded, at the end of the batch; free frames wait on a stack
 * ({@code int[]}) and go to the fill ring at the end of every batch.
 *
 * <p><b>Modes.</b> The socket is bound with XDP_USE_NEED_WAKEUP and no copy flag: the kernel takes zero-copy
 * where the driver supports it and falls back to copy mode (veth, most virtual devices); {@link #zeroCopy()}
 * says which. With need-wakeup the kernel only wants a {@code sendto} when the TX ring says so (copy mode always
 * does), and the thread sleeps in {@code poll} when the RX ring is empty.
 *
 * <p><b>Threading and memory.</b> Owned by one forwarding thread (see {@link PacketIo}); the UMEM and scratch
 * memory belong to this object's {@link LinuxNative} arena and live until {@link #close()}, the rings are
 * unmapped there. Nothing is allocated per packet or per batch.
 */
public final class AfXdpIo implements PacketIo {
    /** Bytes of a UMEM frame; the kernel puts XDP_PACKET_HEADROOM (256 bytes) in front of the data in copy mode. */
    static final int FRAME_SIZE = io.maglevlb.core.config.DsrConfig.XDP_FRAME_BYTES;
    static final int COMPLETION_RING = 2048;
    static final int TX_RING = 2048;
    /** Frames taken from the RX ring per batch at most. */
    static final int BATCH = 256;
    public static final int HEADER_SLOT_BYTES = 128;

    // linux/if_xdp.h
    static final int AF_XDP = 44;
    private static final int SOL_XDP = 283;
    private static final int XDP_MMAP_OFFSETS = 1;
    private static final int XDP_RX_RING = 2;
    private static final int XDP_TX_RING = 3;
    private static final int XDP_UMEM_REG = 4;
    private static final int XDP_UMEM_FILL_RING = 5;
    private static final int XDP_UMEM_COMPLETION_RING = 6;
    private static final int XDP_STATISTICS = 7;
    private static final int XDP_OPTIONS = 8;
    private static final int XDP_OPTIONS_ZEROCOPY = 1;
    /** Linux 6.17+: descriptors one copy-mode {@code sendto} sends at most (32 without it). */
    private static final int XDP_MAX_TX_SKB_BUDGET = 9;
    private static final short XDP_USE_NEED_WAKEUP = 8;
    private static final int XDP_RING_NEED_WAKEUP = 1;
    private static final long XDP_PGOFF_RX_RING = 0;
    private static final long XDP_PGOFF_TX_RING = 0x80000000L;
    private static final long XDP_UMEM_PGOFF_FILL_RING = 0x100000000L;
    private static final long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000L;
    private static final int DESC = 16; // struct xdp_desc { u64 addr; u32 len; u32 options; }
    private static final int EBUSY = 16;
    private static final int ENOBUFS = 105;
    private static final int ENOMEM = 12;

    private static final VarHandle INT = JAVA_INT.varHandle();

    /** One mapped ring: producer and consumer indexes, flags, descriptors. */
    private record Ring(MemorySegment map, long mapBytes, long producer, long consumer, long flags, long descs,
            int mask) {}

    private final LinuxNative sys;
    private final int fd;
    private final InterfaceInfo iface;
    private final int queue;
    private final boolean zeroCopy;
    private final MemorySegment umem;
    /** Frames in the UMEM, and entries of the fill and RX rings ({@code dsr.xdp_frames}). */
    private final int frames;
    private final Ring fill;
    private final Ring completion;
    private final Ring rx;
    private final Ring tx;
    private final MemorySegment pollFd;
    private final MemorySegment statistics;
    private final MemorySegment statisticsLength;
    private final MemorySegment headerSlot;

    // Owner-thread state: local copies of the indexes this side produces or consumes.
    private int fillProducer;
    private int completionConsumer;
    private int rxConsumer;
    private int txProducer;
    /** Descriptors put on the TX ring since the last kick. */
    private int txPending;
    /** Frames written to the TX ring and not yet completed. */
    private int txOutstanding;
    private final int[] free;
    private int freeCount;
    /** The UMEM offset of the frame being handed to the sink, and whether it was queued for sending. */
    private long currentFrame = -1;
    private boolean currentSent;
    private long lastKernelDrops;
    private boolean closed;

    // Counters written only by the owning thread; read racily by the metrics reader (see ForwarderCounters).
    private long transmitted;
    private long txQueueFull;
    private long txErrors;

    private AfXdpIo(LinuxNative sys, int fd, InterfaceInfo iface, int queue, boolean zeroCopy, MemorySegment umem,
            int frames, Ring fill, Ring completion, Ring rx, Ring tx) {
        this.sys = sys;
        this.fd = fd;
        this.iface = iface;
        this.queue = queue;
        this.zeroCopy = zeroCopy;
        this.umem = umem;
        this.frames = frames;
        this.free = new int[frames];
        this.fill = fill;
        this.completion = completion;
        this.rx = rx;
        this.tx = tx;
        this.pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
        this.statistics = sys.allocate(48);
        this.statisticsLength = sys.allocate(4);
        this.headerSlot = sys.allocate(HEADER_SLOT_BYTES);
        for (int i = frames - 1; i >= 0; i--) {
            free[freeCount++] = i;
        }
        refill();
    }

    /**
     * Opens an AF_XDP socket on queue {@code queue} of {@code iface}, with a UMEM of {@code frames} frames (and
     * fill and RX rings of as many entries), and puts it into {@code redirect}'s XSKMAP. The program need not be
     * attached yet.
     */
    public static AfXdpIo open(InterfaceInfo iface, int queue, XdpRedirect redirect, int frames)
            throws PacketEngineException {
        LinuxNative sys = new LinuxNative();
        int fd = sys.socket(AF_XDP, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int errno = sys.errno();
            sys.close();
            if (errno == LinuxNative.EPERM || errno == LinuxNative.EACCES) {
                throw new PacketEngineException("cannot open an AF_XDP socket: " + LinuxNative.describe(errno)
                        + ". AF_XDP needs CAP_NET_RAW (and CAP_BPF, CAP_NET_ADMIN for its XDP program): run maglevd "
                        + "as root or grant them, or set dsr.io: af_packet");
            }
            throw new PacketEngineException("socket(AF_XDP) failed: " + LinuxNative.describe(errno)
                    + " (a kernel without CONFIG_XDP_SOCKETS? set dsr.io: af_packet)");
        }
        Ring[] rings = new Ring[4];
        try {
            // The UMEM: page-aligned memory of the socket's arena, registered (and pinned) by the kernel.
            MemorySegment umem = sys.allocateAligned((long) FRAME_SIZE * frames, 4096);
            MemorySegment reg = sys.allocate(32); // struct xdp_umem_reg
            reg.set(JAVA_LONG, 0, umem.address());
            reg.set(JAVA_LONG, 8, umem.byteSize());
            reg.set(JAVA_INT, 16, FRAME_SIZE);
            reg.set(JAVA_INT, 20, 0); // headroom beyond XDP_PACKET_HEADROOM
            reg.set(JAVA_INT, 24, 0); // flags
            int r = sys.setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg, 24);
            int umemErrno = r < 0 ? sys.errno() : 0;
            if (umemErrno == LinuxNative.EPERM || umemErrno == ENOBUFS || umemErrno == ENOMEM) {
                // without CAP_IPC_LOCK the kernel charges the UMEM to RLIMIT_MEMLOCK and answers ENOBUFS above it
                throw new PacketEngineException("registering the AF_XDP UMEM of " + iface.name() + " queue " + queue
                        + " failed: " + LinuxNative.describe(umemErrno) + ". The UMEM (" + umem.byteSize() / (1 << 20)
                        + " MiB per queue, dsr.xdp_frames " + frames + " x " + FRAME_SIZE + " bytes) is locked memory "
                        + "and the memlock limit is too low: raise it (LimitMEMLOCK=infinity in the systemd unit, "
                        + "ulimit -l unlimited), or lower dsr.xdp_frames, or set dsr.io: af_packet");
            }
            check(sys, r, "XDP_UMEM_REG");
            check(sys, sys.setsockoptInt(fd, SOL_XDP, XDP_UMEM_FILL_RING, frames), "XDP_UMEM_FILL_RING");
            check(sys, sys.setsockoptInt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, COMPLETION_RING),
                    "XDP_UMEM_COMPLETION_RING");
            check(sys, sys.setsockoptInt(fd, SOL_XDP, XDP_RX_RING, frames), "XDP_RX_RING");
            check(sys, sys.setsockoptInt(fd, SOL_XDP, XDP_TX_RING, TX_RING), "XDP_TX_RING");
            MemorySegment offsets = sys.allocate(128); // struct xdp_mmap_offsets: rx, tx, fr, cr
            MemorySegment length = sys.allocate(4);
            length.set(JAVA_INT, 0, 128);
            check(sys, sys.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offsets, length), "XDP_MMAP_OFFSETS");
            rings[0] = map(sys, fd, offsets, 0, XDP_PGOFF_RX_RING, frames, DESC, "RX");
            rings[1] = map(sys, fd, offsets, 32, XDP_PGOFF_TX_RING, TX_RING, DESC, "TX");
            rings[2] = map(sys, fd, offsets, 64, XDP_UMEM_PGOFF_FILL_RING, frames, 8, "fill");
            rings[3] = map(sys, fd, offsets, 96, XDP_UMEM_PGOFF_COMPLETION_RING, COMPLETION_RING, 8, "completion");
            MemorySegment address = sys.allocate(16); // struct sockaddr_xdp
            address.set(JAVA_SHORT, 0, (short) AF_XDP);
            address.set(JAVA_SHORT, 2, XDP_USE_NEED_WAKEUP);
            address.set(JAVA_INT, 4, iface.index());
            address.set(JAVA_INT, 8, queue);
            // A socket of this queue closed a moment ago (an engine restarted by a reload) keeps the queue until
            // the kernel's deferred release of its buffer pool ran: wait for that, boundedly.
            int bound = sys.bind(fd, address, 16);
            for (int attempt = 0; bound < 0 && sys.errno() == EBUSY && attempt < BIND_RETRIES; attempt++) {
                sleepMs(BIND_RETRY_MS);
                bound = sys.bind(fd, address, 16);
            }
            if (bound < 0) {
                int errno = sys.errno();
                throw new PacketEngineException("binding the AF_XDP socket to " + iface.name() + " queue " + queue
                        + " failed: " + LinuxNative.describe(errno) + (errno == EBUSY
                                ? " (another AF_XDP socket has held that queue for 2 s: one DSR VIP engine per "
                                        + "interface on AF_XDP; set dsr.io: af_packet for the others)"
                                : errno == LinuxNative.EINVAL ? " (does the interface have that queue?)" : ""));
            }
            // Copy mode sends at most 32 frames per sendto unless told more (kernels before 6.17 do not know the
            // option: ENOPROTOOPT, and the flush loop kicks as often as it takes).
            sys.setsockoptInt(fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, TX_RING);
            MemorySegment options = sys.allocate(4);
            length.set(JAVA_INT, 0, 4);
            boolean zeroCopy = sys.getsockopt(fd, SOL_XDP, XDP_OPTIONS, options, length) == 0
                    && (options.get(JAVA_INT, 0) & XDP_OPTIONS_ZEROCOPY) != 0;
            redirect.registerSocket(queue, fd);
            return new AfXdpIo(sys, fd, iface, queue, zeroCopy, umem, frames, rings[2], rings[3], rings[0], rings[1]);
        } catch (PacketEngineException | RuntimeException e) {
            for (Ring ring : rings) {
                if (ring != null) {
                    sys.munmap(ring.map(), ring.mapBytes());
                }
            }
            sys.closeFd(fd);
            sys.close();
            throw e;
        }
    }

    private static final int BIND_RETRIES = 100;
    private static final int BIND_RETRY_MS = 20;

    private static void sleepMs(int ms) throws PacketEngineException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PacketEngineException("interrupted while waiting for an AF_XDP queue", e);
        }
    }

    private static Ring map(LinuxNative sys, int fd, MemorySegment offsets, long at, long pageOffset, int size,
            int descSize, String what) throws PacketEngineException {
        long producer = offsets.get(JAVA_LONG, at);
        long consumer = offsets.get(JAVA_LONG, at + 8);
        long descs = offsets.get(JAVA_LONG, at + 16);
        long flags = offsets.get(JAVA_LONG, at + 24);
        long bytes = descs + (long) size * descSize;
        MemorySegment m = sys.mmap(bytes, LinuxNative.PROT_READ | LinuxNative.PROT_WRITE,
                LinuxNative.MAP_SHARED | LinuxNative.MAP_POPULATE, fd, pageOffset);
        if (m.equals(MemorySegment.NULL)) {
            throw new PacketEngineException("mmap of the AF_XDP " + what + " ring failed: "
                    + LinuxNative.describe(sys.errno()));
        }
        return new Ring(m, bytes, producer, consumer, flags, descs, size - 1);
    }

    private static void check(LinuxNative sys, int result, String what) throws PacketEngineException {
        if (result < 0) {
            throw new PacketEngineException("AF_XDP " + what + " failed: " + LinuxNative.describe(sys.errno()));
        }
    }

    /** Whether the kernel bound the socket in zero-copy mode (false: copy mode). */
    public boolean zeroCopy() {
        return zeroCopy;
    }

    public int queue() {
        return queue;
    }

    /** The socket's descriptor (for the XSKMAP). */
    int fd() {
        return fd;
    }

    @Override
    public int receiveBatch(FrameSink sink, int timeoutMs) {
        Ring rx = this.rx;
        MemorySegment rxMap = rx.map();
        int available = (int) INT.getAcquire(rxMap, rx.producer()) - rxConsumer;
        if (available == 0) {
            reapCompletions();
            refill();
            sys.poll(pollFd, 1, timeoutMs);
            available = (int) INT.getAcquire(rxMap, rx.producer()) - rxConsumer;
            if (available == 0) {
                return 0;
            }
        }
        int n = Math.min(available, BATCH);
        sink.onBatchStart();
        for (int i = 0; i < n; i++) {
            long desc = rx.descs() + (long) ((rxConsumer + i) & rx.mask()) * DESC;
            long address = rxMap.get(JAVA_LONG, desc);
            int length = rxMap.get(JAVA_INT, desc + 8);
            long frame = address & ~(long) (FRAME_SIZE - 1);
            currentFrame = frame;
            currentSent = false;
            sink.onFrame(umem, address, length, length, FLAG_CHECKSUM_UNKNOWN);
            if (!currentSent) {
                free[freeCount++] = (int) (frame / FRAME_SIZE);
            }
        }
        currentFrame = -1;
        rxConsumer += n;
        INT.setRelease(rxMap, rx.consumer(), rxConsumer);
        flush();
        refill();
        return n;
    }

    /** Puts free frames on the fill ring. */
    private void refill() {
        Ring fill = this.fill;
        MemorySegment m = fill.map();
        int room = frames - (fillProducer - (int) INT.getAcquire(m, fill.consumer()));
        int n = Math.min(room, freeCount);
        if (n == 0) {
            return;
        }
        for (int i = 0; i < n; i++) {
            m.set(JAVA_LONG, fill.descs() + (long) ((fillProducer + i) & fill.mask()) * 8,
                    (long) free[--freeCount] * FRAME_SIZE);
        }
        fillProducer += n;
        INT.setRelease(m, fill.producer(), fillProducer);
    }

    /** Takes the frames the kernel has sent back onto the free stack. */
    private void reapCompletions() {
        Ring c = completion;
        MemorySegment m = c.map();
        int n = (int) INT.getAcquire(m, c.producer()) - completionConsumer;
        for (int i = 0; i < n; i++) {
            long address = m.get(JAVA_LONG, c.descs() + (long) ((completionConsumer + i) & c.mask()) * 8);
            free[freeCount++] = (int) (address / FRAME_SIZE);
        }
        if (n > 0) {
            completionConsumer += n;
            txOutstanding -= n;
            transmitted += n;
            INT.setRelease(m, c.consumer(), completionConsumer);
        }
    }

    @Override
    public boolean transmit(MemorySegment memory, long offset, int length) {
        long frame = offset & ~(long) (FRAME_SIZE - 1);
        if (memory != umem || frame != currentFrame || currentSent) {
            return copyAndTransmit(memory, offset, length);
        }
        if (!txSlot()) {
            txQueueFull++;
            return false;
        }
        putTx(offset, length);
        currentSent = true;
        return true;
    }

    /** A frame not in place (never from the DSR forwarder): copied into a free frame. */
    private boolean copyAndTransmit(MemorySegment memory, long offset, int length) {
        if (length > FRAME_SIZE - 256 || freeCount == 0 || !txSlot()) {
            txQueueFull++;
            return false;
        }
        long target = (long) free[--freeCount] * FRAME_SIZE + 256;
        MemorySegment.copy(memory, offset, umem, target, length);
        putTx(target, length);
        return true;
    }

    /** Whether the TX ring has a free slot, after sending and reaping when it had none. */
    private boolean txSlot() {
        if (txOutstanding < TX_RING && txOutstanding < COMPLETION_RING) {
            return true;
        }
        flush();
        return txOutstanding < TX_RING && txOutstanding < COMPLETION_RING;
    }

    private void putTx(long address, int length) {
        Ring tx = this.tx;
        MemorySegment m = tx.map();
        long desc = tx.descs() + (long) (txProducer & tx.mask()) * DESC;
        m.set(JAVA_LONG, desc, address);
        m.set(JAVA_INT, desc + 8, length);
        m.set(JAVA_INT, desc + 12, 0);
        txProducer++;
        txPending++;
        txOutstanding++;
        if (txPending == BATCH) {
            flush();
        }
    }

    @Override
    public MemorySegment headerSlot() {
        return headerSlot;
    }

    @Override
    public int headerSlotSize() {
        return HEADER_SLOT_BYTES;
    }

    /** Copies the header into the headroom in front of {@code offset} and sends header and packet as one frame. */
    @Override
    public boolean transmitWithHeader(int headerLength, MemorySegment memory, long offset, int length) {
        long start = offset - headerLength;
        if (memory != umem || (start & ~(long) (FRAME_SIZE - 1)) != currentFrame) {
            txErrors++;
            return false;
        }
        MemorySegment.copy(headerSlot, 0, umem, start, headerLength);
        return transmit(umem, start, headerLength + length);
    }

    /**
     * Publishes the queued descriptors and kicks the kernel when it asks for it (copy mode: always; the kernel
     * sends at most 32 frames per kick, so it is kicked until the ring is drained or it reports a full device
     * queue), then reaps completions.
     */
    @Override
    public void flush() {
        Ring tx = this.tx;
        MemorySegment m = tx.map();
        if (txPending > 0) {
            INT.setRelease(m, tx.producer(), txProducer);
            txPending = 0;
        }
        int kicks = 0;
        while ((int) INT.getAcquire(m, tx.consumer()) != txProducer && kicks < TX_RING / 32 + 2) {
            if (((int) INT.getAcquire(m, tx.flags()) & XDP_RING_NEED_WAKEUP) == 0) {
                break; // the driver sends on its own (zero-copy without need-wakeup pending)
            }
            kicks++;
            if (sys.sendto(fd, MemorySegment.NULL, 0, LinuxNative.MSG_DONTWAIT, MemorySegment.NULL, 0) < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EAGAIN || errno == LinuxNative.EINTR) {
                    continue; // budget used up, or more frames than one kick sends
                }
                if (errno != EBUSY && errno != ENOBUFS) {
                    txErrors++;
                }
                break;
            }
        }
        reapCompletions();
    }

    @Override
    public long takeKernelDrops() {
        statisticsLength.set(JAVA_INT, 0, 48);
        if (sys.getsockopt(fd, SOL_XDP, XDP_STATISTICS, statistics, statisticsLength) < 0) {
            return 0;
        }
        // rx_dropped + rx_ring_full: cumulative in the kernel
        long total = statistics.get(JAVA_LONG, 0) + statistics.get(JAVA_LONG, 24);
        long delta = total - lastKernelDrops;
        lastKernelDrops = total;
        return delta;
    }

    @Override
    public long transmitQueueFullDrops() {
        return txQueueFull;
    }

    @Override
    public long transmitErrors() {
        return txErrors;
    }

    /** Frames the kernel reported sent (completions) so far. */
    @Override
    public long transmitted() {
        return transmitted;
    }

    @Override
    public InterfaceInfo iface() {
        return iface;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Ring ring : new Ring[] {rx, tx, fill, completion}) {
            sys.munmap(ring.map(), ring.mapBytes());
        }
        sys.closeFd(fd); // the kernel removes the socket from the XSKMAP and unregisters the UMEM
        sys.close();     // frees the UMEM
    }
}
