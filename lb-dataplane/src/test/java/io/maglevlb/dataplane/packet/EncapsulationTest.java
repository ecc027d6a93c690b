package io.maglevlb.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.DsrMethod;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class EncapsulationTest {
    private static final long BACKEND_MAC = 0x02_00_00_00_00_0bL;
    private static final long LB_MAC = 0x02_00_00_00_00_02L;

    private static String headers(DsrMethod method, int innerVersion, int innerLength, int trafficClass) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(128);
            int n = Encapsulation.writeOuterHeaders(h, method, BACKEND_MAC, LB_MAC, DsrLab.ip("198.18.0.2"),
                    DsrLab.ip("198.18.0.11"), trafficClass, innerVersion, innerLength, 0xc123, 6080);
            assertTrue(Checksums.ipv4HeaderValid(h, 14, 20));
            return HexFormat.of().formatHex(h.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void ipipHeadersByteForByte() {
        // Ethernet: backend MAC, LB MAC, IPv4. Outer IPv4: version 4 IHL 5, TOS copied (b8), length 20 + 60 = 80,
        // ID 0, DF, TTL 64, protocol 4, checksum adc0 (RFC 1071 over the 20 bytes), 198.18.0.2 -> 198.18.0.11.
        String expected = "02000000000b" + "020000000002" + "0800"
                + "45b80050" + "00004000" + "4004" + "adc0" + "c6120002" + "c612000b";
        assertEquals(expected, headers(DsrMethod.IPIP, 4, 60, 0xb8));
    }

    @Test
    void ipipCarriesIpv6AsProtocol41() {
        String h = headers(DsrMethod.IPIP, 6, 100, 0);
        assertEquals("29", h.substring(2 * (14 + 9), 2 * (14 + 10)));
    }

    @Test
    void gueHeadersByteForByte() {
        // Outer IPv4: length 20 + 8 + 4 + 60 = 92 (5c), protocol 17, checksum ae5f. UDP: source port c123 (from the
        // flow hash), destination 6080 (17c0), length 72 (0048), checksum 0. GUE: version 0, C 0, Hlen 0, proto 4,
        // flags 0.
        String expected = "02000000000b" + "020000000002" + "0800"
                + "4500005c" + "00004000" + "4011" + "ae5f" + "c6120002" + "c612000b"
                + "c123" + "17c0" + "0048" + "0000"
                + "00040000";
        assertEquals(expected, headers(DsrMethod.GUE, 4, 60, 0));
    }

    @Test
    void gueSourcePortsStayInTheDynamicRange() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        java.util.Set<Integer> ports = new java.util.HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            int p = Encapsulation.gueSourcePort(r.nextLong());
            assertTrue(p >= 49152 && p <= 65535, "port " + p);
            ports.add(p);
        }
        assertTrue(ports.size() > 5000, "flows spread over source ports: " + ports.size());
    }
}
