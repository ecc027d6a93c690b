package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.maglevlb.core.config.HealthCheckConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class ProbeRouteTest {
    private static final InetSocketAddress VIP = new InetSocketAddress(InetAddress.ofLiteral("198.18.1.1"), 8080);
    private static final String HINT = "is the VIP on its loopback, and are arp_ignore/arp_announce set?";
    private static final ProbeRoute ROUTE = new ProbeRoute(VIP, "198.18.0.24", 0x4d470003,
            "VIP 198.18.1.1:8080 via 198.18.0.24 (l2 on eth0, mark 0x4d470003)", HINT, null);

    @Test
    void aTimeoutNamesBackendVipAndWhatToCheck() {
        CheckOutcome out = ROUTE.explain(new CheckOutcome(CheckResult.TIMEOUT, "connect timed out", 7));
        assertEquals("no answer from 198.18.0.24 for the VIP 198.18.1.1:8080 (connect timed out): " + HINT,
                out.detail());
        assertEquals(CheckResult.TIMEOUT, out.result());
        assertEquals(7, out.durationNs());
    }

    @Test
    void aRefusalPointsAtTheService() {
        assertEquals("198.18.0.24 refused the VIP 198.18.1.1:8080: is the service listening on the VIP (or on "
                + "0.0.0.0)?", ROUTE.explain(new CheckOutcome(CheckResult.FAILURE, "connection refused", 1)).detail());
    }

    @Test
    void anUnreachableVipGetsTheHint() {
        assertEquals("cannot reach the VIP 198.18.1.1:8080 through 198.18.0.24 (connect(..) failed: No route to "
                + "host): " + HINT, ROUTE.explain(new CheckOutcome(CheckResult.FAILURE,
                "connect(..) failed: No route to host", 1)).detail());
    }

    @Test
    void successesAndLocalErrorsPassUnchanged() {
        CheckOutcome ok = new CheckOutcome(CheckResult.SUCCESS, "connected", 1);
        assertSame(ok, ROUTE.explain(ok));
        CheckOutcome local = new CheckOutcome(CheckResult.LOCAL_ERROR, "local error: too many open files", 1);
        assertSame(local, ROUTE.explain(local));
    }

    @Test
    void targetsDescribeThemselvesForStatusAndHttpAsksForTheVip() {
        HealthCheckConfig check = HealthCheckConfig.defaults();
        InetSocketAddress own = new InetSocketAddress(InetAddress.ofLiteral("198.18.0.24"), 80);
        assertEquals("backend 198.18.0.24:80", new HealthTarget("web", "b4", own, check).describeTarget());
        HealthTarget atVip = new HealthTarget("web", "b4", own, check, ROUTE);
        assertEquals(ROUTE.description(), atVip.describeTarget());
        assertEquals(VIP, atVip.probeAddress());
        assertEquals(true, Probe.httpRequest(atVip).contains("Host: 198.18.1.1:8080\r\n"));
    }
}
