package io.maglevlb.dataplane.tcp;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The raw relay's per-loop native memory stays bounded however many table snapshots a VIP goes through (issue 15,
 * defect 11: every snapshot used to re-encode the backends' addresses into the loop's arena, freed only with the
 * VIP), and the address a connect reads is the one of the snapshot that connection started with.
 *
 * <p>Native memory is read from the loop's arena's own accounting ({@link LinuxNative#allocatedBytes()}: nothing
 * it allocates is freed before the loop's relay closes). The JDK's "direct" buffer pool does not count arena
 * segments, and NMT would need a JVM of its own.
 */
class RawLoopIoTest {
    private static final int SWAPS = 100_000;
    private static final int DISTINCT = 1000;

    @Test
    void oneHundredThousandSnapshotsLeaveNativeMemoryFlat() throws Exception {
        List<BackendState> backends = new ArrayList<>();
        for (int id = 1; id <= 4; id++) {
            backends.add(new BackendState(id, "b" + id, address(id, 9000 + id), 1, false, true));
        }
        // 1000 distinct tables, each swapped in 100 times: every swap hands the loop a snapshot other than the last.
        List<ForwardingSnapshot> tables = new ArrayList<>();
        for (int g = 1; g <= DISTINCT; g++) {
            tables.add(snapshot(backends, g));
        }
        RawLoopIo io = new RawLoopIo();
        try {
            connectAll(io, tables.get(0));
            long before = io.sys.allocatedBytes();
            for (int swap = 1; swap <= SWAPS; swap++) {
                connectAll(io, tables.get(swap % DISTINCT));
            }
            long grown = io.sys.allocatedBytes() - before;
            // Before the fix: 4 backends x 16 bytes per swap, 6.4 MB over 100 k swaps.
            assertEquals(0, grown, "native bytes allocated over " + SWAPS + " snapshot swaps");
        } finally {
            io.close();
        }
    }

    @Test
    void aConnectionOfAnOlderSnapshotConnectsToThatSnapshotsAddress() throws Exception {
        BackendState before = new BackendState(1, "b1", address(1, 9001), 1, false, true);
        BackendState moved = new BackendState(1, "b1", new InetSocketAddress(
                InetAddress.getByName("::1"), 9101), 1, false, true);
        ForwardingSnapshot old = ForwardingSnapshot.build("vip", 1, 7, List.of(before));
        ForwardingSnapshot next = ForwardingSnapshot.build("vip", 2, 7, List.of(moved));
        RawLoopIo io = new RawLoopIo();
        try {
            assertEquals(before.address(), decode(io.backendSockaddr(old, 1)));
            assertEquals(moved.address(), decode(io.backendSockaddr(next, 1)));
            // A connection that started with the old snapshot retries after the loop encoded the new one.
            assertEquals(before.address(), decode(io.backendSockaddr(old, 1)));
        } finally {
            io.close();
        }
    }

    /** Every backend of {@code s} once, as the connects of one loop would ask for them; checks each address. */
    private static void connectAll(RawLoopIo io, ForwardingSnapshot s) throws UnknownHostException {
        for (BackendState b : s.tableBackends()) {
            MemorySegment sa = io.backendSockaddr(s, b.id());
            assertEquals(AF_INET, sa.get(JAVA_SHORT, 0));
            assertEquals(b.address().getPort(), Short.toUnsignedInt(sa.get(PORT, 2)));
        }
    }

    private static final short AF_INET = (short) LinuxNative.AF_INET;
    private static final java.lang.foreign.ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    /** A health flap per snapshot: backend 4 goes down and up again, so every table differs from the last. */
    private static ForwardingSnapshot snapshot(List<BackendState> backends, long generation) {
        List<BackendState> states = new ArrayList<>(backends);
        states.set(3, states.get(3).withHealthy(generation % 2 == 0));
        return ForwardingSnapshot.build("vip", generation, 7, states);
    }

    private static InetSocketAddress address(int host, int port) throws UnknownHostException {
        return new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) host}), port);
    }

    private static InetSocketAddress decode(MemorySegment sa) throws UnknownHostException {
        boolean v4 = sa.get(JAVA_SHORT, 0) == AF_INET;
        byte[] ip = new byte[v4 ? 4 : 16];
        for (int i = 0; i < ip.length; i++) {
            ip[i] = sa.get(JAVA_BYTE, (v4 ? 4 : 8) + i);
        }
        assertEquals(v4 ? 16 : 28, sa.byteSize(), "the length connect(2) is given");
        return new InetSocketAddress(InetAddress.getByAddress(ip), Short.toUnsignedInt(sa.get(PORT, 2)));
    }

}
