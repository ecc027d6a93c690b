package io.maglevlb.core.config;

import io.maglevlb.core.config.ConfigNode.Entry;
import io.maglevlb.core.config.ConfigNode.ListNode;
import io.maglevlb.core.config.ConfigNode.MapNode;
import io.maglevlb.core.config.ConfigNode.ScalarNode;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.maglev.MaglevTable;
import io.maglevlb.core.maglev.Primes;
import java.net.InetSocketAddress;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Validates a {@link ConfigNode} tree and binds it to a {@link MaglevConfig}, reporting every error at once.
 *
 * <p>Keys are snake_case exactly as documented in docs/configuration.md; unknown keys are errors with a
 * "did you mean" suggestion. Each error names its path ({@code vips[1].backends[3].address}) and the line and
 * column of the offending value, of the key for unknown or duplicate keys, or of the enclosing map for
 * missing keys. Defaults come from the records' {@code DEFAULT_*} constants.
 *
 * <p>Design: one pass over the tree. Every {@code bind*} method reports what is wrong with its part and
 * returns null when it reported anything, so later checks (uniqueness, table size against backend count)
 * still run on the parts that did parse, and the records are only built when the whole document is valid.
 * Pure: no I/O, no name resolution; nothing depends on hash iteration order.
 */
public final class ConfigBinder {

    static final List<String> ROOT_KEYS = List.of("admin", "workers", "shutdown_timeout", "flow_table", "vips",
            "announce", "dsr_health", "upgrade_socket");
    static final List<String> DSR_HEALTH_KEYS = List.of("first_mark", "first_table", "size", "rule_priority");
    static final List<String> ADMIN_KEYS = List.of("listen", "token_file");
    static final List<String> FLOW_TABLE_KEYS = List.of("capacity", "flood_threshold");
    static final List<String> VIP_KEYS = List.of("name", "listen", "protocol", "mode", "hash", "table_size",
            "backends", "health_check", "max_connections", "connect_timeout", "connect_retries", "idle_timeout",
            "proxy_protocol", "delayed_ack", "dsr");
    static final List<String> BACKEND_KEYS = List.of("name", "address", "weight", "health_check");
    static final List<String> BACKEND_HEALTH_CHECK_KEYS = List.of("target");
    static final List<String> HEALTH_CHECK_KEYS =
            List.of("type", "interval", "timeout", "rise", "fall", "path", "expect", "send", "target");
    static final List<String> ANNOUNCE_KEYS = List.of("table", "device", "withdraw_grace");
    static final List<String> DSR_KEYS = List.of("method", "interface", "gue_port", "ingress_drop", "io",
            "xdp_frames");

    /** Upper bound of {@code workers}: far above any core count, low enough to catch a typo. */
    public static final int MAX_WORKERS = 1024;
    /** Upper bound of {@code flow_table.capacity} (rounded up to a power of two, so at most 2^30). */
    public static final int MAX_FLOW_TABLE_CAPACITY = 1 << 30;
    /** Linux IFNAMSIZ minus the terminating NUL. */
    public static final int MAX_INTERFACE_NAME_LENGTH = 15;
    /** Longest accepted health check path. */
    public static final int MAX_HTTP_PATH_LENGTH = 1024;
    /** Slots per backend above which Maglev keeps shares within about 1% of their ideal (paper §3.4). */
    public static final int SLOTS_PER_BACKEND_FOR_EVEN_SPREAD = 100;

    /** VIP and backend names appear in metric labels and admin API paths: keep them URL- and label-safe. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final String NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or "
            + "digit (names appear in metrics and admin API paths)";
    private static final Pattern INTEGER = Pattern.compile("[+-]?\\d+");
    private static final Pattern EXPECT = Pattern.compile("(\\d{1,3})(?:\\s*-\\s*(\\d{1,3}))?");

    private static final InetSocketAddress DEFAULT_ADMIN_LISTEN =
            ConfigValues.parseSocketAddress(AdminConfig.DEFAULT_LISTEN);

    private final List<ConfigError> errors = new ArrayList<>();
    private final List<ConfigWarning> warnings = new ArrayList<>();
    /** VIP name -> line of its first definition. */
    private final Map<String, Integer> vipNames = new HashMap<>();
    /** "tcp 127.0.0.1:80" -> the VIP that listens there, for the uniqueness check. */
    private final Map<String, String> listenOwners = new HashMap<>();

    private ConfigBinder() {}

    /**
     * Validates {@code root} and builds the configuration.
     *
     * @return the configuration, or every error found; warnings either way; errors and warnings sorted by
     *     position
     */
    public static BindResult bind(ConfigNode root) {
        Objects.requireNonNull(root, "root");
        ConfigBinder binder = new ConfigBinder();
        MaglevConfig config = binder.bindRoot(root);
        Comparator<ConfigProblem> byPosition =
                Comparator.comparingInt(ConfigProblem::line).thenComparingInt(ConfigProblem::column);
        binder.errors.sort(byPosition);
        binder.warnings.sort(byPosition);
        if (!binder.errors.isEmpty()) {
            return new BindResult(Optional.empty(), binder.errors, binder.warnings);
        }
        return new BindResult(Optional.of(Objects.requireNonNull(config)), List.of(), binder.warnings);
    }

    // ---- sections ----

