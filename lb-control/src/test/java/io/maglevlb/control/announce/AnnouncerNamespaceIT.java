package io.maglevlb.control.announce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.AnnounceConfig;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Announcer} against the kernel in a fresh network namespace ({@code mlb-<pid>-ann<n>}): which addresses
 * get a route for which candidates, the switch (per VIP, for every VIP, for VIPs that come later), addresses
 * shared by VIPs, a foreign route that appears later, and shutdown. Root only.
 */
class AnnouncerNamespaceIT {
    private static final AnnounceConfig CONFIG = new AnnounceConfig(100, "mlbann0", Duration.ofSeconds(2));
    private static int count;
    private String ns;

    @BeforeEach
    void namespace() throws IOException {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "announce tests need root (network namespaces, a TUN device); skipped");
        ns = "mlb-" + ProcessHandle.current().pid() + "-ann" + (++count);
        run("ip", "netns", "add", ns);
    }

    @AfterEach
    void remove() throws IOException {
        if (ns != null) {
            run("ip", "netns", "del", ns);
        }
    }

    private static AnnounceCandidate up(String vip, String address) throws IOException {
        return new AnnounceCandidate(vip, InetAddress.getByName(address), true, true);
    }

    /** Both families' routes in table 100 ("" for a family whose table does not exist yet). */
    private String table() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String family : new String[] {"-4", "-6"}) {
            try {
                sb.append(run("ip", "-n", ns, family, "route", "show", "table", "100"));
            } catch (IOException noSuchTable) {
                // "FIB table does not exist": no route of that family was ever added
            }
        }
        return sb.toString();
    }

    @Test
    void routesFollowTheCandidatesAndTheSwitch() throws Exception {
        inNamespace(() -> {
            try (Announcer a = Announcer.open(CONFIG, List.of())) {
                AnnounceCandidate web = up("web", "198.18.4.1");
                AnnounceCandidate v6 = up("v6", "2001:db8:4::1");
                AnnounceCandidate down = new AnnounceCandidate("down", InetAddress.getByName("198.18.4.2"), true, false);
                AnnounceCandidate idle = new AnnounceCandidate("idle", InetAddress.getByName("198.18.4.3"), false, true);
                a.update(List.of(web, v6, down, idle));
                String t = table();
                assertTrue(t.contains("198.18.4.1 dev mlbann0 proto 77"), t);
                assertTrue(t.contains("2001:db8:4::1 dev mlbann0 proto 77"), t);
                assertFalse(t.contains("198.18.4.2") || t.contains("198.18.4.3"), t);
                assertEquals("no backend up", a.status().get("down").reason());
                assertEquals("not forwarded on this host", a.status().get("idle").reason());
                assertNull(a.status().get("web").reason());
                assertEquals("2001:db8:4::1/128", a.status().get("v6").address());

                assertTrue(a.withdraw(Optional.of("web")));
                assertFalse(a.withdraw(Optional.of("nope")), "an unknown VIP");
                a.update(List.of(web, v6));
                assertFalse(table().contains("198.18.4.1"), table());
                assertTrue(a.status().get("web").operatorWithdrawn());
                assertFalse(a.announced("web"));
                assertTrue(a.announced("v6"));

                assertTrue(a.withdraw(Optional.empty()));
                AnnounceCandidate later = up("later", "198.18.4.4");
                a.update(List.of(web, v6, later));
                assertFalse(table().contains("dev mlbann0"), "every VIP withdrawn, also one added later: " + table());
                assertTrue(a.status().get("later").operatorWithdrawn());
                assertTrue(a.announce(Optional.empty()));
                a.update(List.of(web, v6, later));
                assertTrue(table().contains("198.18.4.4 dev mlbann0"), table());
                assertTrue(table().contains("198.18.4.1 dev mlbann0"), table());

                assertEquals(3, a.withdrawAll());
                a.update(List.of(web, v6, later));
                assertFalse(table().contains("dev mlbann0"), "nothing is announced after withdrawAll: " + table());
                assertEquals("shutting down", a.status().get("web").reason());
            }
            assertFalse(run("ip", "-n", ns, "link", "show").contains("mlbann0"), "the device goes with close()");
            return null;
        });
    }

    @Test
    void vipsOnOneAddressShareItsRoute() throws Exception {
        inNamespace(() -> {
            try (Announcer a = Announcer.open(CONFIG, List.of())) {
                AnnounceCandidate tcp = up("web-tcp", "198.18.4.1");
                AnnounceCandidate udp = up("web-udp", "198.18.4.1");
                a.update(List.of(tcp, udp));
                a.withdraw(Optional.of("web-tcp"));
                a.update(List.of(tcp, udp));
                assertTrue(table().contains("198.18.4.1 dev mlbann0"), "web-udp keeps the address: " + table());
                assertTrue(a.status().get("web-tcp").announced());
                assertTrue(a.status().get("web-tcp").reason().contains("stays announced for vip web-udp"),
                        a.status().get("web-tcp").reason());
                a.withdraw(Optional.of("web-udp"));
                a.update(List.of(tcp, udp));
                assertFalse(table().contains("198.18.4.1"), table());
            }
            return null;
        });
    }

    @Test
    void aForeignRouteIsRefusedAtOpenAndNeverReplacedLater() throws Exception {
        run("ip", "-n", ns, "link", "set", "lo", "up");
        run("ip", "-n", ns, "route", "add", "198.18.4.9/32", "dev", "lo", "table", "100");
        inNamespace(() -> {
            AnnounceException e = assertThrows(AnnounceException.class,
                    () -> Announcer.open(CONFIG, List.of(InetAddress.getByName("198.18.4.9"))));
            assertTrue(e.getMessage().contains("already holds a route for 198.18.4.9/32"), e.getMessage());
            assertFalse(run("ip", "-n", ns, "link", "show").contains("mlbann0"), "no device left behind");

            try (Announcer a = Announcer.open(CONFIG, List.of(InetAddress.getByName("198.18.4.1")))) {
                AnnounceCandidate added = up("added", "198.18.4.9"); // as if a reload added it
                a.update(List.of(added));
                assertFalse(a.announced("added"));
                assertTrue(a.status().get("added").reason().contains("maglevd did not add"),
                        a.status().get("added").reason());
                assertTrue(table().contains("198.18.4.9 dev lo"), table());
                run("ip", "-n", ns, "route", "del", "198.18.4.9/32", "dev", "lo", "table", "100");
                a.update(List.of(added));
                assertTrue(a.announced("added"), "added once the foreign route is gone");
            }
            return null;
        });
    }

    @Test
    void aRouteTheKernelRefusesIsReportedByUpdate() throws Exception {
        run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
        run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        inNamespace(() -> {
            try (Announcer a = Announcer.open(CONFIG, List.of())) {
                List<String> failed = a.update(List.of(up("v4", "198.18.4.1"), up("v6", "2001:db8:4::1")));
                assertEquals(1, failed.size(), failed.toString());
                assertTrue(failed.get(0).contains("2001:db8:4::1/128"), failed.toString());
                assertTrue(a.announced("v4"));
                assertFalse(a.announced("v6"));
                assertEquals(failed.get(0), a.status().get("v6").reason());
            }
            return null;
        });
    }

    private void inNamespace(Callable<Void> body) throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("in-" + ns).start(() -> {
            try (LinuxNative sys = new LinuxNative()) {
                if (sys.setNetworkNamespace("/run/netns/" + ns) < 0) {
                    throw new IOException("setns " + ns + ": " + LinuxNative.describe(sys.errno()));
                }
                done.complete(body.call());
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        });
        try {
            done.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        } finally {
            t.join(1000);
        }
    }

    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + text.strip());
            }
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        }
    }
}
