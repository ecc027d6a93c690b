package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrHealthConfig;
import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.NetlinkException;
import io.maglevlb.dataplane.linux.Route;
import io.maglevlb.dataplane.linux.Routes;
import io.maglevlb.dataplane.linux.Rule;
import io.maglevlb.dataplane.linux.Rules;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The paths that carry health probes of DSR VIPs to one backend the way client packets reach it: addressed to the
 * VIP, delivered to that backend (l2: to its Ethernet address; ipip/gue: encapsulated like forwarded packets).
 *
 * <p><b>Design.</b> A probe is an ordinary socket of the health checker (TCP connect, HTTP GET, UDP) to
 * {@code VIP:port} whose {@code SO_MARK} selects its path; the kernel's TCP/UDP stack does the rest, so every
 * check type works unchanged and the backend's answer (sent from the VIP to this host's address) is delivered
 * to the probe socket like any reply. Each (VIP address, backend address) pair gets one mark {@code M} and one
 * routing table {@code T} from the configured ranges, and:
 * <ul>
 *   <li>a policy rule {@code fwmark M lookup T} at {@link DsrHealthConfig#rulePriority()};
 *   <li>in table {@code T}: l2: {@code VIP/32 via BACKEND dev IF}; ipip/gue: {@code VIP/32 via BACKEND dev mlbhcN
 *       onlink src IF-ADDRESS}, through the {@link HealthTunnel} device that encapsulates.
 * </ul>
 * Everything carries protocol {@link Routes#PROTOCOL_MAGLEVD}; routes carry this process's id as their metric,
 * so that a later maglevd can tell stale entries (of a process that no longer runs) from another running
 * maglevd's. At {@link #open} a rule or route of something else in the configured ranges refuses the start;
 * stale ones of ours are removed. {@link #close} removes all that this instance added; the TAP device, and with
 * it its routes, disappears with the process even when it is killed.
 *
 * <p>The engine never sees a probe: l2 probes leave through the interface's transmit path, which its sockets
 * ignore ({@code PACKET_IGNORE_OUTGOING}); encapsulated ones are addressed to the backend, not the VIP; answers
 * are addressed to this host, not the VIP. So probes touch no flow table and no VIP counter.
 *
 * <p>Threading: all methods are synchronized; the instance opens its netlink socket in the calling thread's
 * network namespace.
 */
public final class DsrHealthRoutes implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DsrHealthRoutes.class);
    private static final long SELF = ProcessHandle.current().pid();

    /**
     * One probe path.
     *
     * @param mark the SO_MARK a probe socket sets
     * @param table its routing table
     * @param description for /status, e.g. "via 198.18.0.11 (l2 on eth0, mark 0x4d470000)"
     * @param hint what to check on the backend when it does not answer at the VIP
     */
    public record Path(InetAddress vip, InetAddress backend, int mark, int table, String description, String hint) {}

    /** What a path is made of: two VIPs of one address must agree for one backend. */
    private record Spec(DsrMethod method, String interfaceName, int guePort) {}

    private static final class Entry {
        final Path path;
        final Spec spec;
        final int slot;
        int users;

        Entry(Path path, Spec spec, int slot) {
            this.path = path;
            this.spec = spec;
            this.slot = slot;
        }
    }

    private static final int PROTOCOL = Routes.PROTOCOL_MAGLEVD;

    private final DsrHealthConfig settings;
    private final Routes routes;
    private final Rules rules;
    private final Map<List<InetAddress>, Entry> entries = new HashMap<>();
    private final boolean[] used;
    private HealthTunnel tunnel;
    private boolean closed;

    private DsrHealthRoutes(DsrHealthConfig settings, Routes routes, Rules rules) {
        this.settings = settings;
        this.routes = routes;
        this.rules = rules;
        this.used = new boolean[settings.size()];
    }

    /**
     * Checks that no rule or route of anything else uses the configured marks and tables, removes what a maglevd
     * that no longer runs left there, and returns an instance ready to add paths.
     *
     * @throws IOException when something else (or another running maglevd) uses the ranges, or rtnetlink refuses
     */
    public static DsrHealthRoutes open(DsrHealthConfig settings) throws IOException {
        Objects.requireNonNull(settings, "settings");
        if (settings.size() < 1) {
            throw new IllegalArgumentException("size must be >= 1");
        }
        Routes routes = null;
        Rules rules = null;
        try {
            routes = Routes.open();
            rules = Rules.open();
            cleanUp(routes, rules, settings);
            return new DsrHealthRoutes(settings, routes, rules);
        } catch (NetlinkException e) {
            close(routes, rules);
            throw new IOException(e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            close(routes, rules);
            throw e;
        }
    }

    private static void close(Routes routes, Rules rules) {
        if (routes != null) {
            routes.close();
        }
        if (rules != null) {
            rules.close();
        }
    }

    private static void cleanUp(Routes routing, Rules ruling, DsrHealthConfig s) throws IOException,
            NetlinkException {
        for (int family : new int[] {LinuxNative.AF_INET, LinuxNative.AF_INET6}) {
            List<Route> routes;
            List<Rule> rules;
            try {
                routes = routing.dumpAll(family);
                rules = ruling.dump(family);
            } catch (NetlinkException e) {
                if (family == LinuxNative.AF_INET6) {
                    continue; // IPv6 disabled on this host
                }
                throw e;
            }
            for (Route r : routes) {
                if (!isOurTable(s, Integer.toUnsignedLong(r.table()))) {
                    continue;
                }
                if (r.protocol() != PROTOCOL) {
                    throw new IOException("routing table " + Integer.toUnsignedString(r.table()) + " holds a route"
                            + " maglevd did not add (" + describe(r) + ", proto " + r.protocol() + "); it is in the"
                            + " range dsr_health uses for health probes: choose other first_table/size");
                }
                if (r.metric() != SELF && isRunning(r.metric())) {
                    throw new IOException("maglevd process " + r.metric() + " uses routing table "
                            + Integer.toUnsignedString(r.table()) + " for its DSR health probes: give each maglevd"
                            + " in this network namespace its own dsr_health first_mark/first_table");
                }
            }
            for (Rule r : rules) {
                boolean ours = isOurTable(s, r.table()) || (r.mask() != 0 && isOurMark(s, r.mark()));
                if (!ours) {
                    continue;
                }
                if (r.protocol() != PROTOCOL) {
                    throw new IOException("policy rule " + r.priority() + " (fwmark 0x" + Long.toHexString(r.mark())
                            + " lookup " + r.table() + ", proto " + r.protocol()
                            + ") was not added by maglevd but uses a mark or table of the dsr_health ranges: choose"
                            + " other first_mark/first_table");
                }
            }
            // Only stale entries of ours are left in the ranges now: routes of dead processes, and rules.
            for (Route r : routes) {
                if (isOurTable(s, Integer.toUnsignedLong(r.table()))) {
                    routing.delete(r);
                }
            }
            int removed = 0;
            for (Rule r : rules) {
                if ((isOurTable(s, r.table()) || (r.mask() != 0 && isOurMark(s, r.mark())))
                        && ruling.deleteMarkRule(family, r.priority(), (int) r.mark(), (int) r.table(), PROTOCOL)) {
                    removed++;
                }
            }
            if (removed > 0) {
                log.warn("removed {} stale DSR health-check rule(s) that a maglevd which no longer runs left behind",
                        removed);
            }
        }
    }

    private static boolean isOurTable(DsrHealthConfig s, long table) {
        return table >= s.firstTable() && table < (long) s.firstTable() + s.size();
    }

    private static boolean isOurMark(DsrHealthConfig s, long mark) {
        return mark >= s.firstMark() && mark < (long) s.firstMark() + s.size();
    }

    private static boolean isRunning(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * The path for probes of {@code vip} (any port) to {@code backend}, adding its rule and route on first use.
     * Each call must be paired with one {@link #release}.
     *
     * @param outerSource ipip/gue: the outer source range the engine uses; empty: the interface's IPv4 address
     * @throws IOException when the pair already has a path of another method or interface, the ranges are full,
     *     the interface is missing, or rtnetlink refuses
     */
    public synchronized Path acquire(InetAddress vip, InetAddress backend, DsrMethod method, String interfaceName,
            int guePort, Optional<Ipv4Range> outerSource) throws IOException {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        Spec spec = new Spec(method, interfaceName, method == DsrMethod.GUE ? guePort : 0);
        List<InetAddress> key = List.of(vip, backend);
        Entry e = entries.get(key);
        if (e != null) {
            if (!e.spec.equals(spec)) {
                throw new IOException("backend " + backend.getHostAddress() + " of VIP " + vip.getHostAddress()
                        + " is already probed over " + e.spec.method().configName() + " on " + e.spec.interfaceName()
                        + "; VIPs of one address must use one dsr method and interface per backend");
            }
            e.users++;
            return e.path;
        }
        if ((vip instanceof Inet4Address) != (backend instanceof Inet4Address)) {
            throw new IOException("VIP " + vip.getHostAddress() + " and backend " + backend.getHostAddress()
                    + " are of different IP versions");
        }
        if (method != DsrMethod.L2 && !(vip instanceof Inet4Address)) {
            throw new IOException("probes at the VIP over " + method.configName() + " are IPv4 only; use"
                    + " health_check.target: backend for IPv6 VIP " + vip.getHostAddress());
        }
        int slot = freeSlot();
        int mark = settings.firstMark() + slot;
        int table = settings.firstTable() + slot;
        InterfaceInfo iface;
        try (LinuxNative sys = new LinuxNative()) { // per call: the interface queries' scratch, freed here
            iface = InterfaceInfo.read(sys, interfaceName);
        } catch (PacketEngineException ex) {
            throw new IOException(ex.getMessage(), ex);
        }
        int prefix = vip.getAddress().length * 8;
        int family = vip instanceof Inet4Address ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
        try {
            addPath(vip, backend, method, iface, guePort, outerSource, table, prefix, family, mark);
        } catch (NetlinkException ex) {
            throw new IOException(ex.getMessage(), ex);
        }
        used[slot] = true;
        String how = method.configName() + " on " + interfaceName + (method == DsrMethod.GUE ? " port " + guePort : "");
        Path path = new Path(vip, backend, mark, table, "via " + backend.getHostAddress() + " (" + how + ", mark 0x"
                + Integer.toHexString(mark) + ")", hint(method, interfaceName, guePort, vip, iface));
        Entry entry = new Entry(path, spec, slot);
        entry.users = 1;
        entries.put(key, entry);
        log.debug("health path {} (table {})", path.description(), Integer.toUnsignedString(table));
        return path;
    }

    private void addPath(InetAddress vip, InetAddress backend, DsrMethod method, InterfaceInfo iface, int guePort,
            Optional<Ipv4Range> outerSource, int table, int prefix, int family, int mark)
            throws IOException, NetlinkException {
        String interfaceName = iface.name();
        if (method == DsrMethod.L2) {
            routes.add(new Route(vip, prefix, table, iface.index(), backend, PROTOCOL, SELF, null, false));
        } else {
            if (iface.ipv4() == 0) {
                throw new IOException("interface " + interfaceName + " has no IPv4 address to send "
                        + method.configName() + " probes from");
            }
            HealthTunnel t = tunnel();
            rules.setPermanentNeighbour(t.index(), backend, HealthTunnel.macFor(backend));
            InetAddress source = InetAddress.getByAddress(java.nio.ByteBuffer.allocate(4).putInt(iface.ipv4()).array());
            t.register(vip, new HealthTunnel.Spec(method, iface, outerSource.orElse(new Ipv4Range(iface.ipv4(), 1)),
                    guePort, backend));
            try {
                routes.add(new Route(vip, prefix, table, t.index(), backend, PROTOCOL, SELF, source, true));
            } catch (NetlinkException ex) {
                t.unregister(vip, backend);
                throw ex;
            }
        }
        try {
            rules.addMarkRule(family, settings.rulePriority(), mark, table, PROTOCOL);
        } catch (NetlinkException ex) {
            deleteRoute(table, vip, prefix);
            if (method != DsrMethod.L2) {
                tunnel.unregister(vip, backend);
            }
            throw ex;
        }
    }

    /** Drops one use of {@code path}; the last one removes its rule and route. */
    public synchronized void release(Path path) {
        List<InetAddress> key = List.of(path.vip(), path.backend());
        Entry e = entries.get(key);
        if (e == null || e.path != path || --e.users > 0) {
            return;
        }
        entries.remove(key);
        remove(e);
    }

    private void remove(Entry e) {
        Path p = e.path;
        int family = p.vip() instanceof Inet4Address ? LinuxNative.AF_INET : LinuxNative.AF_INET6;
        try {
            rules.deleteMarkRule(family, settings.rulePriority(), p.mark(), p.table(), PROTOCOL);
        } catch (NetlinkException ex) {
            log.warn("could not remove rule 'fwmark 0x{} lookup {}': {}", Integer.toHexString(p.mark()),
                    Integer.toUnsignedString(p.table()), ex.getMessage());
        }
        deleteRoute(p.table(), p.vip(), p.vip().getAddress().length * 8);
        if (tunnel != null && e.spec.method() != DsrMethod.L2) {
            tunnel.unregister(p.vip(), p.backend());
        }
        used[e.slot] = false;
    }

    private void deleteRoute(int table, InetAddress vip, int prefix) {
        try {
            routes.delete(new Route(vip, prefix, table, 0, null, PROTOCOL, SELF, null, false));
        } catch (NetlinkException ex) {
            log.warn("could not remove the health route to {} from table {}: {}", vip.getHostAddress(),
                    Integer.toUnsignedString(table), ex.getMessage());
        }
    }

    private int freeSlot() throws IOException {
        for (int i = 0; i < used.length; i++) {
            if (!used[i]) {
                return i;
            }
        }
        throw new IOException("all " + used.length + " DSR health-check marks are in use: raise dsr_health.size");
    }

    private HealthTunnel tunnel() throws IOException {
        if (tunnel == null) {
            tunnel = HealthTunnel.open();
        }
        return tunnel;
    }

    /** Paths in use (for tests and status). */
    public synchronized int size() {
        return entries.size();
    }

    /**
     * What to check when the backend does not answer at the VIP, and, when this host would drop the answer
     * itself (strict reverse-path filtering without a route to the VIP through the interface), that first.
     */
    private String hint(DsrMethod method, String ifName, int guePort, InetAddress vip, InterfaceInfo iface) {
        String backendSide = switch (method) {
            case L2 -> "is the VIP on its loopback, and are arp_ignore/arp_announce set?";
            case IPIP -> "is the VIP on its loopback, is tunl0 up and rp_filter off for it?";
            case GUE -> "is the VIP on its loopback, is 'ip fou add port " + guePort + " gue' set up, tunl0 up and"
                    + " rp_filter off for it?";
        };
        String local = reversePathProblem(vip, ifName, iface.index());
        if (local != null) {
            log.warn("DSR health checks through {}: {}", ifName, local);
            return backendSide + " Also: " + local;
        }
        return backendSide;
    }

    /** Why this host's rp_filter would drop answers from {@code vip} arriving on the interface, or null. */
    private String reversePathProblem(InetAddress vip, String ifName, int ifindex) {
        if (!(vip instanceof Inet4Address)) {
            return null;
        }
        int mode = Math.max(sysctl("all"), sysctl(ifName));
        if (mode == 0) {
            return null;
        }
        Route best = null;
        try {
            byte[] v = vip.getAddress();
            for (Route r : routes.dump(LinuxNative.AF_INET, 254)) {
                if (best != null && r.prefixLength() <= best.prefixLength()) {
                    continue;
                }
                if (covers(r.destination().getAddress(), r.prefixLength(), v)) {
                    best = r;
                }
            }
        } catch (NetlinkException e) {
            return null;
        }
        if (best == null) {
            return "this host has no route to " + vip.getHostAddress() + ", so rp_filter=" + mode + " on " + ifName
                    + " drops the answers (they come from the VIP): set net.ipv4.conf." + ifName + ".rp_filter=0 or"
                    + " add a route to the VIP";
        }
        if (mode == 1 && best.outputInterface() != ifindex) {
            return "this host routes " + vip.getHostAddress() + " through another interface than " + ifName
                    + ", so strict rp_filter drops the answers (they come from the VIP): set net.ipv4.conf."
                    + ifName + ".rp_filter=2 (loose) and net.ipv4.conf.all.rp_filter to 0 or 2";
        }
        return null;
    }

    private static boolean covers(byte[] network, int prefix, byte[] address) {
        for (int bit = 0; bit < prefix; bit++) {
            int mask = 0x80 >>> (bit % 8);
            if ((network[bit / 8] & mask) != (address[bit / 8] & mask)) {
                return false;
            }
        }
        return true;
    }

    private static int sysctl(String device) {
        try {
            return Integer.parseInt(Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/conf", device,
                    "rp_filter")).trim());
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static String describe(Route r) {
        return r.destination().getHostAddress() + "/" + r.prefixLength()
                + (r.gateway() == null ? "" : " via " + r.gateway().getHostAddress());
    }

    /** Removes every rule and route this instance added and the tunnel device. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Entry e : new ArrayList<>(entries.values())) {
            remove(e);
        }
        entries.clear();
        if (tunnel != null) {
            tunnel.close();
        }
        close(routes, rules);
    }
}
