package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.dataplane.VipBindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** A VIP that cannot get its address fails with one line naming the VIP, the address and the reason. */
class TcpBindFailureTest {

    @Test
    void anAddressHeldByAnotherProgramIsReportedInUse() throws Exception {
        try (ServerSocket other = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress taken = (InetSocketAddress) other.getLocalSocketAddress();
            VipBindException e = assertThrows(VipBindException.class,
                    () -> ProxyFixture.spec("web").listen(taken).backend("a", taken).start().close());
            assertEquals("vip web: cannot listen on 127.0.0.1:" + taken.getPort() + ": Address already in use",
                    e.getMessage());
            assertEquals("web", e.vip());
        }
    }

    @Test
    void aSecondProxyOnTheSameAddressIsRefusedDespiteReusePort() throws Exception {
        InetSocketAddress free;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            free = (InetSocketAddress) probe.getLocalSocketAddress();
        }
        try (ProxyFixture first = ProxyFixture.spec("one").listen(free).backend("a", free).start()) {
            assertEquals(free, first.address());
            VipBindException e = assertThrows(VipBindException.class,
                    () -> ProxyFixture.spec("two").listen(free).backend("a", free).start().close());
            assertTrue(e.getMessage().startsWith("vip two: cannot listen on 127.0.0.1:" + free.getPort() + ": "),
                    e.getMessage());
        }
    }

    @Test
    void anAddressThatIsNotLocalIsReported() throws Exception {
        // 192.0.2.0/24 (TEST-NET-1) is never assigned to this host; binding sends nothing anywhere.
        InetSocketAddress foreign = new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 8080);
        VipBindException e = assertThrows(VipBindException.class,
                () -> ProxyFixture.spec("far").listen(foreign).backend("a", foreign).start().close());
        assertEquals("vip far: cannot listen on 192.0.2.1:8080: Cannot assign requested address", e.getMessage());
    }

    @Test
    void nettysNativePrefixIsStrippedFromTheReason() {
        assertEquals("Address already in use", VipBindException.reason(
                new java.io.IOException("bind(..) failed with error(-98): Address already in use")));
        assertEquals("Address already in use",
                VipBindException.reason(new java.io.IOException("bind(..) failed: Address already in use")));
        assertEquals("Permission denied", VipBindException.reason(new java.io.IOException("Permission denied")));
    }
}