    private MaglevConfig bindRoot(ConfigNode root) {
        if (root instanceof ScalarNode s && (s.wasNull() || s.value().isBlank())) {
            error("", root, "the configuration is empty: it needs at least a 'vips' list");
            return null;
        }
        if (!(root instanceof MapNode map)) {
            error("", root, "the configuration must be a map with keys such as 'admin' and 'vips', got "
                    + root.kind());
            return null;
        }
        Fields f = new Fields(map, "", ROOT_KEYS);
        AdminConfig admin = f.has("admin")
                ? bindAdmin(f.node("admin"), f.path("admin"))
                : new AdminConfig(DEFAULT_ADMIN_LISTEN, Optional.empty());
        Integer workers = f.has("workers")
                ? integer(f.node("workers"), f.path("workers"), 0, MAX_WORKERS)
                : Integer.valueOf(MaglevConfig.DEFAULT_WORKERS);
        Duration shutdownTimeout = f.has("shutdown_timeout")
                ? duration(f.node("shutdown_timeout"), f.path("shutdown_timeout"))
                : MaglevConfig.DEFAULT_SHUTDOWN_TIMEOUT;
        FlowTableConfig flowTable = f.has("flow_table")
                ? bindFlowTable(f.node("flow_table"), f.path("flow_table"))
                : FlowTableConfig.defaults();
        List<VipConfig> vips = bindVips(f, admin == null ? null : admin.listen());
        DsrHealthConfig dsrHealth = f.has("dsr_health")
                ? bindDsrHealth(f.node("dsr_health"), f.path("dsr_health"))
                : DsrHealthConfig.defaults();
        AnnounceConfig announce = f.has("announce") ? bindAnnounce(f.node("announce"), f.path("announce")) : null;
        Path upgradeSocket = f.has("upgrade_socket")
                ? bindUpgradeSocket(f.node("upgrade_socket"), f.path("upgrade_socket"))
                : MaglevConfig.DEFAULT_UPGRADE_SOCKET;
        if (!errors.isEmpty()) {
            return null;
        }
        return new MaglevConfig(admin, workers, shutdownTimeout, flowTable, vips, Optional.ofNullable(announce),
                dsrHealth, upgradeSocket);
    }

    /** An absolute path short enough for a Unix socket address, not a directory. */
    private Path bindUpgradeSocket(ConfigNode node, String path) {
        String text = scalar(node, path, "a Unix socket path such as " + MaglevConfig.DEFAULT_UPGRADE_SOCKET);
        if (text == null) {
            return null;
        }
        if (text.isBlank()) {
            error(path, node, "must not be empty (default " + MaglevConfig.DEFAULT_UPGRADE_SOCKET + ")");
            return null;
        }
        Path p;
        try {
            p = Path.of(text);
        } catch (InvalidPathException e) {
            error(path, node, "'" + text + "' is not a valid path: " + e.getReason());
            return null;
        }
        int bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (!p.isAbsolute()) {
            error(path, node, "'" + text + "' must be an absolute path (maglevd and the process taking over may "
                    + "start in different directories)");
        } else if (text.endsWith("/") || p.getFileName() == null || p.getParent() == null) {
            error(path, node, "'" + text + "' names a directory; give the socket's file name, e.g. "
                    + MaglevConfig.DEFAULT_UPGRADE_SOCKET);
        } else if (bytes > MaglevConfig.MAX_UPGRADE_SOCKET_BYTES) {
            error(path, node, "'" + text + "' is " + bytes + " bytes long; a Unix socket path holds at most "
                    + MaglevConfig.MAX_UPGRADE_SOCKET_BYTES);
        } else {
            return p;
        }
        return null;
    }

