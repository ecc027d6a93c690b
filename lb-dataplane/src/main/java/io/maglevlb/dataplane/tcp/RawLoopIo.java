package io.maglevlb.dataplane.tcp;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.DescriptorReserve;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;

/**
 * What the raw relay of one VIP on one event loop shares between its connections: the system-call binding (with
 * its errno slot), one relay buffer that every read on the loop goes through, scratch space for socket
 * addresses, and the backends' encoded socket addresses for the current snapshot.
 *
 * <p><b>Native memory.</b> Everything here is allocated once, when the loop's relay is made, from the binding's
 * arena, and freed together by {@link #close()} once the VIP has stopped and its last connection on the loop is
 * gone (lifetime: per loop and VIP forwarder). Nothing native is allocated per snapshot or per connection: the
 * backends' addresses of a snapshot are kept encoded on the Java heap (owned by the garbage collector, gone with
 * the snapshot's last user) and copied into one native scratch sockaddr right before each connect(2), which copies
 * it into the kernel. So a table swap (a health flap, a drain) costs no native memory, and no connection can read
 * native memory freed under it.
 *
 * <p><b>Threading.</b> Used only on its event loop, so one buffer serves every connection: a read is written on
 * before the next read happens, and whatever a peer could not take at once is copied out of it.
 */
final class RawLoopIo {
    /** Relay buffer: the most one read moves. 64 KiB matches what Netty's adaptive reads grow to. */
    static final int BUFFER_SIZE = 64 * 1024;
    /** Large enough for a sockaddr_in6. */
    private static final int SOCKADDR_SIZE = 28;
    private static final int SOCKADDR_IN_SIZE = 16;

    // All of the following: allocated here, lifetime of this object, freed by close().
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
    /** The two fds pipe2(2) returns. */
    final MemorySegment pipeFds = sys.allocate(8);
    /** Descriptor numbers from here up are the reserve's (see DescriptorReserve); re-read when reached. */
    private long fdCeiling = DescriptorReserve.ceiling();
    /**
     * The target of the connect(2) being made: filled by {@link #backendSockaddr} right before the call, which
     * copies it. Two views of one allocation, sized for IPv4 and IPv6, so a connect allocates no slice.
     */
    private final MemorySegment connectTarget6 = sys.allocate(SOCKADDR_SIZE);
    private final MemorySegment connectTarget4 = connectTarget6.asSlice(0, SOCKADDR_IN_SIZE);

    /** The snapshot {@link #backendSockaddrs} was encoded for; heap only, replaced on the next swap. */
    private ForwardingSnapshot encodedFor;
    private byte[][] backendSockaddrs = new byte[0][];

    RawLoopIo() {
        lingerReset.set(JAVA_INT, 0, 1);
        lingerReset.set(JAVA_INT, 4, 0);
    }

    /**
     * The sockaddr of backend {@code id} of {@code snapshot}, valid until the next call on this loop: pass it to
     * connect(2) at once. The encoding is made on the heap once per snapshot and loop (a table swap re-encodes on
     * the first connect after it; a retry of a connection that started with an older snapshot re-encodes that
     * one, on the heap), so connects neither allocate nor convert addresses.
     */
    MemorySegment backendSockaddr(ForwardingSnapshot snapshot, int id) {
        if (snapshot != encodedFor) {
            byte[][] encoded = new byte[snapshot.idLimit()][];
            for (int i = 0; i < encoded.length; i++) {
                if (snapshot.backend(i) != null) {
                    encoded[i] = encode(snapshot.backend(i).address());
                }
            }
            backendSockaddrs = encoded;
            encodedFor = snapshot;
        }
        byte[] sa = backendSockaddrs[id];
        MemorySegment target = sa.length == SOCKADDR_IN_SIZE ? connectTarget4 : connectTarget6;
        MemorySegment.copy(sa, 0, target, JAVA_BYTE, 0, sa.length);
        return target;
    }

    /** A sockaddr_in or sockaddr_in6 for {@code address}, sized exactly, on the heap. */
    static byte[] encode(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        boolean v4 = address.getAddress() instanceof Inet4Address;
        byte[] encoded = new byte[v4 ? SOCKADDR_IN_SIZE : SOCKADDR_SIZE];
        MemorySegment sa = MemorySegment.ofArray(encoded);
        sa.set(JAVA_SHORT_UNALIGNED, 0, (short) (v4 ? LinuxNative.AF_INET : LinuxNative.AF_INET6));
        sa.set(JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 2, (short) address.getPort());
        MemorySegment.copy(ip, 0, sa, JAVA_BYTE, v4 ? 4 : 8, ip.length);
        return encoded;
    }

    /**
     * Whether descriptor {@code fd} leaves the reserve free: Linux hands out the lowest free number, so fd means
     * 0..fd are in use. The limit is read again when the ceiling is reached (it may have been raised).
     */
    boolean belowDescriptorReserve(int fd) {
        if (fd < fdCeiling) {
            return true;
        }
        fdCeiling = DescriptorReserve.ceiling();
        return fd < fdCeiling;
    }

    /** Frees the native memory. On the loop, after its last connection is gone. */
    void close() {
        sys.close();
    }
}
