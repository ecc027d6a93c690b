package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * {@link PacketIo} on one AF_PACKET socket: a TPACKET_V3 receive ring mapped into memory (frames are read in
 * place), transmission by {@code sendmmsg} with gather vectors that point into the ring (and into header slots
 * for encapsulation), so a forwarded frame is copied once, by the kernel, into its outgoing buffer.
 *
 * <p>Setup order matters: the socket is created with protocol 0 so it receives nothing until the filter,
 * ring and options are in place, then bound to the interface and the VIP's ethertype, then joined to the
 * fanout group (the kernel requires a bound socket for that). Binding to one ethertype (not ETH_P_ALL) keeps
 * the socket off the interface's transmit tap entirely, but the kernel hands such sockets their frames after
 * the tc ingress hook; with {@code dsr.ingress_drop} the socket is bound to ETH_P_ALL instead, whose taps run
 * before that hook, and PACKET_IGNORE_OUTGOING with its fanout twin PACKET_FANOUT_FLAG_IGNORE_OUTGOING (a socket in
 * a fanout group receives through the group's hook, which has its own flag) keep it off the transmit side.
 *
 * <p><b>Threading.</b> {@link #open} runs on the engine's starting thread; afterwards the socket belongs to one
 * forwarding thread (see {@link PacketIo}). {@link #close()} only after that thread has stopped.
 */
public final class AfPacketIo implements PacketIo {
    // struct tpacket_block_desc / tpacket_hdr_v1 field offsets
    private static final long BLOCK_STATUS = 8;
    private static final long BLOCK_NUM_PKTS = 12;
    private static final long BLOCK_FIRST_PKT = 16;
    private static final long BLOCK_SEQ_NUM = 24;
    // struct tpacket3_hdr field offsets
    private static final long PKT_NEXT = 0;
    private static final long PKT_SNAPLEN = 12;
    private static final long PKT_LEN = 16;
    private static final long PKT_STATUS = 20;
    private static final long PKT_MAC = 24;
    private static final int TP_STATUS_KERNEL = 0;
    private static final int TP_STATUS_USER = 1;
    private static final int TP_STATUS_CSUMNOTREADY = 8;
    private static final int TP_STATUS_VLAN_VALID = 0x10;
    // struct mmsghdr (struct msghdr + unsigned int msg_len, padded): 64 bytes; struct iovec: 16 bytes
    private static final long MMSG_SIZE = 64;
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long IOV_SIZE = 16;
    /** Bytes of each header slot: outer Ethernet + IPv4 + UDP + GUE is 46; room for IPv6 outer headers later. */
    public static final int HEADER_SLOT_BYTES = 128;

    private static final VarHandle RING_INT = JAVA_INT.varHandle();

    /**
     * Native memory: per socket, owned by this object. {@code sys}'s arena holds everything allocated at
     * {@link #open} (socket option arguments, the filter program) and in the constructor (poll entry, mmsghdr and
     * iovec arrays, header slots, statistics scratch); the kernel's ring is mmap'd. Nothing is allocated after
     * open; {@link #close()} unmaps the ring and frees the arena.
     */
    private final LinuxNative sys;
    private final int fd;
    private final InterfaceInfo iface;
    private final MemorySegment ring;
    private final long ringBytes;
    private final int blockSize;
    private final int blockCount;
    private final int fanoutGroup;
    private int blockIndex;

    private final MemorySegment pollFd;
    private final MemorySegment messages;
    private final MemorySegment[] messagesFrom;
    private final MemorySegment iovecs;
    private final MemorySegment headers;
    private final MemorySegment[] headerSlots;
    private final MemorySegment statsBuffer;
    private final MemorySegment statsLength;
    private final int batch;
    private int queued;
    private boolean closed;

    // Counters written only by the owning thread; read racily by the metrics reader (see ForwarderCounters).
    private long transmitted;
    private long txQueueFull;
    private long txErrors;

    private AfPacketIo(LinuxNative sys, int fd, InterfaceInfo iface, MemorySegment ring, AfPacketOptions options,
            int fanoutGroup) {
        this.sys = sys;
        this.fd = fd;
        this.iface = iface;
        this.ring = ring;
        this.blockSize = options.blockSizeBytes();
        this.blockCount = options.blockCount();
        this.ringBytes = (long) blockSize * blockCount;
        this.fanoutGroup = fanoutGroup;
        this.batch = options.transmitBatch();
        this.pollFd = sys.allocate(8);
        pollFd.set(JAVA_INT, 0, fd);
        pollFd.set(JAVA_SHORT, 4, LinuxNative.POLLIN);
        this.messages = sys.allocate(MMSG_SIZE * batch);
        this.iovecs = sys.allocate(IOV_SIZE * 2 * batch);
        this.headers = sys.allocate((long) HEADER_SLOT_BYTES * batch);
        this.headerSlots = new MemorySegment[batch];
        this.messagesFrom = new MemorySegment[batch];
        for (int i = 0; i < batch; i++) {
            messagesFrom[i] = messages.asSlice(MMSG_SIZE * i);
            messages.set(ADDRESS, MMSG_SIZE * i + MSG_IOV, iovecs.asSlice(IOV_SIZE * 2 * i));
            headerSlots[i] = headers.asSlice((long) HEADER_SLOT_BYTES * i, HEADER_SLOT_BYTES);
        }
        this.statsBuffer = sys.allocate(12);
        this.statsLength = sys.allocate(4);
    }

    /**
     * Fails with the capability to grant when this process may not open AF_PACKET sockets; call before anything
     * else so that is the error an operator sees first.
     */
    public static void checkCapability() throws PacketEngineException {
        try (LinuxNative sys = new LinuxNative()) { // per call: no memory, only errno state
            int fd = sys.socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw socketError(sys.errno());
            }
            sys.closeFd(fd);
        }
    }

    private static PacketEngineException socketError(int errno) {
        if (errno == LinuxNative.EPERM || errno == LinuxNative.EACCES) {
            return new PacketEngineException("cannot open an AF_PACKET socket: " + LinuxNative.describe(errno)
                    + ". The DSR packet engine needs the CAP_NET_RAW capability (AF_PACKET sockets) and"
                    + " CAP_NET_ADMIN (its tc ingress filter). Run maglevd as root, or grant both, e.g."
                    + " AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN in its systemd unit, or"
                    + " `setcap cap_net_raw,cap_net_admin+ep` on the java binary");
        }
        return new PacketEngineException("socket(AF_PACKET, SOCK_RAW) failed: " + LinuxNative.describe(errno));
    }

    /**
     * Opens a socket on {@code iface} receiving frames of {@code etherType} (of every type when
     * {@code beforeIngressHook}: then it sees them before tc's ingress filters) that pass {@code filter}, and joins
     * fanout group {@code fanoutGroup}, or creates a new group with a kernel-assigned unique id when it is
     * negative ({@link #fanoutGroup()} then tells the id for the other sockets). With
     * {@link AfPacketOptions.Fanout#FLOW_KEY} the creator installs {@link FlowSteering}'s program for the group.
     */
    public static AfPacketIo open(InterfaceInfo iface, BpfProgram filter, int etherType, boolean beforeIngressHook,
            AfPacketOptions options, int fanoutGroup) throws PacketEngineException {
        LinuxNative sys = new LinuxNative();
        int fd = sys.socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int errno = sys.errno();
            sys.close();
            throw socketError(errno);
        }
        MemorySegment ring = MemorySegment.NULL;
        long ringBytes = (long) options.blockSizeBytes() * options.blockCount();
        try {
            check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_VERSION, LinuxNative.TPACKET_V3),
                    "PACKET_VERSION TPACKET_V3");
            check(sys, sys.setsockopt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_ATTACH_FILTER, filter.toSockFprog(sys), 16),
                    "SO_ATTACH_FILTER");
            check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_IGNORE_OUTGOING, 1),
                    "PACKET_IGNORE_OUTGOING");
            if (options.qdiscBypass()) {
                check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_QDISC_BYPASS, 1),
                        "PACKET_QDISC_BYPASS");
            }
            check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUF, options.sendBufferBytes() / 2),
                    "SO_SNDBUF");
            MemorySegment req = sys.allocate(28);
            req.set(JAVA_INT, 0, options.blockSizeBytes());                  // tp_block_size
            req.set(JAVA_INT, 4, options.blockCount());                      // tp_block_nr
            req.set(JAVA_INT, 8, AfPacketOptions.FRAME_SIZE);                // tp_frame_size
            req.set(JAVA_INT, 12, (int) (ringBytes / AfPacketOptions.FRAME_SIZE)); // tp_frame_nr
            req.set(JAVA_INT, 16, options.retireTimeoutMs());                // tp_retire_blk_tov
            req.set(JAVA_INT, 20, 0);                                        // tp_sizeof_priv
            req.set(JAVA_INT, 24, 0);                                        // tp_feature_req_word
            check(sys, sys.setsockopt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_RX_RING, req, 28), "PACKET_RX_RING");
            ring = sys.mmap(ringBytes, LinuxNative.PROT_READ | LinuxNative.PROT_WRITE,
                    LinuxNative.MAP_SHARED | LinuxNative.MAP_POPULATE, fd);
            if (ring.equals(MemorySegment.NULL)) {
                throw new PacketEngineException("mmap of the " + ringBytes + "-byte receive ring failed: "
                        + LinuxNative.describe(sys.errno()));
            }
            MemorySegment sll = sys.allocate(20);
            sll.set(JAVA_SHORT, 0, (short) LinuxNative.AF_PACKET);
            sll.set(JAVA_SHORT, 2, LinuxNative.htons(beforeIngressHook ? LinuxNative.ETH_P_ALL : etherType));
            sll.set(JAVA_INT, 4, iface.index());
            check(sys, sys.bind(fd, sll, 20), "bind to interface " + iface.name());
            int group;
            int fanoutType = options.fanout() == AfPacketOptions.Fanout.FLOW_KEY ? LinuxNative.PACKET_FANOUT_CBPF
                    : LinuxNative.PACKET_FANOUT_HASH;
            // A socket in a fanout group receives through the group's hook, not its own: PACKET_IGNORE_OUTGOING
            // above no longer applies, and the group must be created (and joined) with the fanout flag of the
            // same meaning (Linux 6.5+). Without it the engine takes this host's own packets to the VIP (DSR
            // health probes at the VIP, a local client) for client frames and forwards them a second time.
            int ignoreOutgoing = LinuxNative.PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
            if (fanoutGroup < 0) {
                int mode = fanoutType | LinuxNative.PACKET_FANOUT_FLAG_UNIQUEID;
                if (sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT,
                        (mode | ignoreOutgoing) << 16) < 0) {
                    warnNoIgnoreOutgoing(iface, sys.errno());
                    check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT, mode << 16),
                            "PACKET_FANOUT (new group)");
                }
                MemorySegment v = sys.allocate(4);
                MemorySegment len = sys.allocate(4);
                len.set(JAVA_INT, 0, 4);
                check(sys, sys.getsockopt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT, v, len),
                        "getsockopt PACKET_FANOUT");
                group = v.get(JAVA_INT, 0) & 0xffff;
                if (fanoutType == LinuxNative.PACKET_FANOUT_CBPF) {
                    BpfProgram steering = FlowSteering.program(etherType == LinuxNative.ETH_P_IPV6);
                    check(sys, sys.setsockopt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT_DATA,
                            steering.toSockFprog(sys), 16), "PACKET_FANOUT_DATA (steering program)");
                }
            } else {
                group = fanoutGroup & 0xffff;
                // the group's flags must match: with the flag if the first socket got it, else without
                if (sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT,
                        group | ((fanoutType | ignoreOutgoing) << 16)) < 0) {
                    check(sys, sys.setsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT,
                            group | (fanoutType << 16)), "PACKET_FANOUT (join group " + group + ")");
                }
            }
            return new AfPacketIo(sys, fd, iface, ring, options, group);
        } catch (PacketEngineException | RuntimeException e) {
            if (!ring.equals(MemorySegment.NULL)) {
                sys.munmap(ring, ringBytes);
            }
            sys.closeFd(fd);
            sys.close();
            throw e;
        }
    }

    /**
     * Takes over {@code fd}, an AF_PACKET socket another engine set up with {@link #open} (a predecessor process
     * handed it over at a takeover, with SCM_RIGHTS): maps its receive ring and goes on reading where that engine
     * stopped, in its fanout group, with its filters. Nothing is changed on the socket, so flows stay on the
     * socket (and thread) the group steers them to, and frames that arrived meanwhile wait in the ring.
     *
     * <p>Where to read next is taken from the ring itself, so the predecessor need not say: of the blocks the
     * kernel has handed to user space, the one it filled first (lowest sequence number); when there is none, the
     * block the kernel opened last (highest sequence number), which it is filling now. The predecessor's thread
     * must have stopped reading (it releases each block before it stops).
     *
     * @param options the ring geometry the socket was set up with (the same options: a ring of another size
     *     cannot be mapped, which is reported)
     * @throws PacketEngineException when {@code fd} is not a TPACKET_V3 AF_PACKET socket bound to {@code iface}
     *     in a fanout group, or its ring cannot be mapped; {@code fd} stays open (the caller's to close) then
     */
    public static AfPacketIo adopt(InterfaceInfo iface, int fd, AfPacketOptions options) throws PacketEngineException {
        LinuxNative sys = new LinuxNative();
        MemorySegment ring = MemorySegment.NULL;
        long ringBytes = (long) options.blockSizeBytes() * options.blockCount();
        try {
            int domain = sys.getsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_DOMAIN);
            int type = sys.getsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_TYPE);
            if (domain != LinuxNative.AF_PACKET || type != LinuxNative.SOCK_RAW) {
                throw new PacketEngineException("handed-over descriptor " + fd + " is not an AF_PACKET raw socket"
                        + (domain < 0 ? ": " + LinuxNative.describe(sys.errno()) : " (domain " + domain + ", type "
                                + type + ")"));
            }
            int version = sys.getsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_VERSION);
            if (version != LinuxNative.TPACKET_V3) {
                throw new PacketEngineException("handed-over packet socket " + fd + " uses ring version " + version
                        + ", not TPACKET_V3");
            }
            MemorySegment sll = sys.allocate(20);
            MemorySegment length = sys.allocate(4);
            length.set(JAVA_INT, 0, 20);
            check(sys, sys.getsockname(fd, sll, length), "getsockname of handed-over packet socket " + fd);
            int ifindex = sll.get(JAVA_INT, 4);
            if (ifindex != iface.index()) {
                throw new PacketEngineException("handed-over packet socket " + fd + " is bound to interface index "
                        + ifindex + ", not to " + iface.name() + " (" + iface.index() + ")");
            }
            int fanout = sys.getsockoptInt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_FANOUT);
            if (fanout <= 0) {
                throw new PacketEngineException("handed-over packet socket " + fd + " is in no fanout group");
            }
            ring = sys.mmap(ringBytes, LinuxNative.PROT_READ | LinuxNative.PROT_WRITE,
                    LinuxNative.MAP_SHARED | LinuxNative.MAP_POPULATE, fd);
            if (ring.equals(MemorySegment.NULL)) {
                throw new PacketEngineException("cannot map the receive ring of handed-over packet socket " + fd
                        + " as " + options.blockCount() + " blocks of " + options.blockSizeBytes() + " bytes: "
                        + LinuxNative.describe(sys.errno()) + " (set up with other ring options?)");
            }
            AfPacketIo io = new AfPacketIo(sys, fd, iface, ring, options, fanout & 0xffff);
            io.blockIndex = nextBlockToRead(ring, options.blockSizeBytes(), options.blockCount());
            return io;
        } catch (PacketEngineException | RuntimeException e) {
            if (!ring.equals(MemorySegment.NULL)) {
                sys.munmap(ring, ringBytes);
            }
            sys.close();
            throw e;
        }
    }

    /** See {@link #adopt}: the block a reader that takes over the ring must wait on or read first. */
    static int nextBlockToRead(MemorySegment ring, int blockSize, int blockCount) {
        int next = -1;
        long nextSeq = 0;
        for (int b = 0; b < blockCount; b++) {
            long base = (long) b * blockSize;
            if (((int) RING_INT.getAcquire(ring, base + BLOCK_STATUS) & TP_STATUS_USER) != 0) {
                long seq = ring.get(JAVA_LONG, base + BLOCK_SEQ_NUM);
                if (next < 0 || Long.compareUnsigned(seq, nextSeq) < 0) {
                    next = b;
                    nextSeq = seq;
                }
            }
        }
        if (next >= 0) {
            return next;
        }
        for (int b = 0; b < blockCount; b++) {
            long seq = ring.get(JAVA_LONG, (long) b * blockSize + BLOCK_SEQ_NUM);
            if (next < 0 || Long.compareUnsigned(seq, nextSeq) > 0) {
                next = b;
                nextSeq = seq;
            }
        }
        return next;
    }

    /**
     * Finds the ring block to read next from the ring itself (see {@link #adopt}): after another reader of the same
     * socket stopped (the predecessor process, whose threads read on until it let go). Owner thread, or before it
     * starts.
     */
    void recoverPosition() {
        blockIndex = nextBlockToRead(ring, blockSize, blockCount);
    }

    /** Undoes {@link #adopt}: unmaps the ring and frees the memory, leaves the descriptor open (not ours). */
    void releaseWithoutClosing() {
        if (closed) {
            return;
        }
        closed = true;
        sys.munmap(ring, ringBytes);
        sys.close();
    }

    /** The socket's descriptor: what a takeover hands to the successor process. */
    public int fd() {
        return fd;
    }

    /** The ring block this socket reads next (for tests of {@link #adopt}). */
    int blockIndex() {
        return blockIndex;
    }

    private static volatile boolean warnedIgnoreOutgoing;

    private static void warnNoIgnoreOutgoing(InterfaceInfo iface, int errno) {
        if (!warnedIgnoreOutgoing) {
            warnedIgnoreOutgoing = true;
            org.slf4j.LoggerFactory.getLogger(AfPacketIo.class).warn("this kernel refuses "
                    + "PACKET_FANOUT_FLAG_IGNORE_OUTGOING ({}; Linux 6.5+): the DSR engine on {} also receives this "
                    + "host's own packets to the VIP (health probes at the VIP, local clients) and forwards them",
                    LinuxNative.describe(errno), iface.name());
        }
    }

    private static void check(LinuxNative sys, int result, String what) throws PacketEngineException {
        if (result < 0) {
            throw new PacketEngineException(what + " failed: " + LinuxNative.describe(sys.errno()));
        }
    }

    /** The fanout group this socket is in (hand it to the next socket of the same engine). */
    public int fanoutGroup() {
        return fanoutGroup;
    }

    @Override
    public int receiveBatch(FrameSink sink, int timeoutMs) {
        long base = (long) blockIndex * blockSize;
        int status = (int) RING_INT.getAcquire(ring, base + BLOCK_STATUS);
        if ((status & TP_STATUS_USER) == 0) {
            sys.poll(pollFd, 1, timeoutMs);
            status = (int) RING_INT.getAcquire(ring, base + BLOCK_STATUS);
            if ((status & TP_STATUS_USER) == 0) {
                return 0;
            }
        }
        MemorySegment ring = this.ring;
        sink.onBatchStart();
        int count = ring.get(JAVA_INT, base + BLOCK_NUM_PKTS);
        long frame = base + (ring.get(JAVA_INT, base + BLOCK_FIRST_PKT) & 0xffff_ffffL);
        long blockEnd = base + blockSize;
        int handled = 0;
        for (int i = 0; i < count && frame < blockEnd; i++) {
            int pktStatus = ring.get(JAVA_INT, frame + PKT_STATUS);
            int snapLength = ring.get(JAVA_INT, frame + PKT_SNAPLEN);
            int wireLength = ring.get(JAVA_INT, frame + PKT_LEN);
            int mac = ring.get(JAVA_SHORT, frame + PKT_MAC) & 0xffff;
            if (frame + mac + snapLength <= blockEnd) {
                int flags = ((pktStatus & TP_STATUS_CSUMNOTREADY) != 0 ? FLAG_CHECKSUM_NOT_READY : 0)
                        | ((pktStatus & TP_STATUS_VLAN_VALID) != 0 ? FLAG_VLAN_STRIPPED : 0);
                sink.onFrame(ring, frame + mac, snapLength, wireLength, flags);
                handled++;
            }
            long next = ring.get(JAVA_INT, frame + PKT_NEXT) & 0xffff_ffffL;
            if (next == 0) {
                break;
            }
            frame += next;
        }
        flush();
        RING_INT.setRelease(ring, base + BLOCK_STATUS, TP_STATUS_KERNEL);
        blockIndex = blockIndex + 1 == blockCount ? 0 : blockIndex + 1;
        return handled;
    }

    @Override
    public boolean transmit(MemorySegment memory, long offset, int length) {
        if (queued == batch) {
            flush();
        }
        int i = queued;
        long iov = IOV_SIZE * 2 * i;
        iovecs.set(JAVA_LONG, iov, memory.address() + offset);
        iovecs.set(JAVA_LONG, iov + 8, length);
        messages.set(JAVA_LONG, MMSG_SIZE * i + MSG_IOVLEN, 1L);
        queued = i + 1;
        return true;
    }

    @Override
    public MemorySegment headerSlot() {
        if (queued == batch) {
            flush();
        }
        return headerSlots[queued];
    }

    @Override
    public int headerSlotSize() {
        return HEADER_SLOT_BYTES;
    }

    @Override
    public boolean transmitWithHeader(int headerLength, MemorySegment memory, long offset, int length) {
        if (queued == batch) {
            // the caller wrote into headerSlot() which flushed a full queue first, so this cannot happen
            throw new IllegalStateException("transmitWithHeader without headerSlot()");
        }
        int i = queued;
        long iov = IOV_SIZE * 2 * i;
        iovecs.set(JAVA_LONG, iov, headerSlots[i].address());
        iovecs.set(JAVA_LONG, iov + 8, headerLength);
        iovecs.set(JAVA_LONG, iov + 16, memory.address() + offset);
        iovecs.set(JAVA_LONG, iov + 24, length);
        messages.set(JAVA_LONG, MMSG_SIZE * i + MSG_IOVLEN, 2L);
        queued = i + 1;
        return true;
    }

    /**
     * Sends the queue. sendmmsg stops at the first frame the kernel refuses and reports how many went; a full
     * queue (EAGAIN / ENOBUFS) or a down interface drops the rest of the batch, any other error skips just the
     * refused frame. The loop runs at most once per queued frame.
     */
    @Override
    public void flush() {
        int total = queued;
        if (total == 0) {
            return;
        }
        int start = 0;
        while (start < total) {
            int sent = sys.sendmmsg(fd, messagesFrom[start], total - start, LinuxNative.MSG_DONTWAIT);
            if (sent > 0) {
                transmitted += sent;
                start += sent;
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EINTR) {
                continue;
            }
            if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                txQueueFull += total - start;
                break;
            }
            if (errno == LinuxNative.ENETDOWN || errno == LinuxNative.ENXIO || errno == LinuxNative.ENODEV) {
                txErrors += total - start; // the interface is down or gone: every frame would fail alike
                break;
            }
            txErrors++;
            start++;
        }
        queued = 0;
    }

    @Override
    public long takeKernelDrops() {
        statsLength.set(JAVA_INT, 0, 12);
        if (sys.getsockopt(fd, LinuxNative.SOL_PACKET, LinuxNative.PACKET_STATISTICS, statsBuffer, statsLength) < 0) {
            return 0;
        }
        return statsBuffer.get(JAVA_INT, 4) & 0xffff_ffffL; // tp_drops; reading resets the kernel's counters
    }

    @Override
    public long transmitQueueFullDrops() {
        return txQueueFull;
    }

    @Override
    public long transmitErrors() {
        return txErrors;
    }

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
        sys.munmap(ring, ringBytes);
        sys.closeFd(fd);
        sys.close();
    }
}