    private DsrHealthConfig bindDsrHealth(ConfigNode node, String path) {
        MapNode map = map(node, path, "the DSR health-check routing settings (first_mark, first_table, size, "
                + "rule_priority)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, DSR_HEALTH_KEYS);
        Integer firstMark = f.has("first_mark")
                ? markOrTable(f.node("first_mark"), f.path("first_mark"))
                : Integer.valueOf(DsrHealthConfig.DEFAULT_FIRST_MARK);
        Integer firstTable = f.has("first_table")
                ? markOrTable(f.node("first_table"), f.path("first_table"))
                : Integer.valueOf(DsrHealthConfig.DEFAULT_FIRST_TABLE);
        Integer size = f.has("size")
                ? integer(f.node("size"), f.path("size"), 1, 1 << 20)
                : Integer.valueOf(DsrHealthConfig.DEFAULT_SIZE);
        Integer priority = f.has("rule_priority")
                ? integer(f.node("rule_priority"), f.path("rule_priority"), 1, DsrHealthConfig.MAX_RULE_PRIORITY)
                : Integer.valueOf(DsrHealthConfig.DEFAULT_RULE_PRIORITY);
        if (errors.size() > before) {
            return null;
        }
        for (String key : List.of("first_mark", "first_table")) {
            int first = key.equals("first_mark") ? firstMark : firstTable;
            if ((long) first + size - 1 > Integer.MAX_VALUE) {
                error(f.path(key), f.has(key) ? f.node(key) : map, key + " + size - 1 must not exceed "
                        + Integer.MAX_VALUE + " (was " + first + " + " + size + ")");
            }
        }
        if (firstTable <= 255 && firstTable + size > 252) {
            error(f.path("first_table"), f.has("first_table") ? f.node("first_table") : map, "tables 253-255 are the"
                    + " kernel's default, main and local tables; choose a range that avoids them");
        }
        return errors.size() > before ? null : new DsrHealthConfig(firstMark, firstTable, size, priority);
    }

    /** A fwmark or table number: decimal or 0x-prefixed hex, 1..2^31-1. */
    private Integer markOrTable(ConfigNode node, String path) {
        String text = scalar(node, path, "a number (decimal or 0x hex)");
        if (text == null) {
            return null;
        }
        String t = text.strip().toLowerCase(java.util.Locale.ROOT);
        try {
            long value = t.startsWith("0x") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
            if (value >= 1 && value <= Integer.MAX_VALUE) {
                return (int) value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        error(path, node, "expected a number from 1 to " + Integer.MAX_VALUE + " (decimal or 0x hex), got '" + text
                + "'");
        return null;
    }

    private AdminConfig bindAdmin(ConfigNode node, String path) {
        MapNode map = map(node, path, "the admin API settings (listen, token_file)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, ADMIN_KEYS);
        InetSocketAddress listen = f.has("listen")
                ? address(f.node("listen"), f.path("listen"), false)
                : DEFAULT_ADMIN_LISTEN;
        Optional<Path> tokenFile = Optional.empty();
        if (f.has("token_file")) {
            String text = scalar(f.node("token_file"), f.path("token_file"), "a file path");
            if (text != null) {
                if (text.isBlank()) {
                    error(f.path("token_file"), f.node("token_file"), "must not be empty");
                } else {
                    try {
                        tokenFile = Optional.of(Path.of(text));
                    } catch (InvalidPathException e) {
                        error(f.path("token_file"), f.node("token_file"), "'" + text + "' is not a valid path: "
                                + e.getReason());
                    }
                }
            }
        }
        if (errors.size() > before) {
            return null;
        }
        if (!listen.getAddress().isLoopbackAddress() && tokenFile.isEmpty()) {
            ConfigNode at = f.has("listen") ? f.node("listen") : map;
            warning(f.path("listen"), at, "the admin API listens on " + ConfigValues.formatSocketAddress(listen)
                    + ", beyond loopback, without a token_file: anyone who reaches it can reload and drain");
        }
        return new AdminConfig(listen, tokenFile);
    }

    private FlowTableConfig bindFlowTable(ConfigNode node, String path) {
        MapNode map = map(node, path, "the flow table settings (capacity, flood_threshold)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, FLOW_TABLE_KEYS);
        Integer capacity = f.has("capacity")
                ? integer(f.node("capacity"), f.path("capacity"), 1, MAX_FLOW_TABLE_CAPACITY)
                : Integer.valueOf(FlowTableConfig.DEFAULT_CAPACITY);
        Integer floodThreshold = f.has("flood_threshold")
                ? integer(f.node("flood_threshold"), f.path("flood_threshold"), 0, Integer.MAX_VALUE)
                : Integer.valueOf(FlowTableConfig.DEFAULT_FLOOD_THRESHOLD);
        if (errors.size() > before) {
            return null;
        }
        return new FlowTableConfig(capacity, floodThreshold);
    }

    private AnnounceConfig bindAnnounce(ConfigNode node, String path) {
        MapNode map = map(node, path, "the announce settings (table, device, withdraw_grace)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, ANNOUNCE_KEYS);
        Integer table = f.required("table", " (the kernel routing table the VIP routes go into, e.g. 100)") == null
                ? null : integer(f.node("table"), f.path("table"), 1, Integer.MAX_VALUE);
        if (table != null && table >= AnnounceConfig.FIRST_RESERVED_TABLE
                && table <= AnnounceConfig.LAST_RESERVED_TABLE) {
            error(f.path("table"), f.node("table"), "table " + table + " is one of the kernel's own (253 default, "
                    + "254 main, 255 local): choose a table of its own for the routing daemon to learn, e.g. 100");
            table = null;
        }
        String device = f.has("device") ? interfaceName(f.node("device"), f.path("device"))
                : AnnounceConfig.DEFAULT_DEVICE;
        Duration grace = f.has("withdraw_grace") ? duration(f.node("withdraw_grace"), f.path("withdraw_grace"))
                : AnnounceConfig.DEFAULT_WITHDRAW_GRACE;
        if (errors.size() > before || table == null || device == null || grace == null) {
            return null;
        }
        return new AnnounceConfig(table, device, grace);
    }

    private List<VipConfig> bindVips(Fields root, InetSocketAddress adminListen) {
        ConfigNode node = root.required("vips", " (the list of virtual services)");
        if (node == null) {
            return null;
        }
        if (!(node instanceof ListNode list)) {
            error("vips", node, "expected a list of VIPs, got " + node.kind());
            return null;
        }
        if (list.items().isEmpty()) {
            error("vips", node, "at least one VIP is required");
            return null;
        }
        List<VipConfig> vips = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            vips.add(bindVip(list.items().get(i), "vips[" + i + "]", adminListen));
        }
        return vips.contains(null) ? null : vips;
    }

    private VipConfig bindVip(ConfigNode node, String path, InetSocketAddress adminListen) {
        MapNode map = map(node, path, "a VIP (name, listen, backends, ...)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, VIP_KEYS);

        String name = f.required("name", "") == null ? null : name(f.node("name"), f.path("name"));
        if (name != null) {
            Integer firstLine = vipNames.putIfAbsent(name, f.node("name").line());
            if (firstLine != null) {
                error(f.path("name"), f.node("name"), "duplicate VIP name '" + name + "' (first at line "
                        + firstLine + ")");
            }
        }
        InetSocketAddress listen = f.required("listen", " (the VIP's IP:port)") == null
                ? null
                : address(f.node("listen"), f.path("listen"), false);
        Protocol protocol = f.has("protocol")
                ? choice(f.node("protocol"), f.path("protocol"), Protocol.values(), Protocol::configName)
                : VipConfig.DEFAULT_PROTOCOL;
        ForwardingMode mode = f.has("mode")
                ? choice(f.node("mode"), f.path("mode"), ForwardingMode.values(), ForwardingMode::configName)
                : VipConfig.DEFAULT_MODE;
        HashMode hash = f.has("hash")
                ? choice(f.node("hash"), f.path("hash"), HashMode.values(), HashMode::configName)
                : VipConfig.DEFAULT_HASH;

        ConfigNode backendsNode = f.required("backends", " (a list of name/address entries)");
        List<BackendConfig> backends =
                backendsNode == null ? null : bindBackends(backendsNode, f.path("backends"), mode);
        int backendCount = backendsNode instanceof ListNode l ? l.items().size() : 0;

        Integer tableSize = bindTableSize(f, map, backendCount);
        HealthCheckConfig healthCheck = f.has("health_check")
                ? bindHealthCheck(f.node("health_check"), f.path("health_check"), protocol, mode)
                : HealthCheckConfig.defaults(protocol == null ? VipConfig.DEFAULT_PROTOCOL : protocol)
                        .withTarget(defaultTarget(mode));
        Integer maxConnections = f.has("max_connections")
                ? integer(f.node("max_connections"), f.path("max_connections"), 0, Integer.MAX_VALUE)
                : Integer.valueOf(VipConfig.DEFAULT_MAX_CONNECTIONS);
        Duration connectTimeout = f.has("connect_timeout")
                ? duration(f.node("connect_timeout"), f.path("connect_timeout"))
                : VipConfig.DEFAULT_CONNECT_TIMEOUT;
        Integer connectRetries = f.has("connect_retries")
                ? integer(f.node("connect_retries"), f.path("connect_retries"), 0, Integer.MAX_VALUE)
                : Integer.valueOf(VipConfig.DEFAULT_CONNECT_RETRIES);
        Duration idleTimeout = f.has("idle_timeout")
                ? duration(f.node("idle_timeout"), f.path("idle_timeout"))
                : VipConfig.defaultIdleTimeout(protocol == null ? VipConfig.DEFAULT_PROTOCOL : protocol);

        boolean tcpProxy = protocol == Protocol.TCP && mode == ForwardingMode.PROXY;
        ProxyProtocol proxyProtocol = VipConfig.DEFAULT_PROXY_PROTOCOL;
        if (f.has("proxy_protocol")) {
            proxyProtocol = choice(f.node("proxy_protocol"), f.path("proxy_protocol"), ProxyProtocol.values(),
                    ProxyProtocol::configName);
            if (proxyProtocol != null && proxyProtocol != ProxyProtocol.NONE && protocol != null && mode != null
                    && !tcpProxy) {
                error(f.path("proxy_protocol"), f.node("proxy_protocol"), "proxy_protocol "
                        + proxyProtocol.configName() + " is only valid for tcp VIPs in mode proxy (this VIP is "
                        + protocol.configName() + ", mode " + mode.configName() + ")");
            }
        }
        DelayedAck delayedAck = f.has("delayed_ack")
                ? choice(f.node("delayed_ack"), f.path("delayed_ack"), DelayedAck.values(), DelayedAck::configName)
                : VipConfig.DEFAULT_DELAYED_ACK;
        if (protocol != null && mode != null && !tcpProxy) {
            String why = mode == ForwardingMode.DSR ? "in mode dsr" : "for udp VIPs";
            for (String key : List.of("connect_timeout", "connect_retries", "delayed_ack")) {
                if (f.has(key)) {
                    Entry e = f.entry(key);
                    warning(f.path(key), e.line(), e.column(), "'" + key + "' has no effect " + why);
                }
            }
        }

        Optional<DsrConfig> dsr = Optional.empty();
        if (mode == ForwardingMode.DSR) {
            if (f.has("dsr")) {
                DsrConfig d = bindDsr(f.node("dsr"), f.path("dsr"));
                dsr = d == null ? null : Optional.of(d);
            } else {
                error(f.path("dsr"), map, "mode dsr needs a 'dsr' block with method and interface");
            }
            if (listen != null && listen.getAddress().isAnyLocalAddress()) {
                error(f.path("listen"), f.node("listen"), "a dsr VIP needs a concrete address, not the wildcard "
                        + ConfigValues.formatSocketAddress(listen));
            }
        } else if (mode != null && f.has("dsr")) {
            Entry e = f.entry("dsr");
            error(f.path("dsr"), e.line(), e.column(), "'dsr' settings are only valid with mode: dsr (mode is "
                    + mode.configName() + ")");
        }

        if (listen != null && protocol != null) {
            String formatted = ConfigValues.formatSocketAddress(listen);
            String key = protocol.configName() + " " + formatted;
            String owner = "VIP '" + (name == null ? path : name) + "' (line " + f.node("listen").line() + ")";
            String first = listenOwners.putIfAbsent(key, owner);
            if (first != null) {
                error(f.path("listen"), f.node("listen"), protocol.configName() + " " + formatted
                        + " is already the listen address of " + first);
            } else if (protocol == Protocol.TCP && listen.equals(adminListen)) {
                error(f.path("listen"), f.node("listen"), "tcp " + formatted + " is also admin.listen"
                        + " (the admin API's default is " + AdminConfig.DEFAULT_LISTEN + ")");
            }
        }

        if (errors.size() > before) {
            return null;
        }
        return new VipConfig(name, listen, protocol, mode, hash, tableSize, backends, healthCheck, maxConnections,
                connectTimeout, connectRetries, idleTimeout, proxyProtocol, delayedAck, dsr);
    }

    private Integer bindTableSize(Fields f, MapNode vip, int backendCount) {
        int size;
        ConfigNode at;
        String path = f.path("table_size");
        if (f.has("table_size")) {
            at = f.node("table_size");
            Integer parsed = integer(at, path, 2, MaglevTable.MAX_SIZE);
            if (parsed == null) {
                return null;
            }
            size = parsed;
            if (!Primes.isPrime(size)) {
                error(path, at, "must be prime, was " + size + " (next prime: " + Primes.nextPrime(size)
                        + "; default " + VipConfig.DEFAULT_TABLE_SIZE + ")");
                return null;
            }
        } else {
            at = vip;
            size = VipConfig.DEFAULT_TABLE_SIZE;
        }
        if (size < backendCount) {
            error(path, at, "table_size " + size + " is smaller than the number of backends (" + backendCount
                    + "): every backend needs a slot; use a prime >= " + backendCount + " such as "
                    + Primes.nextPrime(Math.max(backendCount, (long) SLOTS_PER_BACKEND_FOR_EVEN_SPREAD
                            * backendCount)));
            return null;
        }
        try {
            MaglevTable.checkSize(size, backendCount);
        } catch (IllegalArgumentException e) {
            error(path, at, e.getMessage());
            return null;
        }
        long evenSpreadSize = (long) SLOTS_PER_BACKEND_FOR_EVEN_SPREAD * backendCount;
        if (backendCount > 0 && size < evenSpreadSize) {
            warning(path, at, "table_size " + size + " is less than " + SLOTS_PER_BACKEND_FOR_EVEN_SPREAD + " x "
                    + backendCount + " backends: slot shares may differ from weights by more than 1%; a prime >= "
                    + evenSpreadSize + " such as " + Primes.nextPrime(evenSpreadSize) + " keeps them closer");
        }
        return size;
    }

    /** vip for DSR VIPs (probe where clients reach the backend), backend otherwise. */
    private static HealthCheckTarget defaultTarget(ForwardingMode mode) {
        return mode == ForwardingMode.DSR ? HealthCheckTarget.VIP : HealthCheckTarget.BACKEND;
    }

    /** health_check.target; an error for vip unless the VIP is in mode dsr. */
    private HealthCheckTarget healthTarget(ConfigNode node, String path, ForwardingMode mode) {
        HealthCheckTarget t = choice(node, path, HealthCheckTarget.values(), HealthCheckTarget::configName);
        if (t == HealthCheckTarget.VIP && mode != null && mode != ForwardingMode.DSR) {
            error(path, node, "target vip needs mode dsr: in mode " + mode.configName() + " backends serve their "
                    + "own address, which is what the check probes");
            return null;
        }
        return t;
    }

    private List<BackendConfig> bindBackends(ConfigNode node, String path, ForwardingMode mode) {
        if (!(node instanceof ListNode list)) {
            error(path, node, "expected a list of backends, got " + node.kind());
            return null;
        }
        if (list.items().isEmpty()) {
            warning(path, node, "no backends: every new flow to this VIP is refused");
        }
        int before = errors.size();
        Map<String, Integer> names = new HashMap<>();
        List<BackendConfig> backends = new ArrayList<>();
        for (int i = 0; i < list.items().size(); i++) {
            backends.add(bindBackend(list.items().get(i), path + "[" + i + "]", names, mode));
        }
        if (errors.size() > before) {
            return null;
        }
        if (!backends.isEmpty() && backends.stream().allMatch(b -> b.weight() == 0)) {
            warning(path, node, "every backend has weight 0 (drained): new flows have nowhere to go");
        }
        return backends;
    }

    private BackendConfig bindBackend(ConfigNode node, String path, Map<String, Integer> names,
            ForwardingMode mode) {
        MapNode map = map(node, path, "a backend (name, address, weight)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, BACKEND_KEYS);
        String name = f.required("name", " (the backend's Maglev hash key)") == null
                ? null
                : name(f.node("name"), f.path("name"));
        if (name != null) {
            Integer firstLine = names.putIfAbsent(name, f.node("name").line());
            if (firstLine != null) {
                error(f.path("name"), f.node("name"), "duplicate backend name '" + name + "' in this VIP (first at "
                        + "line " + firstLine + ")");
            }
        }
        InetSocketAddress address = f.required("address", " (the backend's IP:port)") == null
                ? null
                : address(f.node("address"), f.path("address"), true);
        Integer weight = f.has("weight")
                ? integer(f.node("weight"), f.path("weight"), 0, Integer.MAX_VALUE)
                : Integer.valueOf(BackendConfig.DEFAULT_WEIGHT);
        Optional<HealthCheckTarget> healthTarget = Optional.empty();
        if (f.has("health_check")) {
            MapNode hc = map(f.node("health_check"), f.path("health_check"), "this backend's health check settings"
                    + " (target)");
            if (hc != null) {
                Fields h = new Fields(hc, f.path("health_check"), BACKEND_HEALTH_CHECK_KEYS);
                if (h.has("target")) {
                    healthTarget = Optional.ofNullable(healthTarget(h.node("target"), h.path("target"), mode));
                }
            }
        }
        if (errors.size() > before) {
            return null;
        }
        return new BackendConfig(name, address, weight, healthTarget);
    }

    /**
     * @param protocol the VIP's protocol, or null when it did not parse: it picks the default type
     * @param mode the VIP's mode, or null when it did not parse: it picks the default target
     */
    private HealthCheckConfig bindHealthCheck(ConfigNode node, String path, Protocol protocol, ForwardingMode mode) {
        MapNode map = map(node, path,
                "health check settings (type, interval, timeout, rise, fall, path, expect, send, target)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, HEALTH_CHECK_KEYS);
        HealthCheckType type = f.has("type")
                ? choice(f.node("type"), f.path("type"), HealthCheckType.values(), HealthCheckType::configName)
                : HealthCheckConfig.defaultType(protocol == null ? VipConfig.DEFAULT_PROTOCOL : protocol);
        Duration interval = f.has("interval")
                ? duration(f.node("interval"), f.path("interval"))
                : HealthCheckConfig.DEFAULT_INTERVAL;
        Duration timeout;
        if (f.has("timeout")) {
            timeout = duration(f.node("timeout"), f.path("timeout"));
            if (timeout != null && interval != null && timeout.compareTo(interval) > 0) {
                error(f.path("timeout"), f.node("timeout"), "timeout " + ConfigValues.formatDuration(timeout)
                        + " must not exceed interval " + ConfigValues.formatDuration(interval));
            }
        } else if (interval != null && interval.compareTo(HealthCheckConfig.DEFAULT_TIMEOUT) < 0) {
            timeout = interval;
        } else {
            timeout = HealthCheckConfig.DEFAULT_TIMEOUT;
        }
        Integer rise = f.has("rise")
                ? integer(f.node("rise"), f.path("rise"), 1, Integer.MAX_VALUE)
                : Integer.valueOf(HealthCheckConfig.DEFAULT_RISE);
        Integer fall = f.has("fall")
                ? integer(f.node("fall"), f.path("fall"), 1, Integer.MAX_VALUE)
                : Integer.valueOf(HealthCheckConfig.DEFAULT_FALL);

        String httpPath = HealthCheckConfig.DEFAULT_PATH;
        int expectMin = HealthCheckConfig.DEFAULT_EXPECT_MIN;
        int expectMax = HealthCheckConfig.DEFAULT_EXPECT_MAX;
        if (f.has("path") && type != null && type != HealthCheckType.HTTP) {
            Entry e = f.entry("path");
            error(f.path("path"), e.line(), e.column(), "'path' is only valid for health check type http (type is "
                    + type.configName() + ")");
        }
        if (f.has("expect") && type != null && type != HealthCheckType.HTTP && type != HealthCheckType.UDP) {
            Entry e = f.entry("expect");
            error(f.path("expect"), e.line(), e.column(), "'expect' is only valid for health check types http "
                    + "(a status range) and udp (the reply's first bytes) (type is " + type.configName() + ")");
        }
        if (f.has("send") && type != null && type != HealthCheckType.UDP) {
            Entry e = f.entry("send");
            error(f.path("send"), e.line(), e.column(), "'send' is only valid for health check type udp (type is "
                    + type.configName() + ")");
        }
        UdpPayload send = HealthCheckConfig.DEFAULT_SEND;
        Optional<UdpPayload> expectReply = Optional.empty();
        if (type == HealthCheckType.UDP && f.has("send")) {
            send = payload(f.node("send"), f.path("send"));
        }
        if (type == HealthCheckType.UDP && f.has("expect")) {
            UdpPayload p = payload(f.node("expect"), f.path("expect"));
            expectReply = p == null ? null : Optional.of(p);
        }
        if (protocol != null && type != null && f.has("type")) {
            checkTypeFitsProtocol(f, protocol, type);
        }
        if (type == HealthCheckType.HTTP && f.has("path")) {
            httpPath = httpPath(f.node("path"), f.path("path"));
        }
        if (type == HealthCheckType.HTTP && f.has("expect")) {
            int[] range = expect(f.node("expect"), f.path("expect"));
            if (range != null) {
                expectMin = range[0];
                expectMax = range[1];
            }
        }
        if (type == HealthCheckType.NONE) {
            for (String key : List.of("interval", "timeout", "rise", "fall")) {
                if (f.has(key)) {
                    Entry e = f.entry(key);
                    warning(f.path(key), e.line(), e.column(), "'" + key + "' has no effect with type none");
                }
            }
        }
        if (errors.size() > before) {
            return null;
        }
        HealthCheckTarget target = f.has("target")
                ? healthTarget(f.node("target"), f.path("target"), mode)
                : defaultTarget(mode);
        if (errors.size() > before) {
            return null;
        }
        return new HealthCheckConfig(type, interval, timeout, rise, fall, httpPath, expectMin, expectMax, send,
                expectReply, target);
    }

    /**
     * Warns when the check cannot see the service the VIP forwards: a tcp or http check of a UDP VIP's
     * backends marks a backend that serves only UDP down (and a healthy-looking TCP port says nothing about
     * its UDP service); a udp check of a TCP VIP's backends passes while nothing listens on TCP.
     */
    private void checkTypeFitsProtocol(Fields f, Protocol protocol, HealthCheckType type) {
        Entry e = f.entry("type");
        if (protocol == Protocol.UDP && (type == HealthCheckType.TCP || type == HealthCheckType.HTTP)) {
            warning(f.path("type"), e.value().line(), e.value().column(), "a " + type.configName()
                    + " check of a udp VIP: backends that serve only UDP are marked down and the VIP drops every "
                    + "datagram, and a TCP port that answers says nothing about the UDP service; use type udp "
                    + "(the default for udp VIPs)");
        } else if (protocol == Protocol.TCP && type == HealthCheckType.UDP) {
            warning(f.path("type"), e.value().line(), e.value().column(), "a udp check of a tcp VIP: it passes "
                    + "while nothing listens on TCP; use type tcp (the default for tcp VIPs) or http");
        }
    }

    private UdpPayload payload(ConfigNode node, String path) {
        String text = scalar(node, path, "a datagram payload: text, or '" + UdpPayload.HEX_PREFIX + "' and hex digits");
        if (text == null) {
            return null;
        }
        try {
            return UdpPayload.parse(text);
        } catch (IllegalArgumentException e) {
            error(path, node, e.getMessage());
            return null;
        }
    }

    private String httpPath(ConfigNode node, String path) {
        String text = scalar(node, path, "an HTTP path such as /healthz");
        if (text == null) {
            return null;
        }
        if (!text.startsWith("/")) {
            error(path, node, "must start with '/', was '" + text + "'");
            return null;
        }
        if (text.length() > MAX_HTTP_PATH_LENGTH) {
            error(path, node, "must be at most " + MAX_HTTP_PATH_LENGTH + " characters, was " + text.length());
            return null;
        }
        if (text.chars().anyMatch(c -> c <= ' ' || c >= 0x7f)) {
            error(path, node, "must be printable ASCII without spaces (percent-encode others), was '" + text + "'");
            return null;
        }
        return text;
    }

    private int[] expect(ConfigNode node, String path) {
        String text = scalar(node, path, "an HTTP status or range such as 200 or 200-399");
        if (text == null) {
            return null;
        }
        var m = EXPECT.matcher(text.strip());
        if (!m.matches()) {
            error(path, node, "expected an HTTP status or range such as 200 or 200-399, got '" + text + "'");
            return null;
        }
        int min = Integer.parseInt(m.group(1));
        int max = m.group(2) == null ? min : Integer.parseInt(m.group(2));
        for (int status : new int[] {min, max}) {
            if (status < 100 || status > 599) {
                error(path, node, "HTTP status " + status + " is outside 100-599");
                return null;
            }
        }
        if (min > max) {
            error(path, node, "range " + min + "-" + max + " is empty: the lower status comes first");
            return null;
        }
        return new int[] {min, max};
    }

    private DsrConfig bindDsr(ConfigNode node, String path) {
        MapNode map = map(node, path, "DSR settings (method, interface, gue_port, ingress_drop, io, xdp_frames)");
        if (map == null) {
            return null;
        }
        int before = errors.size();
        Fields f = new Fields(map, path, DSR_KEYS);
        DsrMethod method = f.required("method", " (l2, ipip or gue)") == null
                ? null
                : choice(f.node("method"), f.path("method"), DsrMethod.values(), DsrMethod::configName);
        String interfaceName = f.required("interface", " (the network interface the VIP's traffic arrives on)")
                == null ? null : interfaceName(f.node("interface"), f.path("interface"));
        Integer guePort = DsrConfig.DEFAULT_GUE_PORT;
        if (f.has("gue_port")) {
            if (method != null && method != DsrMethod.GUE) {
                Entry e = f.entry("gue_port");
                error(f.path("gue_port"), e.line(), e.column(), "'gue_port' is only valid with method gue (method is "
                        + method.configName() + ")");
            } else {
                guePort = integer(f.node("gue_port"), f.path("gue_port"), 1, 65535);
            }
        }
        Boolean ingressDrop = f.has("ingress_drop")
                ? bool(f.node("ingress_drop"), f.path("ingress_drop"))
                : Boolean.valueOf(DsrConfig.DEFAULT_INGRESS_DROP);
        DsrIo io = f.has("io") ? choice(f.node("io"), f.path("io"), DsrIo.values(), DsrIo::configName)
                : DsrConfig.DEFAULT_IO;
        Integer xdpFrames = DsrConfig.DEFAULT_XDP_FRAMES;
        if (f.has("xdp_frames")) {
            xdpFrames = integer(f.node("xdp_frames"), f.path("xdp_frames"), DsrConfig.MIN_XDP_FRAMES,
                    DsrConfig.MAX_XDP_FRAMES);
            if (xdpFrames != null && Integer.bitCount(xdpFrames) != 1) {
                Entry e = f.entry("xdp_frames");
                error(f.path("xdp_frames"), e.line(), e.column(), "'xdp_frames' must be a power of two (AF_XDP ring "
                        + "sizes are), e.g. 4096, 8192 or 16384; was " + xdpFrames);
                xdpFrames = null;
            }
        }
        if (errors.size() > before) {
            return null;
        }
        return new DsrConfig(method, interfaceName, guePort, ingressDrop, io, xdpFrames);
    }

    private String interfaceName(ConfigNode node, String path) {
        String text = scalar(node, path, "a network interface name such as eth0");
        if (text == null) {
            return null;
        }
        if (text.isEmpty() || text.length() > MAX_INTERFACE_NAME_LENGTH || text.equals(".") || text.equals("..")
                || text.chars().anyMatch(c -> c == '/' || c <= ' ' || c >= 0x7f)) {
            error(path, node, "'" + text + "' is not a network interface name (1 to " + MAX_INTERFACE_NAME_LENGTH
                    + " printable characters, no '/' or spaces)");
            return null;
        }
        return text;
    }

    // ---- typed values ----

    private MapNode map(ConfigNode node, String path, String what) {
        if (node instanceof MapNode m) {
            return m;
        }
        error(path, node, "expected a map of " + what + ", got " + node.kind());
        return null;
    }

    /** The text of a non-null scalar, or null after reporting that {@code node} is not {@code expected}. */
    private String scalar(ConfigNode node, String path, String expected) {
        if (node instanceof ScalarNode s && !s.wasNull()) {
            return s.value();
        }
        error(path, node, "expected " + expected + ", got " + node.kind());
        return null;
    }

    private String name(ConfigNode node, String path) {
        String text = scalar(node, path, "a name");
        if (text == null) {
            return null;
        }
        if (!NAME.matcher(text).matches()) {
            error(path, node, "'" + text + "' is not a valid name: use " + NAME_RULE);
            return null;
        }
        return text;
    }

    private Integer integer(ConfigNode node, String path, int min, int max) {
        String text = scalar(node, path, "an integer");
        if (text == null) {
            return null;
        }
        String t = text.strip();
        if (!INTEGER.matcher(t).matches()) {
            error(path, node, "expected an integer, got '" + text + "'");
            return null;
        }
        long value;
        try {
            value = Long.parseLong(t);
        } catch (NumberFormatException tooManyDigits) {
            value = t.startsWith("-") ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        if (value < min || value > max) {
            String range = max == Integer.MAX_VALUE ? "must be >= " + min : "must be between " + min + " and " + max;
            error(path, node, range + ", was " + t);
            return null;
        }
        return (int) value;
    }

    private Boolean bool(ConfigNode node, String path) {
        String text = scalar(node, path, "true or false");
        if (text == null) {
            return null;
        }
        return switch (text.strip()) {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> {
                error(path, node, "expected true or false, got '" + text + "'");
                yield null;
            }
        };
    }

    private Duration duration(ConfigNode node, String path) {
        String text = scalar(node, path, "a duration (" + ConfigValues.DURATION_FORMS + ")");
        if (text == null) {
            return null;
        }
        try {
            return ConfigValues.parseDuration(text);
        } catch (IllegalArgumentException e) {
            error(path, node, e.getMessage());
            return null;
        }
    }

    private InetSocketAddress address(ConfigNode node, String path, boolean backend) {
        if (!(node instanceof ScalarNode)) {
            // A bare [::1]:80 is a YAML flow list (or a syntax error): say how to write it.
            error(path, node, "expected an IP:port address such as 127.0.0.1:80 or \"[::1]:80\", got " + node.kind()
                    + " (quote IPv6 addresses: a bare '[' starts a YAML list)");
            return null;
        }
        String text = scalar(node, path, "an IP:port address such as 127.0.0.1:80 or [::1]:80");
        if (text == null) {
            return null;
        }
        InetSocketAddress address;
        try {
            address = ConfigValues.parseSocketAddress(text);
        } catch (IllegalArgumentException e) {
            error(path, node, e.getMessage());
            return null;
        }
        if (address.getAddress().isMulticastAddress()) {
            error(path, node, "'" + text + "' is a multicast address");
            return null;
        }
        if (backend && address.getAddress().isAnyLocalAddress()) {
            error(path, node, "a backend needs a concrete address, not the wildcard '" + text + "'");
            return null;
        }
        return address;
    }

    private <E extends Enum<E>> E choice(ConfigNode node, String path, E[] values, Function<E, String> configName) {
        List<String> names = Arrays.stream(values).map(configName).toList();
        String expected = String.join(", ", names);
        String text = scalar(node, path, "one of " + expected);
        if (text == null) {
            return null;
        }
        for (E value : values) {
            if (configName.apply(value).equals(text)) {
                return value;
            }
        }
        String hint = Suggestions.closest(text, names).map(s -> " (did you mean '" + s + "'?)").orElse("");
        error(path, node, "'" + text + "' is not one of " + expected + hint);
        return null;
    }

    // ---- reporting ----

    private void error(String path, ConfigNode at, String message) {
        error(path, at.line(), at.column(), message);
    }

    private void error(String path, int line, int column, String message) {
        errors.add(new ConfigError(path, line, column, message));
    }

    private void warning(String path, ConfigNode at, String message) {
        warning(path, at.line(), at.column(), message);
    }

    private void warning(String path, int line, int column, String message) {
        warnings.add(new ConfigWarning(path, line, column, message));
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /**
     * The keys of one map: reports unknown keys (with a suggestion) and duplicates as it reads them, then
     * answers lookups by key; the first of duplicate keys wins.
     */
    private final class Fields {
        private final MapNode map;
        private final String path;
        private final Map<String, Entry> entries = new LinkedHashMap<>();

        Fields(MapNode map, String path, List<String> known) {
            this.map = map;
            this.path = path;
            for (Entry e : map.entries()) {
                String keyPath = join(path, e.key());
                if (!known.contains(e.key())) {
                    String hint = Suggestions.closest(e.key(), known)
                            .map(s -> " (did you mean '" + s + "'?)")
                            .orElseGet(() -> " (expected one of: " + known.stream().collect(Collectors.joining(", "))
                                    + ")");
                    error(keyPath, e.line(), e.column(), "unknown key '" + e.key() + "'" + hint);
                    continue;
                }
                Entry first = entries.putIfAbsent(e.key(), e);
                if (first != null) {
                    error(keyPath, e.line(), e.column(), "duplicate key '" + e.key() + "' (first at line "
                            + first.line() + ")");
                }
            }
        }

        boolean has(String key) {
            return entries.containsKey(key);
        }

        Entry entry(String key) {
            return entries.get(key);
        }

        ConfigNode node(String key) {
            Entry e = entries.get(key);
            return e == null ? null : e.value();
        }

        String path(String key) {
            return join(path, key);
        }

        /** The value of {@code key}, or null after reporting it missing at the map's position. */
        ConfigNode required(String key, String hint) {
            Entry e = entries.get(key);
            if (e == null) {
                error(path(key), map, "required key '" + key + "' is missing" + hint);
                return null;
            }
            return e.value();
        }
    }
}
