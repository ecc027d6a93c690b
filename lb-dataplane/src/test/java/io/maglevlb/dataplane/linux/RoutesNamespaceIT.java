package io.maglevlb.dataplane.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Routes} against the kernel, in a fresh network namespace with a veth pair: what it adds
 * {@code ip route} sees with our protocol tag, what it dumps is what {@code ip} added, and it never deletes a
 * route with another tag. Root only.
 */
class RoutesNamespaceIT {
    private static final int TABLE = 100;
    private static final int OURS = Routes.PROTOCOL_MAGLEVD;
    private static Netns ns;

    @BeforeAll
    static void lab() throws Exception {
        assumeTrue(Netns.available(), "network namespace tests need root and iproute2: skipped");
        ns = new Netns("routes");
        ns.ip("link", "add", "d0", "type", "veth", "peer", "name", "d1");
        ns.ip("link", "set", "d1", "up");
        ns.ip("link", "set", "d0", "up");
        ns.ip("addr", "add", "198.18.0.2/24", "dev", "d0");
        ns.ip("addr", "add", "2001:db8::2/64", "dev", "d0", "nodad");
    }

    @AfterAll
    static void removeLab() {
        if (ns != null) {
            ns.close();
        }
    }

    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void addedHostRoutesShowUpWithOurTagAndGoAwayOnDelete() throws Exception {
        ns.inside(() -> {
            try (Routes routes = Routes.open(); LinuxNative sys = new LinuxNative()) {
                int d0 = sys.ifNameToIndex("d0");
                Route v4 = Route.host(ip("198.18.10.1"), TABLE, d0, OURS);
                Route v6 = Route.host(ip("2001:db8:10::1"), TABLE, d0, OURS);
                routes.add(v4);
                routes.add(v6);

                assertTrue(ns.ip("-4", "route", "show", "table", "100").contains("198.18.10.1 dev d0 proto 77"),
                        ns.ip("-4", "route", "show", "table", "100"));
                assertTrue(ns.ip("-6", "route", "show", "table", "100").contains("2001:db8:10::1 dev d0 proto 77"),
                        ns.ip("-6", "route", "show", "table", "100"));
                List<Route> dumped = routes.dump(TABLE);
                assertTrue(dumped.contains(v4), dumped.toString());
                assertTrue(dumped.contains(v6), dumped.toString());
                assertFalse(routes.dump(TABLE + 1).contains(v4), "a dump lists one table only");

                assertTrue(routes.delete(v4));
                assertTrue(routes.delete(v6));
                assertFalse(routes.delete(v4), "deleting twice finds nothing the second time");
                assertFalse(routes.dump(TABLE).contains(v4));
                assertFalse(routes.dump(TABLE).contains(v6));
                assertFalse(ns.ip("route", "show", "table", "100").contains("198.18.10.1"));
            }
            return null;
        });
    }

    @Test
    void aTableWithoutRoutesDumpsEmpty() throws Exception {
        ns.inside(() -> {
            try (Routes routes = Routes.open()) {
                assertTrue(routes.kernelFiltersDumps(), "Linux 4.20+ filters dumps by table");
                assertEquals(List.of(), routes.dump(LinuxNative.AF_INET, 4242), "a table that does not exist (v4)");
                assertEquals(List.of(), routes.dump(LinuxNative.AF_INET6, 4242), "a table that does not exist (v6)");
            }
            return null;
        });
    }

    @Test
    void routesWithAGatewayAndAPrefix() throws Exception {
        ns.inside(() -> {
            try (Routes routes = Routes.open(); LinuxNative sys = new LinuxNative()) {
                int d0 = sys.ifNameToIndex("d0");
                Route viaV4 = new Route(ip("198.18.64.0"), 18, 200, d0, ip("198.18.0.1"), OURS);
                Route viaV6 = new Route(ip("2001:db8:64::"), 48, 200, d0, ip("2001:db8::1"), OURS);
                routes.add(viaV4);
                routes.add(viaV6);
                assertTrue(ns.ip("-4", "route", "show", "table", "200")
                        .contains("198.18.64.0/18 via 198.18.0.1 dev d0 proto 77"), ns.ip("route", "show", "table", "200"));
                assertEquals(List.of(viaV4), routes.dump(LinuxNative.AF_INET, 200));
                assertEquals(List.of(viaV6), routes.dump(LinuxNative.AF_INET6, 200));
                assertTrue(routes.delete(viaV4));
                assertTrue(routes.delete(viaV6));
                assertEquals(List.of(), routes.dump(200));
            }
            return null;
        });
    }

    @Test
    void aForeignRouteIsListedButNeverReplacedNorDeleted() throws Exception {
        ns.ip("route", "add", "198.18.20.1/32", "dev", "d0", "table", "100");
        ns.ip("route", "add", "2001:db8:20::1/128", "dev", "d0", "table", "100");
        try {
            ns.inside(() -> {
                try (Routes routes = Routes.open(); LinuxNative sys = new LinuxNative()) {
                    int d0 = sys.ifNameToIndex("d0");
                    for (String a : new String[] {"198.18.20.1", "2001:db8:20::1"}) {
                        Route ours = Route.host(ip(a), TABLE, d0, OURS);
                        Route theirs = Route.host(ip(a), TABLE, d0, 3 /* boot: what ip route add tags */);
                        assertTrue(routes.dump(TABLE).contains(theirs), routes.dump(TABLE).toString());
                        NetlinkException e = assertThrows(NetlinkException.class, () -> routes.add(ours));
                        assertEquals(LinuxNative.EEXIST, e.errno(), e.getMessage());
                        assertFalse(routes.delete(ours), "a route with another tag is not ours to delete");
                        assertTrue(routes.dump(TABLE).contains(theirs), "still there: " + routes.dump(TABLE));
                    }
                }
                return null;
            });
        } finally {
            ns.ip("route", "flush", "table", "100");
            ns.ip("-6", "route", "flush", "table", "100");
        }
    }
}
