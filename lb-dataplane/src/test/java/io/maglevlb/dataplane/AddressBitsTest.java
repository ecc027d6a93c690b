package io.maglevlb.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.maglevlb.core.flow.FlowHash;
import java.net.InetAddress;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AddressBitsTest {

    @Test
    void ipv4IsTheIpv4MappedForm() throws Exception {
        byte[] raw = InetAddress.getByName("192.0.2.7").getAddress();
        assertEquals(FlowHash.v4Hi(), AddressBits.hi(raw));
        assertEquals(FlowHash.v4Lo(0xc0000207), AddressBits.lo(raw));
        assertEquals(0x0000_ffff_c000_0207L, AddressBits.lo(raw));
    }

    @Test
    void ipv4AndItsMappedIpv6SpellingHashAlike() throws Exception {
        byte[] v4 = {(byte) 203, 0, 113, 9};
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 203, 0, 113, 9};
        assertEquals(AddressBits.hi(v4), AddressBits.hi(mapped));
        assertEquals(AddressBits.lo(v4), AddressBits.lo(mapped));
    }

    @Test
    void ipv6IsTheTwoHalvesInNetworkOrder() throws Exception {
        byte[] raw = InetAddress.getByName("2001:db8:1:2:3:4:5:6").getAddress();
        assertEquals(0x2001_0db8_0001_0002L, AddressBits.hi(raw));
        assertEquals(0x0003_0004_0005_0006L, AddressBits.lo(raw));
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 100; i++) {
            byte[] r = new byte[16];
            random.nextBytes(r);
            long hi = 0;
            long lo = 0;
            for (int k = 0; k < 8; k++) {
                hi = hi << 8 | (r[k] & 0xff);
                lo = lo << 8 | (r[k + 8] & 0xff);
            }
            assertEquals(hi, AddressBits.hi(r));
            assertEquals(lo, AddressBits.lo(r));
        }
    }

    @Test
    void otherLengthsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> AddressBits.lo(new byte[5]));
    }
}
