package io.maglevlb.control.metrics;

/**
 * Names of maglevd's own meters, in Micrometer form. The Prometheus names (what operators query) follow
 * Micrometer's Prometheus naming convention: dots become underscores, counters get {@code _total}, timers
 * get {@code _seconds} with {@code _count}, {@code _sum} and {@code _max}. Each constant's comment gives the
 * Prometheus name and its labels; docs/operations.md lists them with their meaning.
 *
 * <p>Prometheus wants one label set per metric name, so every meter of a name carries the same tag keys.
 */
public final class MetricNames {
    private MetricNames() {}

    /** Label of the VIP name. */
    public static final String VIP = "vip";
    /** Label of the backend name. */
    public static final String BACKEND = "backend";
    /** Label of a byte or datagram direction: {@link #CLIENT_TO_BACKEND} or {@link #BACKEND_TO_CLIENT}. */
    public static final String DIRECTION = "direction";
    public static final String CLIENT_TO_BACKEND = "client_to_backend";
    public static final String BACKEND_TO_CLIENT = "backend_to_client";
    /** Label of a health check result (see CheckResult labels) or a reload result (ok, error). */
    public static final String RESULT = "result";
    /** Label of a flow table eviction reason. */
    public static final String REASON = "reason";

    /** {@code maglev_vip_announced{vip}}: 1 while the VIP's route is in the announce table, else 0. */
    public static final String VIP_ANNOUNCED = "maglev.vip.announced";
    /** {@code maglev_connections_total{vip}}: TCP connections accepted / UDP flows created. */
    public static final String CONNECTIONS = "maglev.connections";
    /** {@code maglev_connections_active{vip}}: TCP connections / UDP flows open now. */
    public static final String CONNECTIONS_ACTIVE = "maglev.connections.active";
    /**
     * {@code maglev_connections_refused_total{vip,reason}}: clients closed at once, reason {@code no_backend}
     * (every backend down or drained), {@code connect_failed} (the first choice and every retry failed) or
     * {@code local_error} (no backend socket could be had: descriptors, ports or buffers ran out here).
     */
    public static final String CONNECTIONS_REFUSED = "maglev.connections.refused";
    /** {@code maglev_bytes_total{vip,direction}}: payload bytes relayed. */
    public static final String BYTES = "maglev.bytes";
    /** {@code maglev_datagrams_total{vip,direction}}: UDP datagrams relayed. */
    public static final String DATAGRAMS = "maglev.datagrams";
    /** {@code maglev_datagrams_dropped_total{vip,reason}}: UDP: datagrams not forwarded, by reason. */
    public static final String DATAGRAMS_DROPPED = "maglev.datagrams.dropped";
    /** {@code maglev_datagrams_stateless_total{vip}}: UDP: client datagrams forwarded without a tracked flow. */
    public static final String DATAGRAMS_STATELESS = "maglev.datagrams.stateless";
    /** {@code maglev_flows_moved_total{vip}}: UDP: tracked flows moved to another backend (theirs went away). */
    public static final String FLOWS_MOVED = "maglev.flows.moved";
    /** {@code maglev_backends_unreachable_total{vip}}: UDP: ICMP unreachable errors on backend sockets. */
    public static final String BACKENDS_UNREACHABLE = "maglev.backends.unreachable";
    /** {@code maglev_session_open_failures_total{vip}}: UDP: backend sockets that could not be opened. */
    public static final String SESSION_OPEN_FAILURES = "maglev.session.open.failures";
    /** {@code maglev_vip_socket_errors_total{vip}}: UDP: errors reported on a VIP socket itself. */
    public static final String VIP_SOCKET_ERRORS = "maglev.vip.socket.errors";
    /**
     * {@code maglev_datagrams_kernel_dropped_total{vip}}: UDP: datagrams the kernel dropped because a VIP socket's
     * receive buffer was full (0 when the transport cannot tell).
     */
    public static final String DATAGRAMS_KERNEL_DROPPED = "maglev.datagrams.kernel.dropped";
    /** {@code maglev_packets_total{vip}}: DSR: packets forwarded toward backends. */
    public static final String PACKETS = "maglev.packets";
    /** {@code maglev_packets_received_total{vip}}: DSR: frames the VIP's socket filter let through. */
    public static final String PACKETS_RECEIVED = "maglev.packets.received";
    /** {@code maglev_packet_drops_total{vip,reason}}: DSR: packets not forwarded, by reason. */
    public static final String PACKET_DROPS = "maglev.packet.drops";
    /**
     * {@code maglev_dsr_io{vip,io}}: DSR: 1 for the kernel interface the VIP's engine moves frames through
     * ({@code af_xdp} or {@code af_packet}, as {@code dsr.io: auto} chose), 0 for the other.
     */
    public static final String DSR_IO = "maglev.dsr.io";
    /** Label of {@link #DSR_IO}. */
    public static final String IO = "io";
    /** {@code maglev_backends_unresolved{vip}}: DSR: backends whose next-hop MAC is not known yet. */
    public static final String BACKENDS_UNRESOLVED = "maglev.backends.unresolved";
    /**
     * {@code maglev_local_errors_total{vip,reason}}: system calls of the forwarding path that failed for a reason
     * of this host ({@code fd_limit}, {@code ephemeral_ports}, {@code buffers}); never counted against a backend.
     */
    public static final String LOCAL_ERRORS = "maglev.local.errors";
    /** {@code maglev_connect_failures_total{vip}}: backend connects that failed or timed out. */
    public static final String CONNECT_FAILURES = "maglev.connect.failures";
    /** {@code maglev_connect_retries_total{vip}}: connects retried on a fallback backend. */
    public static final String CONNECT_RETRIES = "maglev.connect.retries";
    /** {@code maglev_flow_table_size{vip}}: flows tracked now, summed over forwarding threads. */
    public static final String FLOW_TABLE_SIZE = "maglev.flow.table.size";
    /**
     * {@code maglev_flow_table_capacity{vip}}: flows the forwarding threads' tables can hold together (the fill
     * is size / capacity; a full table degrades new flows to stateless hashing).
     */
    public static final String FLOW_TABLE_CAPACITY = "maglev.flow.table.capacity";
    /** {@code maglev_flow_table_hits_total{vip}}: new-flow lookups answered by the flow table. */
    public static final String FLOW_TABLE_HITS = "maglev.flow.table.hits";
    /** {@code maglev_flow_table_misses_total{vip}}: lookups that went to the Maglev table. */
    public static final String FLOW_TABLE_MISSES = "maglev.flow.table.misses";
    /** {@code maglev_flow_table_evictions_total{vip,reason}}: entries evicted (idle, capacity, backend). */
    public static final String FLOW_TABLE_EVICTIONS = "maglev.flow.table.evictions";
    /** {@code maglev_backend_up{vip,backend}}: 1 when health checks pass, else 0. */
    public static final String BACKEND_UP = "maglev.backend.up";
    /** {@code maglev_backend_drained{vip,backend}}: 1 when drained (admin API or weight 0), else 0. */
    public static final String BACKEND_DRAINED = "maglev.backend.drained";
    /** {@code maglev_backend_slots{vip,backend}}: Maglev table slots the backend owns now. */
    public static final String BACKEND_SLOTS = "maglev.backend.slots";
    /** {@code maglev_backend_connections_total{vip,backend}}: TCP connections established / UDP flows placed. */
    public static final String BACKEND_CONNECTIONS = "maglev.backend.connections";
    /** {@code maglev_backend_connections_active{vip,backend}}: TCP connections / UDP flows open now. */
    public static final String BACKEND_CONNECTIONS_ACTIVE = "maglev.backend.connections.active";
    /** {@code maglev_backend_connect_failures_total{vip,backend}}: connects to the backend that failed. */
    public static final String BACKEND_CONNECT_FAILURES = "maglev.backend.connect.failures";
    /** {@code maglev_backend_packets_total{vip,backend}}: DSR: packets forwarded to the backend. */
    public static final String BACKEND_PACKETS = "maglev.backend.packets";
    /** {@code maglev_backend_datagrams_total{vip,backend,direction}}: UDP: datagrams relayed via the backend. */
    public static final String BACKEND_DATAGRAMS = "maglev.backend.datagrams";
    /** {@code maglev_backend_unreachable_total{vip,backend}}: UDP: ICMP unreachable errors from the backend. */
    public static final String BACKEND_UNREACHABLE = "maglev.backend.unreachable";
    /** {@code maglev_backend_bytes_total{vip,backend,direction}}: payload bytes relayed via the backend. */
    public static final String BACKEND_BYTES = "maglev.backend.bytes";
    /** {@code maglev_health_checks_total{vip,backend,result}}: checks by result. */
    public static final String HEALTH_CHECKS = "maglev.health.checks";
    /**
     * {@code maglev_health_passive_checks_total{vip,backend}}: checks brought forward by the passive signal
     * (UDP: a rise of the backend's ICMP unreachable count).
     */
    public static final String HEALTH_PASSIVE_CHECKS = "maglev.health.passive.checks";
    /** {@code maglev_health_check_duration_seconds_{count,sum}{vip,backend}}: time checks took. */
    public static final String HEALTH_CHECK_DURATION = "maglev.health.check.duration";
    /** {@code maglev_table_rebuilds_total{vip}}: Maglev tables built and published. */
    public static final String TABLE_REBUILDS = "maglev.table.rebuilds";
    /**
     * {@code maglev_table_slots_moved_total{vip}}: table slots whose backend changed from one published table to
     * the next (Maglev keeps this near the share of the backend that came or went).
     */
    public static final String TABLE_SLOTS_MOVED = "maglev.table.slots.moved";
    /** {@code maglev_table_build_duration_seconds_{count,sum}{vip}}: time to build a table. */
    public static final String TABLE_BUILD_DURATION = "maglev.table.build.duration";
    /**
     * {@code maglev_table_build_duration_seconds_max{vip}}: the longest build of the last two minutes (what a
     * Micrometer Timer's {@code _max} reports), a gauge beside the function timer, which has no max.
     */
    public static final String TABLE_BUILD_DURATION_MAX = "maglev.table.build.duration.seconds.max";
    /** {@code maglev_table_slots_min{vip}}: fewest slots owned by a backend in the table (0 if empty). */
    public static final String TABLE_SLOTS_MIN = "maglev.table.slots.min";
    /** {@code maglev_table_slots_max{vip}}: most slots owned by a backend in the table (0 if empty). */
    public static final String TABLE_SLOTS_MAX = "maglev.table.slots.max";
    /**
     * {@code maglev_table_info{vip,digest}}: 1, one series per VIP carrying its current table digest (the old
     * digest's series goes when the table changes): hosts whose series differ publish different tables.
     */
    public static final String TABLE_INFO = "maglev.table.info";
    /** Label of a table digest (SHA-256 hex, as in {@code /status}). */
    public static final String DIGEST = "digest";
    /** {@code maglev_reloads_total{result}}: configuration reloads, result ok or error. */
    public static final String RELOADS = "maglev.reloads";
    /**
     * {@code maglev_process_info{generation,parent_pid}}: 1. Generation 1 is a process started with {@code run};
     * each takeover adds one, and {@code parent_pid} is the process taken over from (empty for generation 1).
     * The start time is {@code process_start_time_seconds}.
     */
    public static final String PROCESS_INFO = "maglev.process.info";
    /** Label: takeover generation. */
    public static final String GENERATION = "generation";
    /** Label: the pid of the process this one took over from. */
    public static final String PARENT_PID = "parent_pid";
    /** {@code maglev_admin_connections_active}: admin API connections served now. */
    public static final String ADMIN_CONNECTIONS_ACTIVE = "maglev.admin.connections.active";
    /** {@code maglev_admin_connections_refused_total}: admin API connections over the limit, answered 503. */
    public static final String ADMIN_CONNECTIONS_REFUSED = "maglev.admin.connections.refused";
}
