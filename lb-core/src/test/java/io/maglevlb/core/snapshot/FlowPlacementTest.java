package io.maglevlb.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.maglev.MaglevTable;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FlowPlacementTest {
    private static final InetSocketAddress VIP = new InetSocketAddress("198.18.0.10", 443);

    private static ForwardingSnapshot snapshot(boolean healthy) {
        List<BackendState> backends = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            backends.add(new BackendState(i, "b" + i, new InetSocketAddress("198.18.1." + i, 80), 1, false, healthy));
        }
        return ForwardingSnapshot.build("web", 3, 1009, backends);
    }

    @Test
    void placesAFlowWhereTheForwardersHashAndLookUp() {
        ForwardingSnapshot s = snapshot(true);
        for (int port = 40000; port < 40200; port++) {
            InetSocketAddress client = new InetSocketAddress("198.19.0.7", port);
            FlowPlacement p = FlowPlacement.of(s, HashMode.FIVE_TUPLE, Protocol.TCP, client, VIP);
            // What the forwarders compute from the raw tuple (IPv4 as ::ffff:a.b.c.d).
            long hash = FlowHash.fiveTuple(6, FlowHash.v4Hi(), FlowHash.v4Lo(0xc6130007), port, FlowHash.v4Hi(),
                    FlowHash.v4Lo(0xc612000a), 443);
            assertEquals(hash, p.hash());
            assertEquals(MaglevTable.slotIndex(hash, 1009), p.slot());
            assertEquals(s.backend(s.backendFor(hash)), p.backend());
            assertEquals(String.format("%016x", hash), p.hashHex());
        }
    }

    @Test
    void sourceIpHashIgnoresPortsAndProtocol() {
        ForwardingSnapshot s = snapshot(true);
        FlowPlacement a = FlowPlacement.of(s, HashMode.SOURCE_IP, Protocol.TCP,
                new InetSocketAddress("198.19.0.7", 1), VIP);
        FlowPlacement b = FlowPlacement.of(s, HashMode.SOURCE_IP, Protocol.UDP,
                new InetSocketAddress("198.19.0.7", 65535), new InetSocketAddress("198.18.0.10", 53));
        assertEquals(FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(0xc6130007)), a.hash());
        assertEquals(a.hash(), b.hash());
        assertEquals(a.backend(), b.backend());
    }

    @Test
    void anEmptyTableHasNoBackend() {
        FlowPlacement p = FlowPlacement.of(snapshot(false), HashMode.FIVE_TUPLE, Protocol.UDP,
                new InetSocketAddress("198.19.0.7", 5000), VIP);
        assertNull(p.backend());
    }
}
