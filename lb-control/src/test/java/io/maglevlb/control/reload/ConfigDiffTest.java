package io.maglevlb.control.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.AdminConfig;
import io.maglevlb.core.config.AnnounceConfig;
import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.DelayedAck;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConfigDiffTest {
    private static final AdminConfig ADMIN = new AdminConfig(new InetSocketAddress("127.0.0.1", 9190), Optional.empty());

    static BackendConfig backend(String name, int port, int weight) {
        return new BackendConfig(name, new InetSocketAddress("127.0.0.1", port), weight);
    }

    static VipConfig vip(String name, int port, List<BackendConfig> backends) {
        return new VipConfig(name, new InetSocketAddress("127.0.0.1", port), Protocol.TCP, ForwardingMode.PROXY,
                HashMode.values()[0], 101, backends, HealthCheckConfig.defaults(), 0, Duration.ofSeconds(2), 2,
                Duration.ofMinutes(15), ProxyProtocol.NONE, Optional.empty());
    }

    static MaglevConfig config(VipConfig... vips) {
        return new MaglevConfig(ADMIN, 2, Duration.ofSeconds(30), FlowTableConfig.defaults(), List.of(vips));
    }

    private final VipConfig web = vip("web", 8080, List.of(backend("a", 9001, 1), backend("b", 9002, 1)));
    private final VipConfig api = vip("api", 8081, List.of(backend("x", 9101, 1)));

    @Test
    void identicalConfigsDiffToNothing() {
        ConfigDiff d = ConfigDiff.between(config(web, api), config(web, api));
        assertTrue(d.isEmpty());
        assertEquals(List.of(web, api), d.unchanged());
    }

    @Test
    void addedAndRemovedVipsByName() {
        VipConfig dns = vip("dns", 5353, List.of(backend("n", 53, 1)));
        ConfigDiff d = ConfigDiff.between(config(web, api), config(web, dns));
        assertEquals(List.of(dns), d.added());
        assertEquals(List.of(api), d.removed());
        assertEquals(List.of(web), d.unchanged());
        assertTrue(d.changed().isEmpty());
    }

    @Test
    void addingABackendChangesTheTableButNotTheListener() {
        VipConfig web2 = vip("web", 8080, List.of(backend("a", 9001, 1), backend("b", 9002, 1), backend("c", 9003, 1)));
        ConfigDiff d = ConfigDiff.between(config(web, api), config(web2, api));
        ConfigDiff.VipChange c = d.changed().getFirst();
        assertEquals("web", c.name());
        assertTrue(c.tableChanged());
        assertFalse(c.listenerChanged());
        assertFalse(c.healthCheckChanged());
        assertEquals("c", c.backends().added().getFirst().name());
        assertEquals(2, c.backends().kept().size());
        assertEquals(List.of(api), d.unchanged());
    }

    @Test
    void reAddressingABackendKeepsItsTableSlots() {
        VipConfig moved = vip("web", 8080, List.of(backend("a", 9999, 1), backend("b", 9002, 1)));
        ConfigDiff.VipChange c = ConfigDiff.between(config(web), config(moved)).changed().getFirst();
        assertFalse(c.tableChanged(), "the table hashes names, not addresses");
        assertTrue(c.backends().kept().getFirst().addressChanged());
    }

    @Test
    void reweightingChangesTheTable() {
        VipConfig heavier = vip("web", 8080, List.of(backend("a", 9001, 3), backend("b", 9002, 1)));
        ConfigDiff.VipChange c = ConfigDiff.between(config(web), config(heavier)).changed().getFirst();
        assertTrue(c.tableChanged());
        assertTrue(c.backends().kept().getFirst().weightChanged());
    }

    @Test
    void newListenAddressNeedsNewSockets() {
        VipConfig moved = vip("web", 8443, web.backends());
        ConfigDiff.VipChange c = ConfigDiff.between(config(web), config(moved)).changed().getFirst();
        assertTrue(c.listenerChanged());
        assertFalse(c.tableChanged());
    }

    @Test
    void healthCheckAndSettingsChangesAreToldApart() {
        HealthCheckConfig http = new HealthCheckConfig(HealthCheckType.HTTP, Duration.ofSeconds(1),
                Duration.ofMillis(500), 2, 3, "/health", 200, 299);
        VipConfig checked = new VipConfig("web", web.listen(), web.protocol(), web.mode(), web.hash(), web.tableSize(),
                web.backends(), http, 100, web.connectTimeout(), web.connectRetries(), web.idleTimeout(),
                web.proxyProtocol(), web.dsr());
        ConfigDiff.VipChange c = ConfigDiff.between(config(web), config(checked)).changed().getFirst();
        assertTrue(c.healthCheckChanged());
        assertTrue(c.settingsChanged());
        assertFalse(c.tableChanged());
        assertFalse(c.listenerChanged());
        assertEquals("health check, settings", c.summary());
    }

    @Test
    void aDelayedAckChangeIsASettingsChange() {
        VipConfig delaying = new VipConfig("web", web.listen(), web.protocol(), web.mode(), web.hash(),
                web.tableSize(), web.backends(), web.healthCheck(), web.maxConnections(), web.connectTimeout(),
                web.connectRetries(), web.idleTimeout(), web.proxyProtocol(), DelayedAck.BOTH, web.dsr());
        ConfigDiff.VipChange c = ConfigDiff.between(config(web), config(delaying)).changed().getFirst();
        assertTrue(c.settingsChanged());
        assertFalse(c.tableChanged());
        assertFalse(c.listenerChanged());
        assertEquals("settings", c.summary());
    }

    @Test
    void processWideChangesAreReportedAsNeedingARestart() {
        MaglevConfig before = config(web);
        MaglevConfig after = new MaglevConfig(new AdminConfig(new InetSocketAddress("127.0.0.1", 9191),
                Optional.empty()), 4, Duration.ofSeconds(30), new FlowTableConfig(1024, 0), List.of(web));
        assertEquals(List.of("admin", "workers", "flow_table"), ConfigDiff.between(before, after).needsRestart());
    }

    @Test
    void anAnnounceChangeNeedsARestart() {
        MaglevConfig before = config(web);
        MaglevConfig after = new MaglevConfig(before.admin(), before.workers(), before.shutdownTimeout(),
                before.flowTable(), before.vips(), Optional.of(new AnnounceConfig(100, "maglev0", Duration.ofSeconds(2))));
        assertEquals(List.of("announce"), ConfigDiff.between(before, after).needsRestart());
        assertEquals(List.of(), ConfigDiff.between(after, after).needsRestart());
    }
}
