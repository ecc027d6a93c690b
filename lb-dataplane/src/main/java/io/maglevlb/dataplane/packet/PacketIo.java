package io.maglevlb.dataplane.packet;

import java.lang.foreign.MemorySegment;

/**
 * Batched frame I/O of one forwarding thread on one interface: the seam between the forwarding logic and the
 * kernel interface that moves the frames. {@link AfPacketIo} implements it with an AF_PACKET socket (TPACKET_V3
 * receive ring, sendmmsg transmit); an AF_XDP implementation (UMEM + fill/completion rings) fits the same
 * shape: received frames are views into shared memory that stay valid until the batch ends, and transmitted
 * frames are queued by reference and handed to the kernel by {@link #flush()}.
 *
 * <p><b>Threading.</b> Owned by one thread; no method may be called from another, except {@link #close()} after
 * that thread stopped.
 *
 * <p><b>Lifetime of memory.</b> A frame handed to {@link FrameSink#onFrame} and anything queued with
 * {@code transmit*} must not be used after the batch ends: {@link #receiveBatch} flushes the transmit queue
 * before it gives the receive memory back to the kernel.
 */
public interface PacketIo extends AutoCloseable {

    /** Frame flag: the L4 checksum was left to offload (TP_STATUS_CSUMNOTREADY); whoever sends it on computes it. */
    int FLAG_CHECKSUM_NOT_READY = 1;
    /** Frame flag: the frame had a VLAN tag that the NIC stripped (it is not in the frame's bytes). */
    int FLAG_VLAN_STRIPPED = 2;
    /**
     * Frame flag: the I/O cannot tell whether the L4 checksum was left to offload (AF_XDP sees only the bytes); the
     * forwarder completes it when the checksum field holds the pseudo-header sum
     * ({@link Checksums#looksLeftToOffload}).
     */
    int FLAG_CHECKSUM_UNKNOWN = 4;

    /** Called for each received frame, on the owning thread. */
    @FunctionalInterface
    interface FrameSink {
        /**
         * @param memory memory holding the frame (e.g. the whole receive ring)
         * @param offset where the frame's Ethernet header starts in {@code memory}
         * @param capturedLength bytes of the frame present in {@code memory}
         * @param wireLength length of the frame as received (larger than captured when it was truncated)
         * @param flags {@link #FLAG_CHECKSUM_NOT_READY}, {@link #FLAG_VLAN_STRIPPED}, {@link #FLAG_CHECKSUM_UNKNOWN}
         */
        void onFrame(MemorySegment memory, long offset, int capturedLength, int wireLength, int flags);

        /**
         * Called once per batch after the frames arrived and before the first {@link #onFrame}: where the sink reads
         * the state it decides the batch with (a snapshot read before waiting for frames could be older than them).
         */
        default void onBatchStart() {}
    }

    /**
     * Waits up to {@code timeoutMs} for received frames, hands each of one batch to {@code sink}, flushes the
     * transmit queue, and returns the batch's memory to the kernel.
     *
     * @return frames handed to the sink (0 on timeout)
     */
    int receiveBatch(FrameSink sink, int timeoutMs);

    /**
     * Queues {@code memory[offset, offset + length)} as one frame (starting with its Ethernet header). The memory
     * must stay valid until the batch ends (a received frame, or a {@linkplain #headerSlot() header slot}).
     *
     * @return false when the frame was dropped because the queue was full and could not be flushed
     */
    boolean transmit(MemorySegment memory, long offset, int length);

    /**
     * Queues one frame made of {@code headerLength} bytes from the current {@link #headerSlot()} followed by
     * {@code memory[offset, offset + length)}: how encapsulation prepends outer headers without copying.
     */
    boolean transmitWithHeader(int headerLength, MemorySegment memory, long offset, int length);

    /** Scratch memory for the headers of the next frame queued with {@link #transmitWithHeader}. */
    MemorySegment headerSlot();

    /** Bytes available in each {@link #headerSlot()}. */
    int headerSlotSize();

    /** Hands every queued frame to the kernel now. */
    void flush();

    /** Frames the kernel dropped before user space saw them (receive ring full), since the last call. */
    long takeKernelDrops();

    /** Frames that could not be sent because the kernel's transmit queue was full (cumulative). */
    long transmitQueueFullDrops();

    /** Frames the kernel refused to send for another reason (cumulative). */
    long transmitErrors();

    /** Frames handed to the kernel for transmission (cumulative). */
    long transmitted();

    /** The interface this I/O is bound to. */
    InterfaceInfo iface();

    @Override
    void close();
}
