package io.maglevlb.dataplane.packet;

/**
 * Sizing of one AF_PACKET socket.
 *
 * @param blockSizeBytes TPACKET_V3 receive block size: a power of two, at least 4096. A block is the unit the
 *     kernel hands to user space, so it is also the receive batch.
 * @param blockCount receive blocks in the ring (ring memory = blockSizeBytes x blockCount per thread)
 * @param retireTimeoutMs the kernel hands over a partly filled block after this long: the extra latency a
 *     packet can see at low load (the kernel rounds it to its timer tick)
 * @param transmitBatch frames handed to the kernel per sendmmsg call at most
 * @param sendBufferBytes SO_SNDBUF of the socket: how many bytes of sent frames may wait in the kernel
 * @param qdiscBypass PACKET_QDISC_BYPASS: send straight to the driver, skipping the interface's queueing
 *     discipline (faster; frames are dropped instead of queued when the device queue is full)
 * @param fanout how the kernel spreads frames over the engine's sockets
 */
public record AfPacketOptions(int blockSizeBytes, int blockCount, int retireTimeoutMs, int transmitBatch,
        int sendBufferBytes, boolean qdiscBypass, Fanout fanout) {

    /** How the kernel picks the socket (thread) for a frame. */
    public enum Fanout {
        /**
         * PACKET_FANOUT_CBPF with {@link FlowSteering}: a hash of the client address and port, read from the quoted
         * header for ICMP errors, so errors reach the thread that tracks their flow. The default.
         */
        FLOW_KEY,
        /**
         * PACKET_FANOUT_HASH: the kernel's flow hash. Flows stay on one thread, but an ICMP error about a flow is
         * hashed by its own (router to VIP) header and lands on any thread; one that does not track the flow
         * places the error by the current Maglev table, which may no longer be the flow's backend.
         */
        KERNEL_HASH
    }

    /*
     * Ring geometry: the kernel hands a block over when it is full or after the retire timeout, so at low rates
     * each block carries about one timeout's worth of packets and the ring buffers blockCount x timeout of
     * traffic; at high rates it buffers blockCount x blockSize bytes. 256 blocks of 64 KiB (16 MiB a thread)
     * ride out a forwarding thread descheduled for 250 ms at any rate below ~2.5 Mpps of small packets.
     */
    public static final int DEFAULT_BLOCK_SIZE_BYTES = 1 << 16;
    public static final int DEFAULT_BLOCK_COUNT = 256;
    public static final int DEFAULT_RETIRE_TIMEOUT_MS = 1;
    public static final int DEFAULT_TRANSMIT_BATCH = 128;
    public static final int DEFAULT_SEND_BUFFER_BYTES = 4 << 20;
    /** Frame size the kernel checks ring geometry with; TPACKET_V3 packs frames of any size into blocks. */
    static final int FRAME_SIZE = 2048;

    public AfPacketOptions {
        if (blockSizeBytes < 4096 || Integer.bitCount(blockSizeBytes) != 1) {
            throw new IllegalArgumentException("block size must be a power of two >= 4096, was " + blockSizeBytes);
        }
        if (blockCount < 2 || (long) blockCount * blockSizeBytes > (1L << 31)) {
            throw new IllegalArgumentException("block count must be >= 2 and the ring at most 2 GiB, was "
                    + blockCount + " x " + blockSizeBytes);
        }
        if (retireTimeoutMs < 1 || retireTimeoutMs > 1000) {
            throw new IllegalArgumentException("retire timeout must be 1..1000 ms, was " + retireTimeoutMs);
        }
        if (transmitBatch < 1 || transmitBatch > 1024) {
            throw new IllegalArgumentException("transmit batch must be 1..1024, was " + transmitBatch);
        }
        java.util.Objects.requireNonNull(fanout, "fanout");
        if (sendBufferBytes < 65536) {
            throw new IllegalArgumentException("send buffer must be >= 65536 bytes, was " + sendBufferBytes);
        }
    }

    public static AfPacketOptions defaults() {
        return new AfPacketOptions(DEFAULT_BLOCK_SIZE_BYTES, DEFAULT_BLOCK_COUNT, DEFAULT_RETIRE_TIMEOUT_MS,
                DEFAULT_TRANSMIT_BATCH, DEFAULT_SEND_BUFFER_BYTES, false, Fanout.FLOW_KEY);
    }
}
