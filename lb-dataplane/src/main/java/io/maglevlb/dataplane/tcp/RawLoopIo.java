package io.maglevlb.dataplane.tcp;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.packet.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;

/**
 * What the raw relay of one VIP on one event loop shares between its connections: the system-call binding (with
 * its errno slot), one relay buffer that every read on the loop goes through, scratch space for socket
 * addresses, and the backends' encoded socket addresses for the current snapshot.
 *
 * <p><b>Threading.</b> Used only on its event loop, so one buffer serves every connection: a read is written on
 * before the next read happens, and whatever a peer could not take at once is copied out of it.
 */
final class RawLoopIo {
    /** Relay buffer: the most one read moves. 64 KiB matches what Netty's adaptive reads grow to. */
    static final int BUFFER_SIZE = 64 * 1024;
    /** Large enough for a sockaddr_in6. */
    private static final int SOCKADDR_SIZE = 28;

    final LinuxNative sys = new LinuxNative();
    final MemorySegment buffer = sys.allocate(BUFFER_SIZE);
    final long bufferAddress = buffer.address();
    /** Peer address of the last accept4 (or a getsockname). */
    final MemorySegment sockaddr = sys.allocate(SOCKADDR_SIZE);
    final MemorySegment sockaddrLength = sys.allocate(4);
    /** struct linger {1, 0}: close() then resets instead of sending FIN. */
    final MemorySegment lingerReset = sys.allocate(8);
    /** Scratch int for getsockopt(SO_ERROR). */
    final MemorySegment intValue = sys.allocate(4);
    final MemorySegment intLength = sys.allocate(4);

    private ForwardingSnapshot encodedFor;
    private MemorySegment[] backendSockaddrs = new MemorySegment[0];

    RawLoopIo() {
        lingerReset.set(JAVA_INT, 0, 1);
        lingerReset.set(JAVA_INT, 4, 0);
    }

    /**
     * The sockaddr of backend {@code id} of {@code snapshot}, encoded once per snapshot and loop (a table swap
     * re-encodes on the first connect after it): connects neither allocate nor convert addresses.
     */
    MemorySegment backendSockaddr(ForwardingSnapshot snapshot, int id) {
        if (snapshot != encodedFor) {
            MemorySegment[] encoded = new MemorySegment[snapshot.idLimit()];
            for (int i = 0; i < encoded.length; i++) {
                if (snapshot.backend(i) != null) {
                    encoded[i] = encode(snapshot.backend(i).address());
                }
            }
            backendSockaddrs = encoded;
            encodedFor = snapshot;
        }
        return backendSockaddrs[id];
    }

    /** A sockaddr_in or sockaddr_in6 for {@code address}, sized exactly. */
    MemorySegment encode(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        boolean v4 = address.getAddress() instanceof Inet4Address;
        MemorySegment sa = sys.allocate(v4 ? 16 : 28);
        sa.set(JAVA_SHORT, 0, (short) (v4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6));
        sa.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short) address.getPort());
        int at = v4 ? 4 : 8;
        for (int i = 0; i < ip.length; i++) {
            sa.set(JAVA_BYTE, at + i, ip[i]);
        }
        return sa;
    }

    /** Frees the native memory. On the loop, after its last connection is gone. */
    void close() {
        sys.close();
    }
}
