package io.maglevlb.dataplane.packet;

import io.maglevlb.core.config.DsrMethod;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the engine's {@link NextHops} in step with the VIP's backends and the host's neighbour table, on its own
 * thread (never a forwarding thread). Each round it asks the kernel (rtnetlink) for the route to every backend
 * and for the neighbour entries on the engine's interface:
 *
 * <ul>
 *   <li>{@code l2}: the next hop is the backend itself, which must be on-link on the engine's interface;
 *   <li>{@code ipip}/{@code gue}: the next hop is the route's gateway, or the backend when on-link.
 * </ul>
 *
 * A next hop without a usable neighbour entry gets the kernel to resolve it: a one-byte UDP datagram to its
 * discard port (9) makes the kernel send an ARP request / neighbour solicitation. Health checks to the
 * backends keep the entries warm afterwards; the engine itself bypasses the kernel and would not.
 *
 * <p>Rounds run every {@link #REFRESH_INTERVAL_MS} ms, every {@link #RETRY_INTERVAL_MS} ms while something is
 * unresolved, and at once when a forwarding thread {@linkplain #requestRefresh asks} (it found no next hop).
 */
final class NextHopResolver implements AutoCloseable {
    static final long REFRESH_INTERVAL_MS = 1000;
    static final long RETRY_INTERVAL_MS = 50;
    private static final long PROBE_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final int DISCARD_PORT = 9;
    private static final Logger log = LoggerFactory.getLogger(NextHopResolver.class);

    private final String vipName;
    private final DsrMethod method;
    private final InterfaceInfo iface;
    private final Supplier<ForwardingSnapshot> snapshots;
    private final Netlink netlink;
    private final Thread thread;
    private final Map<InetAddress, Long> lastProbeNs = new HashMap<>();
    private final Set<String> warned = new HashSet<>();
    private volatile NextHops current = NextHops.EMPTY;
    private volatile int unresolved;
    private volatile ForwardingSnapshot lastRoundSnapshot;
    private volatile boolean running = true;
    private volatile boolean refreshRequested;

    NextHopResolver(String vipName, DsrMethod method, InterfaceInfo iface, Supplier<ForwardingSnapshot> snapshots)
            throws PacketEngineException {
        this.vipName = vipName;
        this.method = method;
        this.iface = iface;
        this.snapshots = snapshots;
        this.netlink = new Netlink();
        this.thread = Thread.ofPlatform().daemon().name("maglev-dsr-nexthop-" + vipName).unstarted(this::run);
    }

    void start() {
        refreshOnce();
        thread.start();
    }

    /** The next hops to use now. */
    NextHops current() {
        return current;
    }

    /** Backends of the current snapshot without a next hop after the last round. */
    int unresolved() {
        return unresolved;
    }

    /** Whether the last round used {@code snapshot} and found a next hop for every backend. */
    boolean resolvedFor(ForwardingSnapshot snapshot) {
        return lastRoundSnapshot == snapshot && unresolved == 0;
    }

    /** Asks for a round soon; cheap and callable from any thread. */
    void requestRefresh() {
        if (!refreshRequested) {
            refreshRequested = true;
            LockSupport.unpark(thread);
        }
    }

    private void run() {
        while (running) {
            boolean complete = refreshOnce();
            long waitMs = complete ? REFRESH_INTERVAL_MS : RETRY_INTERVAL_MS;
            if (!refreshRequested) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(waitMs));
            }
            refreshRequested = false;
        }
    }

    /** One round; returns whether every backend has a next hop. */
    boolean refreshOnce() {
        ForwardingSnapshot snapshot = snapshots.get();
        if (snapshot == null) {
            return true;
        }
        try {
            List<BackendState> backends = snapshot.backends();
            InetAddress[] hops = new InetAddress[backends.size()];
            boolean anyV4 = false;
            boolean anyV6 = false;
            for (int i = 0; i < hops.length; i++) {
                hops[i] = nextHop(backends.get(i), backends.get(i).address().getAddress());
                anyV4 |= hops[i] instanceof Inet4Address;
                anyV6 |= hops[i] != null && !(hops[i] instanceof Inet4Address);
            }
            // dump only the families in use: a host with IPv6 disabled refuses AF_INET6 dumps
            List<Netlink.Neighbour> v4 = anyV4 ? netlink.neighbours(LinuxNative.AF_INET, iface.index()) : List.of();
            List<Netlink.Neighbour> v6 = anyV6 ? netlink.neighbours(LinuxNative.AF_INET6, iface.index()) : List.of();
            long[] macs = new long[snapshot.idLimit()];
            int[] destinations = new int[snapshot.idLimit()];
            int missing = 0;
            for (int i = 0; i < hops.length; i++) {
                BackendState backend = backends.get(i);
                InetAddress hop = hops[i];
                if (hop == null) {
                    missing += backend.keepsFlows() ? 1 : 0;
                    continue;
                }
                if (method != DsrMethod.L2) {
                    byte[] a = backend.address().getAddress().getAddress();
                    destinations[backend.id()] = ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8)
                            | (a[3] & 0xff);
                }
                Netlink.Neighbour n = Netlink.find(hop instanceof Inet4Address ? v4 : v6, hop);
                if (n != null && n.usable()) {
                    macs[backend.id()] = n.mac();
                } else {
                    if (backend.keepsFlows()) {
                        missing++; // a backend that is down gets no packets: it does not hold up readiness
                    }
                    probe(hop);
                }
            }
            if (!current.sameAs(macs, destinations)) {
                current = new NextHops(macs, destinations);
                log.debug("vip {}: next hops updated", vipName);
            }
            unresolved = missing;
            lastRoundSnapshot = snapshot;
            return missing == 0;
        } catch (PacketEngineException e) {
            warnOnce("netlink", "vip {}: cannot read routes/neighbours, keeping the previous next hops: {}",
                    e.getMessage());
            return false;
        }
    }

    private InetAddress nextHop(BackendState backend, InetAddress address) throws PacketEngineException {
        if (method != DsrMethod.L2 && !(address instanceof Inet4Address)) {
            warnOnce("v6:" + backend.name(), "vip {}: backend {} has an IPv6 address; {} encapsulation sends IPv4"
                    + " outer headers only, so it gets no traffic", backend.name(), method.configName());
            return null;
        }
        Netlink.Route route;
        try {
            route = netlink.route(address);
        } catch (PacketEngineException e) {
            warnOnce("route:" + backend.name(), "vip {}: backend {}: {}", backend.name(), e.getMessage());
            return null;
        }
        if (route.outputInterface() != iface.index()) {
            warnOnce("oif:" + backend.name(), "vip {}: backend {} ({}) is routed through interface #{}, not {}:"
                    + " the engine sends only on {}", backend.name(), address.getHostAddress(),
                    route.outputInterface(), iface.name(), iface.name());
        }
        if (method == DsrMethod.L2) {
            if (route.gateway() != null) {
                warnOnce("gw:" + backend.name(), "vip {}: backend {} ({}) is behind gateway {}; l2 DSR needs"
                        + " backends on the engine's Ethernet segment, use ipip or gue", backend.name(),
                        address.getHostAddress(), route.gateway().getHostAddress());
                return null;
            }
            return address;
        }
        return route.gateway() != null ? route.gateway() : address;
    }

    private void probe(InetAddress hop) {
        long now = System.nanoTime();
        Long last = lastProbeNs.get(hop);
        if (last != null && now - last < PROBE_INTERVAL_NS) {
            return;
        }
        lastProbeNs.put(hop, now);
        try (DatagramChannel channel = DatagramChannel.open()) {
            channel.send(ByteBuffer.wrap(new byte[] {0}), new InetSocketAddress(hop, DISCARD_PORT));
        } catch (IOException e) {
            warnOnce("probe:" + hop, "vip {}: cannot probe next hop {}: {}", hop.getHostAddress(), e.toString());
        }
    }

    private void warnOnce(String key, String format, Object... args) {
        if (warned.add(key)) {
            Object[] all = new Object[args.length + 1];
            all[0] = vipName;
            System.arraycopy(args, 0, all, 1, args.length);
            log.warn(format, all);
        }
    }

    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        netlink.close();
    }
}
