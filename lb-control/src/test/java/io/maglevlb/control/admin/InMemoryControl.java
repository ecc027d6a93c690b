package io.maglevlb.control.admin;

import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.FlowPlacement;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small but real {@link ControlApi} for the HTTP layer tests: VIPs with backends whose drain state
 * rebuilds real Maglev snapshots. No sockets, no health checks: the HTTP server is what is under test.
 */
final class InMemoryControl implements ControlApi {
    private final Map<String, ForwardingSnapshot> vips = new LinkedHashMap<>();
    private final Set<String> withdrawn = new HashSet<>();
    volatile List<String> nextReloadErrors = List.of();
    volatile CountDownLatch reloadGate;
    final AtomicInteger reloads = new AtomicInteger();

    InMemoryControl() {
        InetSocketAddress a = new InetSocketAddress("127.0.0.1", 8001);
        InetSocketAddress b = new InetSocketAddress("127.0.0.1", 8002);
        vips.put("web", ForwardingSnapshot.build("web", 1, 101, List.of(
                new BackendState(1, "a", a, 1, false, true), new BackendState(2, "b", b, 1, false, true))));
        vips.put("dns", ForwardingSnapshot.build("dns", 1, 13, List.of(
                new BackendState(1, "ns1", a, 1, false, false))));
    }

    @Override
    public synchronized StatusView status() {
        List<StatusView.Vip> out = new ArrayList<>();
        for (ForwardingSnapshot s : vips.values()) {
            List<StatusView.Backend> backends = new ArrayList<>();
            for (BackendState b : s.backends()) {
                backends.add(new StatusView.Backend(b.name(), b.address().toString(), b.weight(), b.healthy(),
                        b.drained(), s.slotCount(b.id()), b.healthy() ? "up" : "down", null, 0L,
                        "backend " + b.address()));
            }
            out.add(new StatusView.Vip(s.vip(), "127.0.0.1:80", "tcp", "proxy", s.generation(), s.digest(),
                    s.tableSize(), s.tableBackends().size(), 0L, backends, announcement(s.vip())));
        }
        return new StatusView("test", ProcessHandle.current().pid(), "2026-01-01T00:00:00Z", "/dev/null", null, out);
    }

    /** The table's choice for a TCP flow to 127.0.0.1:80; nothing is tracked here (no forwarder). */
    @Override
    public synchronized Optional<ExplainView> explain(String vip, InetSocketAddress client) {
        ForwardingSnapshot s = vips.get(vip);
        if (s == null) {
            return Optional.empty();
        }
        InetSocketAddress dst = new InetSocketAddress("127.0.0.1", 80);
        FlowPlacement p = FlowPlacement.of(s, HashMode.FIVE_TUPLE, Protocol.TCP, client, dst);
        String name = p.backend() == null ? null : p.backend().name();
        return Optional.of(new ExplainView(vip, "tcp", "proxy", "5-tuple", client.toString(), dst.toString(),
                p.hashHex(), p.slot(), s.tableSize(), s.generation(), s.digest(), name,
                p.backend() == null ? null : p.backend().address().toString(), ExplainView.Tracking.NONE, name));
    }

    private StatusView.Announcement announcement(String vip) {
        boolean off = withdrawn.contains(vip);
        return new StatusView.Announcement("127.0.0.1/32", !off, off, off ? "withdrawn by the operator" : null);
    }

    @Override
    public synchronized AnnounceResult withdraw(String vip) {
        return announceSwitch(vip, true);
    }

    @Override
    public synchronized AnnounceResult announce(String vip) {
        return announceSwitch(vip, false);
    }

    private AnnounceResult announceSwitch(String vip, boolean withdraw) {
        if (vip != null && !vips.containsKey(vip)) {
            return new AnnounceResult(AnnounceResult.Outcome.UNKNOWN_VIP, vip, withdraw, List.of());
        }
        List<AnnounceResult.Vip> out = new ArrayList<>();
        for (String name : vips.keySet()) {
            if (vip == null || vip.equals(name)) {
                if (withdraw) {
                    withdrawn.add(name);
                } else {
                    withdrawn.remove(name);
                }
                out.add(new AnnounceResult.Vip(name, announcement(name)));
            }
        }
        return new AnnounceResult(AnnounceResult.Outcome.DONE, vip, withdraw, out);
    }

    @Override
    public synchronized Optional<TableView> table(String vip) {
        ForwardingSnapshot s = vips.get(vip);
        if (s == null) {
            return Optional.empty();
        }
        List<TableView.Backend> backends = s.tableBackends().stream()
                .map(b -> new TableView.Backend(b.id(), b.name(), s.slotCount(b.id()))).toList();
        return Optional.of(new TableView(vip, s.generation(), s.digest(), s.tableSize(), backends, s.table()));
    }

    @Override
    public ReloadResult reload() {
        CountDownLatch gate = reloadGate;
        if (gate != null) {
            try {
                gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        reloads.incrementAndGet();
        List<String> errors = nextReloadErrors;
        if (!errors.isEmpty()) {
            return ReloadResult.failed(errors);
        }
        return new ReloadResult(true, List.of(), List.of(), List.of(), List.of(), List.copyOf(vips.keySet()));
    }

    @Override
    public DrainResult drain(String vip, String backend) {
        return setDrained(vip, backend, true);
    }

    @Override
    public DrainResult undrain(String vip, String backend) {
        return setDrained(vip, backend, false);
    }

    private synchronized DrainResult setDrained(String vip, String backend, boolean drained) {
        ForwardingSnapshot s = vips.get(vip);
        if (s == null) {
            return DrainResult.unknownVip(vip, backend);
        }
        List<BackendState> next = new ArrayList<>();
        boolean found = false;
        boolean changed = false;
        for (BackendState b : s.backends()) {
            if (b.name().equals(backend)) {
                found = true;
                changed = b.drained() != drained;
                next.add(b.withDrained(drained));
            } else {
                next.add(b);
            }
        }
        if (!found) {
            return DrainResult.unknownBackend(vip, backend);
        }
        if (changed) {
            vips.put(vip, ForwardingSnapshot.build(vip, s.generation() + 1, s.tableSize(), next));
        }
        return DrainResult.done(vip, backend, drained, changed);
    }
}
