package io.maglevlb.dataplane.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link TunDevice} in a fresh network namespace: up while open, gone with its routes once closed. Root only. */
class TunDeviceNamespaceIT {
    private static Netns ns;

    @BeforeAll
    static void lab() throws Exception {
        assumeTrue(Netns.available(), "network namespace tests need root and iproute2: skipped");
        ns = new Netns("tun");
    }

    @AfterAll
    static void removeLab() {
        if (ns != null) {
            ns.close();
        }
    }

    @Test
    void theDeviceIsUpWhileOpenAndTakesItsRoutesWithItWhenClosed() throws Exception {
        ns.inside(() -> {
            Route route;
            try (TunDevice tun = TunDevice.open("mlbtun0"); Routes routes = Routes.open()) {
                String link = ns.ip("link", "show", "mlbtun0");
                assertTrue(link.contains("<POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP>"), link);
                route = Route.host(InetAddress.getByName("198.18.30.1"), 100, tun.index(), Routes.PROTOCOL_MAGLEVD);
                routes.add(route);
                assertTrue(routes.dump(100).contains(route));

                NetlinkException again = assertThrows(NetlinkException.class, () -> TunDevice.open("mlbtun0"));
                assertEquals(LinuxNative.EEXIST, again.errno(), again.getMessage());
            }
            assertFalse(ns.ip("link", "show").contains("mlbtun0"), "the device goes with its descriptor");
            try (Routes routes = Routes.open()) {
                assertFalse(routes.dump(100).contains(route), "and its routes with it");
            }
            return null;
        });
    }

    @Test
    void aNameTooLongForTheKernelIsRefusedUpFront() {
        NetlinkException e = assertThrows(NetlinkException.class, () -> TunDevice.open("a-very-long-name0"));
        assertEquals(LinuxNative.EINVAL, e.errno());
    }
}
