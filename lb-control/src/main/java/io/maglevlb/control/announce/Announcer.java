package io.maglevlb.control.announce;

import io.maglevlb.core.config.AnnounceConfig;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.NetlinkException;
import io.maglevlb.dataplane.linux.Route;
import io.maglevlb.dataplane.linux.Routes;
import io.maglevlb.dataplane.linux.TunDevice;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the host's routing daemon which VIPs this maglevd serves: a {@code VIP/32} ({@code /128}) route
 * {@code dev <announce.device>} in {@code announce.table} per announced address, tagged
 * {@link Routes#PROTOCOL_MAGLEVD}. The routing daemon learns the table and exports the routes over BGP
 * (DESIGN §8); maglevd never speaks BGP.
 *
 * <p><b>Dies with the process.</b> The routes point at a non-persistent TUN device this object creates and
 * holds open: when the process ends, by SIGKILL or a crash included, the kernel removes the device and every
 * route through it, and the routing daemon withdraws them, with no supervisor involved.
 *
 * <p><b>What is announced.</b> An address is announced while some VIP on it is forwarded by this host, has a
 * backend that can take new flows, and has not been withdrawn by the operator ({@link #withdraw}; the switch
 * survives reloads because it lives here, not in the configuration). {@link #update} brings the table in line
 * with that; {@link #withdrawAll} empties it for good (shutdown).
 *
 * <p><b>Never deletes what it did not add.</b> At {@link #open} a route in the table for a VIP's address that
 * is not ours is an error; later deletes pass our protocol tag and our device, so the kernel matches nothing
 * else.
 *
 * <p>Threading: every method is {@code synchronized} (one netlink socket); callers are the control thread and
 * the thread running shutdown. {@link #status()} reads a snapshot published with one volatile store and takes no
 * lock, for scrapes. Ownership: this object owns the TUN device and the route socket until {@link #close()}.
 */
public final class Announcer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Announcer.class);

    private final AnnounceConfig config;
    private final TunDevice device;
    private final Routes routes;
    // Guarded by this.
    private final Map<InetAddress, Route> installed = new LinkedHashMap<>();
    private final Map<InetAddress, String> failures = new HashMap<>();
    private final Set<String> withdrawnVips = new HashSet<>();
    private final Set<String> knownVips = new HashSet<>();
    private List<AnnounceCandidate> lastCandidates = List.of();
    private boolean hostWithdrawn;
    private boolean stopping;
    private boolean closed;
    private volatile Map<String, VipAnnouncement> published = Map.of();

    private Announcer(AnnounceConfig config, TunDevice device, Routes routes) {
        this.config = config;
        this.device = device;
        this.routes = routes;
    }

    /**
     * Creates the device and checks the table: a route there for one of {@code vipAddresses} that maglevd did
     * not add (another tag, or another device) is refused, never touched.
     *
     * @throws AnnounceException saying what failed: no CAP_NET_ADMIN, the device name taken, a foreign route
     */
    public static Announcer open(AnnounceConfig config, Collection<InetAddress> vipAddresses)
            throws AnnounceException {
        TunDevice device;
        try {
            device = TunDevice.open(config.device());
        } catch (NetlinkException e) {
            throw new AnnounceException("announce: " + e.getMessage() + (e.errno() == LinuxNative.EPERM
                    ? "; run maglevd with CAP_NET_ADMIN or remove the announce section" : ""), e);
        }
        Routes routes = null;
        try {
            routes = Routes.open();
            List<Route> present = routes.dump(config.table());
            for (Route r : present) {
                if (r.prefixLength() == r.destination().getAddress().length * 8
                        && vipAddresses.contains(r.destination())) {
                    throw new AnnounceException("announce: table " + config.table() + " already holds a route for "
                            + NetUtil.toAddressString(r.destination()) + "/" + r.prefixLength() + " that this maglevd did "
                            + "not add (" + describe(r) + "); maglevd never replaces or deletes routes it did not "
                            + "add: remove it or choose another announce.table");
                }
            }
            Announcer a = new Announcer(config, device, routes);
            LOG.info("announce: device {} (index {}) up; VIP routes go into table {} with protocol {}", device.name(),
                    device.index(), config.table(), Routes.PROTOCOL_MAGLEVD);
            return a;
        } catch (NetlinkException | AnnounceException | RuntimeException e) {
            if (routes != null) {
                routes.close();
            }
            device.close();
            if (e instanceof AnnounceException ae) {
                throw ae;
            }
            throw new AnnounceException("announce: cannot read routing table " + config.table() + ": "
                    + e.getMessage(), e);
        }
    }

    private static String describe(Route r) {
        return "protocol " + r.protocol() + (r.protocol() == Routes.PROTOCOL_MAGLEVD ? " (a maglevd's)" : "")
                + (r.outputInterface() != 0 ? ", interface index " + r.outputInterface() : "")
                + (r.gateway() != null ? ", via " + NetUtil.toAddressString(r.gateway()) : "");
    }

    public AnnounceConfig config() {
        return config;
    }

    public String deviceName() {
        return device.name();
    }

    /**
     * Adds the routes of addresses that qualify now and removes those that no longer do. A route that cannot be
     * added is retried at the next call (and reported in {@link #status()} and the log, once per error).
     *
     * @return why routes that should be there are not (one line per address); empty when all are
     */
    public synchronized List<String> update(List<AnnounceCandidate> candidates) {
        if (closed) {
            return List.of();
        }
        lastCandidates = List.copyOf(candidates);
        Set<String> names = new HashSet<>();
        for (AnnounceCandidate c : candidates) {
            names.add(c.vip());
            if (knownVips.add(c.vip()) && hostWithdrawn) {
                withdrawnVips.add(c.vip()); // a VIP a reload added while the whole host is withdrawn
            }
        }
        knownVips.retainAll(names);
        withdrawnVips.retainAll(names);

        Map<InetAddress, String> wanted = new LinkedHashMap<>(); // address -> the first VIP that wants it
        if (!stopping) {
            for (AnnounceCandidate c : candidates) {
                if (why(c) == null) {
                    wanted.putIfAbsent(c.address(), c.vip());
                }
            }
        }
        for (InetAddress address : new ArrayList<>(installed.keySet())) {
            if (!wanted.containsKey(address)) {
                remove(address);
            }
        }
        for (Map.Entry<InetAddress, String> w : wanted.entrySet()) {
            if (!installed.containsKey(w.getKey())) {
                add(w.getKey(), w.getValue());
            }
        }
        failures.keySet().retainAll(wanted.keySet());
        publish();
        return List.copyOf(failures.values());
    }

    /** Why {@code c} does not qualify for a route by itself, or null when it does. Holds the lock. */
    private String why(AnnounceCandidate c) {
        if (c.address().isAnyLocalAddress()) {
            return "listens on a wildcard address: nothing to announce";
        }
        if (!c.forwarded()) {
            return "not forwarded on this host";
        }
        if (withdrawnVips.contains(c.vip())) {
            return "withdrawn by the operator (maglevd ctl announce to undo)";
        }
        if (!c.backendUp()) {
            return "no backend up";
        }
        return null;
    }

    private void add(InetAddress address, String vip) {
        Route r = Route.host(address, config.table(), device.index(), Routes.PROTOCOL_MAGLEVD);
        try {
            routes.add(r);
            installed.put(address, r);
            failures.remove(address);
            LOG.info("announce: vip {}: route {}/{} dev {} table {} added", vip, NetUtil.toAddressString(address),
                    r.prefixLength(), device.name(), config.table());
        } catch (NetlinkException e) {
            String message = e.errno() == LinuxNative.EEXIST
                    ? "table " + config.table() + " holds a route for " + NetUtil.toAddressString(address) + " that "
                            + "maglevd did not add; it is left alone and this address is not announced"
                    : e.getMessage();
            if (!message.equals(failures.put(address, message))) {
                LOG.error("announce: vip {}: {}", vip, message);
            }
        }
    }

    private void remove(InetAddress address) {
        Route r = installed.get(address);
        try {
            if (!routes.delete(r)) {
                LOG.warn("announce: route {}/{} was gone already (removed by someone else?)",
                        NetUtil.toAddressString(address), r.prefixLength());
            } else {
                LOG.info("announce: route {}/{} dev {} table {} withdrawn", NetUtil.toAddressString(address), r.prefixLength(),
                        device.name(), config.table());
            }
            installed.remove(address);
        } catch (NetlinkException e) {
            LOG.error("announce: cannot withdraw {}/{}: {} (retried at the next update)", NetUtil.toAddressString(address),
                    r.prefixLength(), e.getMessage());
        }
    }

    /** Holds the lock. */
    private void publish() {
        Map<String, VipAnnouncement> out = new LinkedHashMap<>();
        Map<InetAddress, String> owner = new HashMap<>();
        for (AnnounceCandidate c : lastCandidates) {
            if (why(c) == null && !stopping) {
                owner.putIfAbsent(c.address(), c.vip());
            }
        }
        for (AnnounceCandidate c : lastCandidates) {
            boolean wildcard = c.address().isAnyLocalAddress();
            String prefix = wildcard ? null : NetUtil.toAddressString(c.address()) + "/" + (c.address().getAddress().length * 8);
            boolean announced = installed.containsKey(c.address());
            String reason;
            if (stopping) {
                reason = "shutting down";
            } else if (why(c) != null) {
                reason = why(c);
                if (announced) {
                    reason += "; the address stays announced for vip " + owner.get(c.address());
                }
            } else if (!announced) {
                reason = failures.getOrDefault(c.address(), "not added yet");
            } else {
                reason = null;
            }
            out.put(c.vip(), new VipAnnouncement(c.vip(), prefix, announced, withdrawnVips.contains(c.vip()),
                    reason));
        }
        published = Map.copyOf(out);
    }

    /**
     * The maintenance switch, off: withdraws {@code vip}, or every VIP (and every VIP a later reload adds) when
     * empty. Takes effect at the next {@link #update}. Returns false when {@code vip} is not known.
     */
    public synchronized boolean withdraw(Optional<String> vip) {
        if (vip.isEmpty()) {
            hostWithdrawn = true;
            withdrawnVips.addAll(knownVips);
            return true;
        }
        if (!knownVips.contains(vip.get())) {
            return false;
        }
        withdrawnVips.add(vip.get());
        return true;
    }

    /** The maintenance switch, on: undoes {@link #withdraw} for {@code vip}, or for every VIP when empty. */
    public synchronized boolean announce(Optional<String> vip) {
        if (vip.isEmpty()) {
            hostWithdrawn = false;
            withdrawnVips.clear();
            return true;
        }
        if (!knownVips.contains(vip.get())) {
            return false;
        }
        withdrawnVips.remove(vip.get());
        return true;
    }

    /**
     * Removes every route and announces nothing from now on (shutdown: routes first, then the grace, then the
     * drain). Returns how many routes it removed.
     */
    public synchronized int withdrawAll() {
        stopping = true;
        int before = installed.size();
        for (InetAddress address : new ArrayList<>(installed.keySet())) {
            remove(address);
        }
        publish();
        return before - installed.size();
    }

    /** The VIPs' announcement state as of the last update, by VIP name. Any thread, no lock. */
    public Map<String, VipAnnouncement> status() {
        return published;
    }

    /** Whether {@code vip}'s address is announced now (for the metric). Any thread, no lock. */
    public boolean announced(String vip) {
        VipAnnouncement a = published.get(vip);
        return a != null && a.announced();
    }

    /** Closes the route socket and the device; the kernel removes the device and any route left through it. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopping = true;
        installed.clear();
        publish();
        routes.close();
        device.close();
    }
}
