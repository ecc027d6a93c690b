package io.maglevlb.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.ConfigNode.Entry;
import io.maglevlb.core.config.ConfigNode.ListNode;
import io.maglevlb.core.config.ConfigNode.MapNode;
import io.maglevlb.core.config.ConfigNode.ScalarNode;
import io.maglevlb.core.flow.HashMode;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigBinderTest {

    /** A valid document; VIP-level keys added by {@link #vip(String)} start on line 9, column 5. */
    private static final String VIP_HEAD = """
            vips:
              - name: web
                listen: 127.0.0.1:8080
                backends:
                  - name: web-1
                    address: 127.0.0.1:9001
                  - name: web-2
                    address: 127.0.0.1:9002
            """;

    /** {@link #VIP_HEAD} plus VIP keys, each line of {@code extra} indented to the VIP's keys. */
    private static String vip(String extra) {
        return VIP_HEAD + extra.lines().map(l -> "    " + l).collect(Collectors.joining("\n", "", "\n"));
    }

    private static BindResult bind(String yaml) {
        return ConfigBinder.bind(MiniYaml.parse(yaml));
    }

    private static MaglevConfig valid(String yaml) {
        BindResult r = bind(yaml);
        assertTrue(r.isValid(), () -> "expected valid, got " + r.errors());
        return r.config().orElseThrow();
    }

    /** Asserts the document has exactly one error and returns it. */
    private static ConfigError onlyError(String yaml) {
        BindResult r = bind(yaml);
        assertEquals(1, r.errors().size(), () -> "expected one error, got " + r.errors());
        assertTrue(r.config().isEmpty());
        return r.errors().getFirst();
    }

    private static void assertError(ConfigError e, String path, int line, int column, String messagePart) {
        assertEquals(path, e.path(), () -> "path of " + e);
        assertEquals(line, e.line(), () -> "line of " + e);
        assertEquals(column, e.column(), () -> "column of " + e);
        assertTrue(e.message().contains(messagePart), () -> "message of " + e + " lacks: " + messagePart);
    }

    private static void assertOnlyError(String yaml, String path, int line, int column, String messagePart) {
        assertError(onlyError(yaml), path, line, column, messagePart);
    }

    @Nested
    class Defaults {
        @Test
        void minimalConfigGetsEveryDefault() {
            MaglevConfig c = valid(VIP_HEAD);
            assertEquals(new InetSocketAddress("127.0.0.1", 9190), c.admin().listen());
            assertEquals(Optional.empty(), c.admin().tokenFile());
            assertEquals(MaglevConfig.DEFAULT_WORKERS, c.workers());
            assertEquals(MaglevConfig.DEFAULT_SHUTDOWN_TIMEOUT, c.shutdownTimeout());
            assertEquals(FlowTableConfig.defaults(), c.flowTable());
            VipConfig v = c.vips().getFirst();
            assertEquals("web", v.name());
            assertEquals(new InetSocketAddress("127.0.0.1", 8080), v.listen());
            assertEquals(Protocol.TCP, v.protocol());
            assertEquals(ForwardingMode.PROXY, v.mode());
            assertEquals(HashMode.FIVE_TUPLE, v.hash());
            assertEquals(VipConfig.DEFAULT_TABLE_SIZE, v.tableSize());
            assertEquals(HealthCheckConfig.defaults(), v.healthCheck());
            assertEquals(VipConfig.DEFAULT_MAX_CONNECTIONS, v.maxConnections());
            assertEquals(VipConfig.DEFAULT_CONNECT_TIMEOUT, v.connectTimeout());
            assertEquals(VipConfig.DEFAULT_CONNECT_RETRIES, v.connectRetries());
            assertEquals(VipConfig.DEFAULT_TCP_IDLE_TIMEOUT, v.idleTimeout());
            assertEquals(ProxyProtocol.NONE, v.proxyProtocol());
            assertEquals(Optional.empty(), v.dsr());
            assertEquals(List.of(new BackendConfig("web-1", new InetSocketAddress("127.0.0.1", 9001), 1),
                    new BackendConfig("web-2", new InetSocketAddress("127.0.0.1", 9002), 1)), v.backends());
        }

        @Test
        void udpVipGetsTheUdpIdleTimeout() {
            assertEquals(VipConfig.DEFAULT_UDP_IDLE_TIMEOUT,
                    valid(vip("protocol: udp")).vips().getFirst().idleTimeout());
        }

        @Test
        void validConfigHasNoWarnings() {
            assertEquals(List.of(), bind(VIP_HEAD).warnings());
        }
    }

    @Test
    void everyKeyIsBound() {
        MaglevConfig c = valid("""
                admin:
                  listen: "[::1]:9191"
                  token_file: /etc/maglevd/token
                workers: 4
                shutdown_timeout: 45s
                flow_table:
                  capacity: 1024
                  flood_threshold: 5000
                vips:
                  - name: web
                    listen: 127.0.0.1:8080
                    protocol: tcp
                    mode: proxy
                    hash: source-ip
                    table_size: 1009
                    max_connections: 100
                    connect_timeout: 1500ms
                    connect_retries: 1
                    idle_timeout: 5m
                    proxy_protocol: v2
                    health_check:
                      type: http
                      interval: 3s
                      timeout: 1.5s
                      rise: 1
                      fall: 5
                      path: /healthz
                      expect: 200-299
                    backends:
                      - name: a
                        address: 198.18.0.1:80
                        weight: 3
                      - name: b
                        address: "[2001:db8::1]:80"
                        weight: 0
                  - name: dns
                    listen: 0.0.0.0:53
                    protocol: udp
                    mode: dsr
                    dsr:
                      method: gue
                      interface: eth0
                      gue_port: 7000
                    backends:
                      - name: d1
                        address: 198.18.0.2:53
                  - name: dns-dsr-l2
                    listen: 198.18.1.1:53
                    protocol: udp
                    mode: dsr
                    dsr:
                      method: l2
                      interface: eth1
                    backends:
                      - name: d1
                        address: 198.18.0.2:53
                """.replace("listen: 0.0.0.0:53", "listen: 198.18.1.2:53"));
        assertEquals(new InetSocketAddress("::1", 9191), c.admin().listen());
        assertEquals(Optional.of(Path.of("/etc/maglevd/token")), c.admin().tokenFile());
        assertEquals(4, c.workers());
        assertEquals(Duration.ofSeconds(45), c.shutdownTimeout());
        assertEquals(new FlowTableConfig(1024, 5000), c.flowTable());
        VipConfig web = c.vip("web").orElseThrow();
        assertEquals(HashMode.SOURCE_IP, web.hash());
        assertEquals(1009, web.tableSize());
        assertEquals(100, web.maxConnections());
        assertEquals(Duration.ofMillis(1500), web.connectTimeout());
        assertEquals(1, web.connectRetries());
        assertEquals(Duration.ofMinutes(5), web.idleTimeout());
        assertEquals(ProxyProtocol.V2, web.proxyProtocol());
        assertEquals(new HealthCheckConfig(HealthCheckType.HTTP, Duration.ofSeconds(3), Duration.ofMillis(1500), 1,
                5, "/healthz", 200, 299), web.healthCheck());
        assertEquals(3, web.backend("a").orElseThrow().weight());
        assertEquals(new InetSocketAddress("2001:db8::1", 80), web.backend("b").orElseThrow().address());
        assertEquals(0, web.backend("b").orElseThrow().weight());
        VipConfig dns = c.vip("dns").orElseThrow();
        assertEquals(Protocol.UDP, dns.protocol());
        assertEquals(ForwardingMode.DSR, dns.mode());
        assertEquals(Optional.of(new DsrConfig(DsrMethod.GUE, "eth0", 7000)), dns.dsr());
        assertEquals(HealthCheckConfig.defaults(Protocol.UDP).withTarget(HealthCheckTarget.VIP), dns.healthCheck(),
                "a dsr udp VIP gets udp checks, at the VIP");
        assertEquals(Optional.of(new DsrConfig(DsrMethod.L2, "eth1", DsrConfig.DEFAULT_GUE_PORT)),
                c.vip("dns-dsr-l2").orElseThrow().dsr());
    }

    @Nested
    class DocumentShape {
        @Test
        void emptyDocumentIsAnError() {
            assertOnlyError("", "", 1, 1, "the configuration is empty");
            assertOnlyError("# only a comment\n", "", 1, 1, "the configuration is empty");
        }

        @Test
        void documentThatIsNotAMapIsAnError() {
            assertOnlyError("- a\n- b\n", "", 1, 1, "must be a map with keys such as 'admin' and 'vips', got a list");
            assertOnlyError("hello\n", "", 1, 1, "got a value");
        }

        @Test
        void vipsAreRequiredAndNonEmpty() {
            assertOnlyError("workers: 2\n", "vips", 1, 1, "required key 'vips' is missing");
            assertOnlyError("vips: []\n", "vips", 1, 7, "at least one VIP is required");
            assertOnlyError("vips:\n", "vips", 1, 6, "expected a list of VIPs, got no value");
            assertOnlyError("vips:\n  name: web\n", "vips", 2, 3, "expected a list of VIPs, got a map");
        }

        @Test
        void listWhereAMapIsExpected() {
            assertOnlyError("admin:\n  - 127.0.0.1:9190\n" + VIP_HEAD, "admin", 2, 3,
                    "expected a map of the admin API settings (listen, token_file), got a list");
            assertOnlyError(vip("health_check:\n  - tcp"), "vips[0].health_check", 10, 7, "expected a map");
            assertOnlyError("vips:\n  - web\n", "vips[0]", 2, 5, "expected a map of a VIP");
        }

        @Test
        void mapWhereAScalarIsExpected() {
            assertOnlyError(vip("protocol:\n  udp: yes"), "vips[0].protocol", 10, 7,
                    "expected one of tcp, udp, got a map");
            assertOnlyError("workers:\n  - 1\n" + VIP_HEAD, "workers", 2, 3, "expected an integer, got a list");
        }

        @Test
        void unknownKeySuggestsTheClosestKnownKey() {
            String yaml = VIP_HEAD.replace("      - name: web-2\n", "      - name: web-2\n        wieght: 2\n");
            assertOnlyError(yaml, "vips[0].backends[1].wieght", 8, 9, "unknown key 'wieght' (did you mean 'weight'?)");
            assertOnlyError(vip("tablesize: 1009"), "vips[0].tablesize", 9, 5, "(did you mean 'table_size'?)");
            assertOnlyError(vip("health-check: {}"), "vips[0].health-check", 9, 5, "(did you mean 'health_check'?)");
            assertOnlyError("Vips: []\n" + VIP_HEAD, "Vips", 1, 1, "(did you mean 'vips'?)");
        }

        @Test
        void unknownKeyFarFromAnyListsTheKnownKeys() {
            assertOnlyError(vip("colour: blue"), "vips[0].colour", 9, 5,
                    "unknown key 'colour' (expected one of: name, listen, protocol, mode, hash, table_size, backends,");
        }

        @Test
        void duplicateKeyIsAnErrorAtTheSecondOccurrence() {
            assertOnlyError(vip("name: again"), "vips[0].name", 9, 5, "duplicate key 'name' (first at line 2)");
        }

        @Test
        void nullValueIsAnErrorNotADefault() {
            assertOnlyError(vip("table_size:"), "vips[0].table_size", 9, 16, "expected an integer, got no value");
        }

        @Test
        void everyErrorIsReportedAtOnceInDocumentOrder() {
            BindResult r = bind("""
                    workers: -1
                    admin:
                      listen: localhost:9190
                    vips:
                      - name: web
                        listen: 127.0.0.1:0
                        table_size: 1000
                        backends:
                          - name: web-1
                            address: 127.0.0.1:9001
                            wieght: 2
                          - address: 127.0.0.1:9002
                      - listen: 127.0.0.1:8081
                        protocol: sctp
                        backends: []
                    """);
            assertFalse(r.isValid());
            List<ConfigError> e = r.errors();
            assertEquals(8, e.size(), e::toString);
            assertError(e.get(0), "workers", 1, 10, "must be between 0 and 1024, was -1");
            assertError(e.get(1), "admin.listen", 3, 11, "'localhost' is a host name");
            assertError(e.get(2), "vips[0].listen", 6, 13, "port must be between 1 and 65535, was 0");
            assertError(e.get(3), "vips[0].table_size", 7, 17, "must be prime, was 1000 (next prime: 1009");
            assertError(e.get(4), "vips[0].backends[0].wieght", 11, 9, "did you mean 'weight'?");
            assertError(e.get(5), "vips[0].backends[1].name", 12, 9, "required key 'name' is missing");
            assertError(e.get(6), "vips[1].name", 13, 5, "required key 'name' is missing");
            assertError(e.get(7), "vips[1].protocol", 14, 15, "'sctp' is not one of tcp, udp");
        }
    }

    @Nested
    class RequiredFields {
        @Test
        void vipNameListenAndBackendsAreRequired() {
            BindResult r = bind("vips:\n  - protocol: tcp\n");
            assertEquals(3, r.errors().size(), r.errors()::toString);
            assertError(r.errors().get(0), "vips[0].name", 2, 5, "required key 'name' is missing");
            assertError(r.errors().get(1), "vips[0].listen", 2, 5, "required key 'listen' is missing");
            assertError(r.errors().get(2), "vips[0].backends", 2, 5, "required key 'backends' is missing");
        }

        @Test
        void backendNameAndAddressAreRequired() {
            assertOnlyError(VIP_HEAD.replace("      - name: web-2\n", "      - weight: 2\n"),
                    "vips[0].backends[1].name", 7, 9, "required key 'name' is missing");
            assertOnlyError(VIP_HEAD.replace("        address: 127.0.0.1:9001\n", ""),
                    "vips[0].backends[0].address", 5, 9, "required key 'address' is missing");
        }

        @ParameterizedTest
        @ValueSource(strings = {"my web", "-web", "web/1", "é", "a234567890123456789012345678901234567890123456789012345678901234x"})
        void namesMustBeLabelAndPathSafe(String name) {
            assertOnlyError(VIP_HEAD.replace("name: web\n", "name: \"" + name + "\"\n"), "vips[0].name", 2, 11,
                    "is not a valid name");
        }

        @Test
        void namesMayUseDotsDashesAndUnderscores() {
            assertEquals("Web_1.a-b", valid(VIP_HEAD.replace("name: web\n", "name: Web_1.a-b\n")).vips().getFirst()
                    .name());
        }
    }

    @Nested
    class Addresses {
        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                127.0.0.1:80           | 127.0.0.1 | 80
                198.18.2.3:65535       | 198.18.2.3| 65535
                '[::1]:80'             | ::1       | 80
                '[2001:db8::42]:8080'  | 2001:db8::42 | 8080
                """)
        void ipLiteralsWithPortAreAccepted(String text, String ip, int port) {
            InetSocketAddress a = valid(VIP_HEAD.replace("address: 127.0.0.1:9001", "address: \"" + text + "\""))
                    .vips().getFirst().backends().getFirst().address();
            assertEquals(new InetSocketAddress(ip, port), a);
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
                localhost:80         | 'localhost' is a host name; maglevd does not resolve names
                backend.example:80   | is a host name
                127.0.0.1            | has no port: write 127.0.0.1:80
                ::1:80               | an IPv6 address needs brackets and a port, e.g. [::1]:80
                [::1]                | has no port
                [::1]80              | expected ':port' after ']'
                [127.0.0.1]:80       | brackets are for IPv6 addresses
                [fe80::1%eth0]:80    | zone ids
                [::g]:80             | is not an IPv6 address
                256.1.1.1:80         | 256 is above 255
                198.018.0.1:80       | leading zeros
                127.0.0.1:0          | port must be between 1 and 65535, was 0
                127.0.0.1:65536      | port must be between 1 and 65535, was 65536
                127.0.0.1:http       | port 'http' is not a number
                0.0.0.0:80           | a backend needs a concrete address, not the wildcard
                [::]:80              | a backend needs a concrete address
                224.0.0.1:80         | is a multicast address
                """)
        void badBackendAddressesAreRejectedWithAReason(String text, String messagePart) {
            assertOnlyError(VIP_HEAD.replace("address: 127.0.0.1:9001", "address: \"" + text + "\""),
                    "vips[0].backends[0].address", 6, 18, messagePart);
        }

        @Test
        void addressThatIsAListSaysToQuoteIpv6() {
            assertOnlyError(VIP_HEAD.replace("address: 127.0.0.1:9001", "address:\n          - \"::1\""),
                    "vips[0].backends[0].address", 7, 11, "(quote IPv6 addresses: a bare '[' starts a YAML list)");
        }

        @Test
        void listenMayBeAWildcardButNotPortZero() {
            assertEquals(new InetSocketAddress("0.0.0.0", 8080),
                    valid(VIP_HEAD.replace("listen: 127.0.0.1:8080", "listen: 0.0.0.0:8080")).vips().getFirst().listen());
            assertOnlyError(VIP_HEAD.replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0"), "vips[0].listen", 3, 13,
                    "port must be between 1 and 65535, was 0");
        }

        @Test
        void adminListenPortZeroIsRejected() {
            assertOnlyError("admin:\n  listen: 127.0.0.1:0\n" + VIP_HEAD, "admin.listen", 2, 11,
                    "port must be between 1 and 65535, was 0");
        }

        @Test
        void adminBeyondLoopbackWithoutTokenIsAWarning() {
            BindResult r = bind("admin:\n  listen: 0.0.0.0:9190\n" + VIP_HEAD);
            assertTrue(r.isValid());
            assertEquals(1, r.warnings().size());
            ConfigWarning w = r.warnings().getFirst();
            assertEquals("admin.listen", w.path());
            assertEquals(2, w.line());
            assertTrue(w.message().contains("without a token_file"), w::message);
            assertEquals(List.of(),
                    bind("admin:\n  listen: 0.0.0.0:9190\n  token_file: t\n" + VIP_HEAD).warnings());
        }
    }

    @Nested
    class Uniqueness {
        private static final String TWO_VIPS = VIP_HEAD + """
                  - name: NAME
                    listen: LISTEN
                    protocol: PROTO
                    backends:
                      - name: b
                        address: 127.0.0.1:9100
                """;

        private static String second(String name, String listen, String protocol) {
            return TWO_VIPS.replace("NAME", name).replace("LISTEN", listen).replace("PROTO", protocol);
        }

        @Test
        void vipNamesAreUnique() {
            assertOnlyError(second("web", "127.0.0.1:8081", "tcp"), "vips[1].name", 9, 11,
                    "duplicate VIP name 'web' (first at line 2)");
        }

        @Test
        void backendNamesAreUniqueWithinAVip() {
            assertOnlyError(VIP_HEAD.replace("name: web-2", "name: web-1"), "vips[0].backends[1].name", 7, 15,
                    "duplicate backend name 'web-1' in this VIP (first at line 5)");
        }

        @Test
        void backendNamesMayRepeatAcrossVips() {
            valid(second("web2", "127.0.0.1:8081", "tcp").replace("- name: b\n", "- name: web-1\n"));
        }

        @Test
        void protocolAndListenAreUniqueAcrossVips() {
            assertOnlyError(second("web2", "127.0.0.1:8080", "tcp"), "vips[1].listen", 10, 13,
                    "tcp 127.0.0.1:8080 is already the listen address of VIP 'web' (line 3)");
        }

        @Test
        void sameListenWithOtherProtocolIsFine() {
            valid(second("web-udp", "127.0.0.1:8080", "udp"));
        }

        @Test
        void aTcpVipMayNotTakeTheAdminAddress() {
            assertOnlyError(second("web2", "127.0.0.1:9190", "tcp"), "vips[1].listen", 10, 13,
                    "tcp 127.0.0.1:9190 is also admin.listen");
            valid(second("web2", "127.0.0.1:9190", "udp"));
        }
    }

    @Nested
    class Weights {
        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                -1           | must be >= 0, was -1
                1.5          | expected an integer, got '1.5'
                heavy        | expected an integer, got 'heavy'
                99999999999  | must be >= 0, was 99999999999
                """)
        void weightsAreNonNegativeIntegers(String weight, String messagePart) {
            assertOnlyError(VIP_HEAD.replace("address: 127.0.0.1:9002\n", "address: 127.0.0.1:9002\n        weight: "
                    + weight + "\n"), "vips[0].backends[1].weight", 9, 17, messagePart);
        }

        @Test
        void weightZeroIsAllowedAndAllZeroWarns() {
            String yaml = VIP_HEAD.replace("9001\n", "9001\n        weight: 0\n");
            assertEquals(0, valid(yaml).vips().getFirst().backends().getFirst().weight());
            assertEquals(List.of(), bind(yaml).warnings());
            BindResult allZero = bind(yaml.replace("9002\n", "9002\n        weight: 0\n"));
            assertTrue(allZero.isValid());
            assertEquals("vips[0].backends", allZero.warnings().getFirst().path());
            assertTrue(allZero.warnings().getFirst().message().contains("every backend has weight 0"));
        }

        @Test
        void emptyBackendListWarns() {
            BindResult r = bind("vips:\n  - name: v\n    listen: 127.0.0.1:80\n    backends: []\n");
            assertTrue(r.isValid());
            assertEquals(1, r.warnings().size());
            assertEquals("vips[0].backends", r.warnings().getFirst().path());
            assertEquals(4, r.warnings().getFirst().line());
        }
    }

    @Nested
    class TableSize {
        @Test
        void nonPrimeSuggestsTheNextPrime() {
            assertOnlyError(vip("table_size: 65536"), "vips[0].table_size", 9, 17,
                    "must be prime, was 65536 (next prime: 65537; default 65537)");
        }

        @Test
        void mustHoldEveryBackend() {
            assertOnlyError(vip("table_size: 1"), "vips[0].table_size", 9, 17, "must be between 2 and 16777213, was 1");
            String three = VIP_HEAD + "      - name: web-3\n        address: 127.0.0.1:9003\n" + "    table_size: 2\n";
            assertOnlyError(three, "vips[0].table_size", 11, 17,
                    "table_size 2 is smaller than the number of backends (3): every backend needs a slot; use a prime"
                            + " >= 3 such as 307");
        }

        @Test
        void belowHundredSlotsPerBackendIsAWarningNotAnError() {
            BindResult r = bind(vip("table_size: 197"));
            assertTrue(r.isValid(), r.errors()::toString);
            assertEquals(197, r.config().orElseThrow().vips().getFirst().tableSize());
            assertEquals(1, r.warnings().size());
            ConfigWarning w = r.warnings().getFirst();
            assertEquals("vips[0].table_size", w.path());
            assertEquals(9, w.line());
            assertTrue(w.message().contains("less than 100 x 2 backends"), w::message);
            assertTrue(w.message().contains("such as 211"), w::message);
            assertEquals(List.of(), bind(vip("table_size: 211")).warnings());
        }
    }

    @Nested
    class Durations {
        @ParameterizedTest
        @CsvSource({"500ms,500", "1s,1000", "2m,120000", "1h,3600000", "1.5s,1500", "0.5ms,0"})
        void unitsAndFractionsParse(String text, long millis) {
            Duration d = valid(vip("idle_timeout: " + text)).vips().getFirst().idleTimeout();
            assertEquals(millis, d.toMillis());
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
                5      | '5' has no unit
                -1s    | must be positive, was '-1s'
                0s     | must be positive, was '0s'
                0ms    | must be positive
                1d     | '1d' is not a duration
                soon   | 'soon' is not a duration: write a number with a unit: 500ms, 1s, 1.5s, 2m or 1h
                1.s    | is not a duration
                """)
        void badDurationsAreRejectedWithAReason(String text, String messagePart) {
            assertOnlyError(vip("connect_timeout: " + text), "vips[0].connect_timeout", 9, 22, messagePart);
        }

        @Test
        void topLevelDurationAndInts() {
            MaglevConfig c = valid("shutdown_timeout: 2m\nworkers: 8\n" + VIP_HEAD);
            assertEquals(Duration.ofMinutes(2), c.shutdownTimeout());
            assertEquals(8, c.workers());
            assertOnlyError("shutdown_timeout: 30\n" + VIP_HEAD, "shutdown_timeout", 1, 19, "has no unit");
        }

        @Test
        void upgradeSocketDefaultsUnderRunAndMustBeAnAbsoluteFilePathThatFitsASocketAddress() {
            assertEquals(java.nio.file.Path.of("/run/maglevd/upgrade.sock"), valid(VIP_HEAD).upgradeSocket());
            assertEquals(java.nio.file.Path.of("/var/run/lb/u.sock"),
                    valid("upgrade_socket: /var/run/lb/u.sock\n" + VIP_HEAD).upgradeSocket());
            assertOnlyError("upgrade_socket: run/u.sock\n" + VIP_HEAD, "upgrade_socket", 1, 17, "absolute path");
            assertOnlyError("upgrade_socket: /run/maglevd/\n" + VIP_HEAD, "upgrade_socket", 1, 17, "names a directory");
            assertOnlyError("upgrade_socket: /\n" + VIP_HEAD, "upgrade_socket", 1, 17, "names a directory");
            assertOnlyError("upgrade_socket: /run/" + "x".repeat(110) + "\n" + VIP_HEAD, "upgrade_socket", 1, 17,
                    "at most 107");
            assertOnlyError("upgrade_socket: \"\"\n" + VIP_HEAD, "upgrade_socket", 1, 17, "must not be empty");
        }
    }

    @Nested
    class HealthChecks {
        private String hc(String lines) {
            return vip("health_check:\n" + lines.lines().map(l -> "  " + l).collect(Collectors.joining("\n")));
        }

        private HealthCheckConfig validHc(String lines) {
            return valid(hc(lines)).vips().getFirst().healthCheck();
        }

        @Test
        void httpCheckWithPathAndExpect() {
            assertEquals(new HealthCheckConfig(HealthCheckType.HTTP, Duration.ofSeconds(5), Duration.ofSeconds(2), 3, 4,
                    "/status?full=1", 204, 204),
                    validHc("type: http\ninterval: 5s\ntimeout: 2s\nrise: 3\nfall: 4\npath: /status?full=1\nexpect: 204"));
            HealthCheckConfig defaults = validHc("type: http");
            assertEquals("/", defaults.path());
            assertEquals(200, defaults.expectMin());
            assertEquals(399, defaults.expectMax());
        }

        @Test
        void unknownTypeSuggests() {
            assertOnlyError(hc("type: HTTP"), "vips[0].health_check.type", 10, 13,
                    "'HTTP' is not one of tcp, http, udp, none (did you mean 'http'?)");
        }

        @Test
        void timeoutMustNotExceedInterval() {
            assertOnlyError(hc("interval: 1s\ntimeout: 1500ms"), "vips[0].health_check.timeout", 11, 16,
                    "timeout 1.5s must not exceed interval 1s");
            assertEquals(Duration.ofSeconds(1), validHc("interval: 1s\ntimeout: 1s").timeout());
        }

        @Test
        void defaultTimeoutShrinksToAShortInterval() {
            HealthCheckConfig c = validHc("interval: 300ms");
            assertEquals(Duration.ofMillis(300), c.timeout());
            assertEquals(HealthCheckConfig.DEFAULT_TIMEOUT, validHc("interval: 10s").timeout());
        }

        @Test
        void riseAndFallAreAtLeastOne() {
            BindResult r = bind(hc("rise: 0\nfall: -2"));
            assertEquals(2, r.errors().size());
            assertError(r.errors().get(0), "vips[0].health_check.rise", 10, 13, "must be >= 1, was 0");
            assertError(r.errors().get(1), "vips[0].health_check.fall", 11, 13, "must be >= 1, was -2");
        }

        @Test
        void pathMustStartWithSlash() {
            assertOnlyError(hc("type: http\npath: healthz"), "vips[0].health_check.path", 11, 13,
                    "must start with '/', was 'healthz'");
            assertOnlyError(hc("type: http\npath: \"/a b\""), "vips[0].health_check.path", 11, 13,
                    "without spaces");
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                200        | 200 | 200
                200-399    | 200 | 399
                '100 - 599'| 100 | 599
                """)
        void expectIsAStatusOrARange(String text, int min, int max) {
            HealthCheckConfig c = validHc("type: http\nexpect: " + text);
            assertEquals(min, c.expectMin());
            assertEquals(max, c.expectMax());
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                600       | HTTP status 600 is outside 100-599
                99        | HTTP status 99 is outside 100-599
                399-200   | range 399-200 is empty
                2xx       | expected an HTTP status or range such as 200 or 200-399, got '2xx'
                """)
        void badExpectIsRejected(String text, String messagePart) {
            assertOnlyError(hc("type: http\nexpect: " + text), "vips[0].health_check.expect", 11, 15, messagePart);
        }

        @Test
        void pathAndExpectAreOnlyForHttp() {
            BindResult r = bind(hc("type: tcp\npath: /x\nexpect: 200"));
            assertEquals(2, r.errors().size(), r.errors()::toString);
            assertError(r.errors().get(0), "vips[0].health_check.path", 11, 7,
                    "'path' is only valid for health check type http (type is tcp)");
            assertError(r.errors().get(1), "vips[0].health_check.expect", 12, 7, "(type is tcp)");
            assertOnlyError(hc("path: /x"), "vips[0].health_check.path", 10, 7, "(type is tcp)");
        }

        @Test
        void udpVipWithoutHealthCheckGetsUdpChecks() {
            BindResult r = bind(vip("protocol: udp"));
            assertTrue(r.isValid(), r.errors()::toString);
            assertEquals(List.of(), r.warnings());
            HealthCheckConfig c = r.config().orElseThrow().vips().getFirst().healthCheck();
            assertEquals(HealthCheckType.UDP, c.type());
            assertEquals(HealthCheckConfig.DEFAULT_SEND, c.send());
            assertEquals(Optional.empty(), c.expectReply());
            assertEquals(HealthCheckConfig.DEFAULT_INTERVAL, c.interval());
            assertEquals(HealthCheckType.TCP, valid(VIP_HEAD).vips().getFirst().healthCheck().type(),
                    "tcp VIPs keep tcp checks");
        }

        @Test
        void udpVipWithTimingsOnlyGetsUdpChecks() {
            VipConfig v = valid(vip("protocol: udp\nhealth_check:\n  interval: 5s")).vips().getFirst();
            assertEquals(HealthCheckType.UDP, v.healthCheck().type());
            assertEquals(Duration.ofSeconds(5), v.healthCheck().interval());
        }

        @Test
        void udpCheckWithTextSendAndExpect() {
            HealthCheckConfig c = validHc("type: udp\nsend: \"ping me\"\nexpect: pong");
            assertEquals(HealthCheckType.UDP, c.type());
            assertEquals(UdpPayload.of("ping me".getBytes(java.nio.charset.StandardCharsets.UTF_8)), c.send());
            assertEquals("ping me", c.send().toString());
            assertEquals(Optional.of(UdpPayload.of(new byte[] {'p', 'o', 'n', 'g'})), c.expectReply());
        }

        @Test
        void udpPayloadsInHex() {
            HealthCheckConfig c = validHc("type: udp\nsend: \"hex: 00 01 fF\"\nexpect: hex:0a");
            assertEquals(UdpPayload.of(new byte[] {0, 1, (byte) 0xff}), c.send());
            assertEquals(Optional.of(UdpPayload.of(new byte[] {0x0a})), c.expectReply());
            assertEquals("hex: 00 01 ff", c.send().toString());
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', textBlock = """
                '"hex: 0"'  | odd number of hex digits (1)
                '"hex: zz"' | not hex digits after 'hex:': 'zz'
                '"hex:"'    | no hex digits after 'hex:'
                '""'        | must not be empty
                """)
        void badUdpPayloadsAreRejectedWithPathAndLine(String text, String messagePart) {
            assertOnlyError(hc("type: udp\nsend: " + text), "vips[0].health_check.send", 11, 13, messagePart);
            assertOnlyError(hc("type: udp\nexpect: " + text), "vips[0].health_check.expect", 11, 15, messagePart);
        }

        @Test
        void udpPayloadIsAtMostOneUnfragmentedDatagram() {
            String max = "x".repeat(UdpPayload.MAX_BYTES);
            assertEquals(UdpPayload.MAX_BYTES, validHc("type: udp\nsend: " + max).send().length());
            assertOnlyError(hc("type: udp\nsend: " + max + "x"), "vips[0].health_check.send", 11, 13,
                    "must be at most 1472 bytes (one unfragmented datagram), was 1473");
        }

        @Test
        void sendIsOnlyForUdpAndExpectNotForTcp() {
            assertOnlyError(hc("type: http\nsend: x"), "vips[0].health_check.send", 11, 7,
                    "'send' is only valid for health check type udp (type is http)");
            assertOnlyError(hc("send: x"), "vips[0].health_check.send", 10, 7, "(type is tcp)");
            assertOnlyError(hc("type: none\nexpect: x"), "vips[0].health_check.expect", 11, 7,
                    "'expect' is only valid for health check types http (a status range) and udp");
            assertOnlyError(hc("type: udp\npath: /x"), "vips[0].health_check.path", 11, 7, "(type is udp)");
        }

        @ParameterizedTest
        @ValueSource(strings = {"tcp", "http"})
        void tcpOrHttpCheckOfAUdpVipWarns(String type) {
            BindResult r = bind(vip("protocol: udp\nhealth_check:\n  type: " + type));
            assertTrue(r.isValid(), r.errors()::toString);
            assertEquals(1, r.warnings().size(), r.warnings()::toString);
            ConfigWarning w = r.warnings().getFirst();
            assertEquals("vips[0].health_check.type", w.path());
            assertEquals(11, w.line());
            assertEquals(13, w.column());
            assertTrue(w.message().contains("a " + type + " check of a udp VIP: backends that serve only UDP are "
                    + "marked down"), w.message());
        }

        @Test
        void udpCheckOfATcpVipWarns() {
            BindResult r = bind(hc("type: udp"));
            assertTrue(r.isValid(), r.errors()::toString);
            assertEquals(1, r.warnings().size(), r.warnings()::toString);
            assertEquals("vips[0].health_check.type", r.warnings().getFirst().path());
            assertTrue(r.warnings().getFirst().message().contains("a udp check of a tcp VIP"));
        }

        @Test
        void timingsWithTypeNoneWarn() {
            BindResult r = bind(hc("type: none\ninterval: 1s"));
            assertTrue(r.isValid());
            assertEquals(HealthCheckType.NONE, r.config().orElseThrow().vips().getFirst().healthCheck().type());
            assertEquals(1, r.warnings().size());
            assertEquals("vips[0].health_check.interval", r.warnings().getFirst().path());
            assertTrue(r.warnings().getFirst().message().contains("no effect with type none"));
        }
    }

    @Nested
    class VipOptions {
        @Test
        void enumsAndTheirErrors() {
            VipConfig v = valid(vip("protocol: udp\nmode: proxy\nhash: source-ip")).vips().getFirst();
            assertEquals(Protocol.UDP, v.protocol());
            assertEquals(HashMode.SOURCE_IP, v.hash());
            assertOnlyError(vip("protocol: tpc"), "vips[0].protocol", 9, 15, "'tpc' is not one of tcp, udp (did you "
                    + "mean 'tcp'?)");
            assertOnlyError(vip("mode: nat"), "vips[0].mode", 9, 11, "'nat' is not one of proxy, dsr");
            assertOnlyError(vip("hash: 5tuple"), "vips[0].hash", 9, 11,
                    "'5tuple' is not one of 5-tuple, source-ip (did you mean '5-tuple'?)");
        }

        @Test
        void countsAreNonNegative() {
            assertOnlyError(vip("max_connections: -1"), "vips[0].max_connections", 9, 22, "must be >= 0, was -1");
            assertOnlyError(vip("connect_retries: -1"), "vips[0].connect_retries", 9, 22, "must be >= 0, was -1");
            VipConfig v = valid(vip("max_connections: 0\nconnect_retries: 0")).vips().getFirst();
            assertEquals(0, v.maxConnections());
            assertEquals(0, v.connectRetries());
        }

        @Test
        void proxyProtocolV2OnlyForTcpProxy() {
            assertEquals(ProxyProtocol.V2, valid(vip("proxy_protocol: v2")).vips().getFirst().proxyProtocol());
            assertOnlyError(vip("protocol: udp\nproxy_protocol: v2"), "vips[0].proxy_protocol", 10, 21,
                    "proxy_protocol v2 is only valid for tcp VIPs in mode proxy (this VIP is udp, mode proxy)");
            assertOnlyError(vip("proxy_protocol: v1"), "vips[0].proxy_protocol", 9, 21, "'v1' is not one of none, v2");
            valid(vip("protocol: udp\nproxy_protocol: none"));
        }

        @Test
        void delayedAckChoosesTheConnections() {
            assertEquals(VipConfig.DEFAULT_DELAYED_ACK, valid(vip("")).vips().getFirst().delayedAck());
            for (DelayedAck d : DelayedAck.values()) {
                assertEquals(d, valid(vip("delayed_ack: " + d.configName())).vips().getFirst().delayedAck());
            }
            assertOnlyError(vip("delayed_ack: true"), "vips[0].delayed_ack", 9, 18,
                    "'true' is not one of off, client, backend, both");
            assertTrue(DelayedAck.BOTH.client() && DelayedAck.BOTH.backend());
            assertTrue(DelayedAck.CLIENT.client() && !DelayedAck.CLIENT.backend());
            assertTrue(!DelayedAck.BACKEND.client() && DelayedAck.BACKEND.backend());
            assertTrue(!DelayedAck.OFF.client() && !DelayedAck.OFF.backend());
        }

        @Test
        void tcpProxyOnlyKeysWarnElsewhere() {
            BindResult r = bind(vip("protocol: udp\nconnect_timeout: 1s\nconnect_retries: 1\ndelayed_ack: both"));
            assertTrue(r.isValid());
            assertEquals(List.of("vips[0].connect_timeout", "vips[0].connect_retries", "vips[0].delayed_ack"),
                    r.warnings().stream().map(ConfigWarning::path).toList());
            assertTrue(r.warnings().getFirst().message().contains("no effect for udp VIPs"));
        }
    }

    @Nested
    class Dsr {
        /** A DSR VIP with backends a and b; {@code vipExtra} and {@code backendB} add lines to the VIP and to b. */
        private static String dsrVip(String vipExtra, String backendB) {
            return """
                    vips:
                      - name: web
                        listen: 198.18.1.1:80
                        mode: dsr
                        dsr:
                          method: l2
                          interface: eth0
                        backends:
                          - name: a
                            address: 198.18.0.11:80
                          - name: b
                            address: 198.18.0.12:80
                    """ + backendB.lines().map(l -> "        " + l + "\n").collect(Collectors.joining())
                    + vipExtra.lines().map(l -> "    " + l + "\n").collect(Collectors.joining());
        }

        @Test
        void healthChecksTargetTheVipInModeDsrAndTheBackendOtherwise() {
            VipConfig v = valid(dsrVip("", "")).vips().getFirst();
            assertEquals(HealthCheckTarget.VIP, v.healthCheck().target());
            assertEquals(HealthCheckTarget.VIP, v.backends().getFirst().healthTarget(v.healthCheck()));
            assertEquals(HealthCheckTarget.BACKEND, valid(VIP_HEAD).vips().getFirst().healthCheck().target());
            VipConfig own = valid(dsrVip("health_check:\n  target: backend", "")).vips().getFirst();
            assertEquals(HealthCheckTarget.BACKEND, own.healthCheck().target());
        }

        @Test
        void aBackendMayOverrideTheTarget() {
            VipConfig v = valid(dsrVip("", "health_check:\n  target: backend")).vips().getFirst();
            assertEquals(HealthCheckTarget.VIP, v.backend("a").orElseThrow().healthTarget(v.healthCheck()));
            assertEquals(HealthCheckTarget.BACKEND, v.backend("b").orElseThrow().healthTarget(v.healthCheck()));
            assertEquals(Optional.of(HealthCheckTarget.BACKEND), v.backend("b").orElseThrow().healthTarget());
            assertOnlyError(dsrVip("", "health_check:\n  tarrget: backend"), "vips[0].backends[1].health_check.tarrget",
                    14, 11, "did you mean 'target'");
        }

        @Test
        void targetVipNeedsModeDsr() {
            assertOnlyError(vip("health_check:\n  target: vip"), "vips[0].health_check.target", 10, 15,
                    "target vip needs mode dsr");
            assertOnlyError(VIP_HEAD.replace("address: 127.0.0.1:9001", "address: 127.0.0.1:9001\n        "
                    + "health_check:\n          target: vip"), "vips[0].backends[0].health_check.target", 8, 19,
                    "target vip needs mode dsr");
            assertOnlyError(vip("health_check:\n  target: client"), "vips[0].health_check.target", 10, 15,
                    "'client' is not one of vip, backend");
        }

        @Test
        void dsrHealthRangesHaveDefaultsAndLimits() {
            assertEquals(DsrHealthConfig.defaults(), valid(VIP_HEAD).dsrHealth());
            assertEquals(new DsrHealthConfig(0x100, 1000, 64, 500), valid("""
                    dsr_health:
                      first_mark: 0x100
                      first_table: 1000
                      size: 64
                      rule_priority: 500
                    """ + VIP_HEAD).dsrHealth());
            assertOnlyError("dsr_health:\n  first_table: 200\n" + VIP_HEAD, "dsr_health.first_table", 2, 16,
                    "tables 253-255");
            assertOnlyError("dsr_health:\n  rule_priority: 32766\n" + VIP_HEAD, "dsr_health.rule_priority", 2, 18,
                    "must be between 1 and 32765");
            assertOnlyError("dsr_health:\n  first_mark: 0xzz\n" + VIP_HEAD, "dsr_health.first_mark", 2, 15,
                    "decimal or 0x hex");
        }

        @Test
        void dsrBlockIsRequiredInModeDsr() {
            assertOnlyError(vip("mode: dsr"), "vips[0].dsr", 2, 5,
                    "mode dsr needs a 'dsr' block with method and interface");
        }

        @Test
        void dsrBlockIsRejectedOutsideModeDsr() {
            assertOnlyError(vip("dsr:\n  method: l2\n  interface: eth0"), "vips[0].dsr", 9, 5,
                    "'dsr' settings are only valid with mode: dsr (mode is proxy)");
        }

        @Test
        void methodAndInterfaceAreRequired() {
            BindResult r = bind(vip("mode: dsr\ndsr:\n  gue_port: 6080"));
            assertEquals(2, r.errors().size(), r.errors()::toString);
            assertError(r.errors().get(0), "vips[0].dsr.method", 11, 7, "required key 'method' is missing");
            assertError(r.errors().get(1), "vips[0].dsr.interface", 11, 7, "required key 'interface' is missing");
        }

        @Test
        void ingressDropDefaultsToTrueAndTakesABoolean() {
            assertTrue(valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0")).vips().getFirst().dsr()
                    .orElseThrow().ingressDrop());
            assertEquals(Optional.of(new DsrConfig(DsrMethod.L2, "eth0", DsrConfig.DEFAULT_GUE_PORT, false)),
                    valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  ingress_drop: false")).vips()
                            .getFirst().dsr());
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  ingress_drop: maybe"),
                    "vips[0].dsr.ingress_drop", 13, 21, "expected true or false, got 'maybe'");
        }

        @Test
        void ioDefaultsToAutoAndTakesAutoAfXdpOrAfPacket() {
            assertEquals(DsrIo.AUTO, valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0")).vips()
                    .getFirst().dsr().orElseThrow().io());
            for (DsrIo io : DsrIo.values()) {
                assertEquals(Optional.of(new DsrConfig(DsrMethod.L2, "eth0", DsrConfig.DEFAULT_GUE_PORT, true, io)),
                        valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  io: " + io.configName()))
                                .vips().getFirst().dsr());
            }
            BindResult r = bind(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  io: af_xpd"));
            assertEquals(1, r.errors().size(), r.errors()::toString);
            assertEquals("vips[0].dsr.io", r.errors().getFirst().path());
            assertTrue(r.errors().getFirst().message().contains("did you mean 'af_xdp'?"), r.errors()::toString);
        }

        @Test
        void xdpFramesDefaultsTo8192AndMustBeAPowerOfTwoInRange() {
            assertEquals(DsrConfig.DEFAULT_XDP_FRAMES, valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0"))
                    .vips().getFirst().dsr().orElseThrow().xdpFrames());
            assertEquals(16384, valid(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  xdp_frames: 16384"))
                    .vips().getFirst().dsr().orElseThrow().xdpFrames());
            BindResult notPower = bind(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  xdp_frames: 5000"));
            assertEquals(1, notPower.errors().size(), notPower.errors()::toString);
            assertEquals("vips[0].dsr.xdp_frames", notPower.errors().getFirst().path());
            assertTrue(notPower.errors().getFirst().message().contains("must be a power of two"),
                    notPower.errors()::toString);
            BindResult tooBig = bind(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0\n  xdp_frames: 131072"));
            assertEquals(1, tooBig.errors().size(), tooBig.errors()::toString);
            assertTrue(tooBig.errors().getFirst().message().contains("must be between 2048 and 65536"),
                    tooBig.errors()::toString);
        }

        @Test
        void guePortDefaultsAndIsOnlyForGue() {
            assertEquals(Optional.of(new DsrConfig(DsrMethod.GUE, "eth0", DsrConfig.DEFAULT_GUE_PORT)),
                    valid(vip("mode: dsr\ndsr:\n  method: gue\n  interface: eth0")).vips().getFirst().dsr());
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: ipip\n  interface: eth0\n  gue_port: 6080"),
                    "vips[0].dsr.gue_port", 13, 7, "'gue_port' is only valid with method gue (method is ipip)");
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: gue\n  interface: eth0\n  gue_port: 0"),
                    "vips[0].dsr.gue_port", 13, 17, "must be between 1 and 65535, was 0");
        }

        @Test
        void interfaceNamesFollowLinuxRules() {
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: l2\n  interface: a-very-long-ifname"), "vips[0].dsr.interface",
                    12, 18, "is not a network interface name");
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth/0"), "vips[0].dsr.interface",
                    12, 18, "is not a network interface name");
        }

        @Test
        void dsrVipNeedsAConcreteListenAddress() {
            assertOnlyError(vip("mode: dsr\ndsr:\n  method: l2\n  interface: eth0").replace("listen: 127.0.0.1:8080",
                    "listen: 0.0.0.0:8080"), "vips[0].listen", 3, 13, "a dsr VIP needs a concrete address");
        }

        @Test
        void proxyProtocolIsRejectedInModeDsr() {
            assertOnlyError(vip("mode: dsr\nproxy_protocol: v2\ndsr:\n  method: l2\n  interface: eth0"),
                    "vips[0].proxy_protocol", 10, 21, "(this VIP is tcp, mode dsr)");
        }
    }

    @Nested
    class TopLevel {
        @Test
        void flowTableBounds() {
            assertEquals(new FlowTableConfig(1, 0), valid("flow_table:\n  capacity: 1\n" + VIP_HEAD).flowTable());
            assertOnlyError("flow_table:\n  capacity: 0\n" + VIP_HEAD, "flow_table.capacity", 2, 13,
                    "must be between 1 and 1073741824, was 0");
            assertOnlyError("flow_table:\n  flood_threshold: -5\n" + VIP_HEAD, "flow_table.flood_threshold", 2, 20,
                    "must be >= 0, was -5");
        }

        @Test
        void workersMayBeZero() {
            assertEquals(0, valid("workers: 0\n" + VIP_HEAD).workers());
        }

        @Test
        void announceIsOffUnlessConfiguredAndGetsItsDefaults() {
            assertEquals(Optional.empty(), valid(VIP_HEAD).announce());
            assertEquals(Optional.of(new AnnounceConfig(100, "maglev0", Duration.ofSeconds(2))),
                    valid("announce:\n  table: 100\n" + VIP_HEAD).announce());
            assertEquals(Optional.of(new AnnounceConfig(1000, "lb-vips", Duration.ofMillis(500))),
                    valid("announce:\n  table: 1000\n  device: lb-vips\n  withdraw_grace: 500ms\n" + VIP_HEAD)
                            .announce());
        }

        @Test
        void announceIsValidatedWithPathAndLine() {
            assertOnlyError("announce:\n  device: maglev0\n" + VIP_HEAD, "announce.table", 2, 3,
                    "required key 'table' is missing");
            assertOnlyError("announce:\n  table: 254\n" + VIP_HEAD, "announce.table", 2, 10,
                    "table 254 is one of the kernel's own");
            assertOnlyError("announce:\n  table: 0\n" + VIP_HEAD, "announce.table", 2, 10, "must be >= 1, was 0");
            assertOnlyError("announce:\n  table: 100\n  device: a-name-far-too-long\n" + VIP_HEAD,
                    "announce.device", 3, 11, "is not a network interface name");
            assertOnlyError("announce:\n  table: 100\n  withdraw_grace: 2\n" + VIP_HEAD, "announce.withdraw_grace",
                    3, 19, "has no unit");
            assertOnlyError("announce:\n  table: 100\n  tabel: 7\n" + VIP_HEAD, "announce.tabel", 3, 3,
                    "did you mean 'table'?");
        }

        @Test
        void tokenFileMustNotBeEmpty() {
            assertOnlyError("admin:\n  token_file: \"\"\n" + VIP_HEAD, "admin.token_file", 2, 15, "must not be empty");
        }
    }

    @Test
    void treesBuiltInCodeBindToo() {
        // The binder depends only on ConfigNode, not on any parser.
        MapNode backend = new MapNode(List.of(
                new Entry("name", 0, 0, ScalarNode.of("b", 0, 0)),
                new Entry("address", 0, 0, ScalarNode.of("[::1]:80", 0, 0))), 0, 0);
        MapNode vip = new MapNode(List.of(
                new Entry("name", 0, 0, ScalarNode.of("v", 0, 0)),
                new Entry("listen", 0, 0, ScalarNode.of("127.0.0.1:80", 0, 0)),
                new Entry("backends", 0, 0, new ListNode(List.of(backend), 0, 0))), 0, 0);
        MapNode root = new MapNode(List.of(new Entry("vips", 0, 0, new ListNode(List.of(vip), 0, 0))), 0, 0);
        BindResult r = ConfigBinder.bind(root);
        assertNotNull(r.config().orElseThrow().vip("v").orElseThrow());
    }

    @Test
    void problemsFormatLikeACompiler() {
        ConfigError e = new ConfigError("vips[1].backends[3].address", 12, 18, "bad");
        assertEquals("a.yaml:12:18: vips[1].backends[3].address: bad", e.format("a.yaml"));
        assertEquals("a.yaml: bad", new ConfigError("", 0, 0, "bad").format("a.yaml"));
        assertEquals("a.yaml:3:1: warning: w", new ConfigWarning("", 3, 1, "w").format("a.yaml"));
        assertEquals("line 12:18: p: bad", new ConfigError("p", 12, 18, "bad").toString());
    }
}
