package io.maglevlb.bench.e2e;

import java.util.Locale;
import java.util.Optional;

/**
 * The figures scripts/bench records, with their unit, which direction is better, the table they belong to and
 * the project's goal for maglevd (issues "Benchmarks: side by side with HAProxy, nginx and the no-LB limit" and
 * "Efficiency: less CPU per unit of work than HAProxy and nginx"). The ids are the {@code metric} column of the
 * raw results file.
 *
 * <p>Per-unit figures (CPU, system calls, wake-ups) divide what the load balancer's process spent over one load
 * run by the units that run relayed: connections, requests, gigabytes or datagram round trips.
 */
enum Metric {
    // ---- CPU per unit of work: the load balancer's utime + stime over the run ÷ units relayed
    CONN_CPU("conn_cpu_us", Kind.CPU, "CPU per new connection", "one request per connection", "µs", false, 2,
            new Goal(Peer.HAPROXY, 0.7)),
    KA_CPU("ka_cpu_us", Kind.CPU, "CPU per keep-alive request", "fixed connections", "µs", false, 2,
            new Goal(Peer.HAPROXY, 0.7)),
    BULK1_CPU("bulk1_cpu_ms_gb", Kind.CPU, "CPU per GB, 1 stream", "iperf3", "ms/GB", false, 0,
            new Goal(Peer.HAPROXY, 0.7)),
    BULK4_CPU("bulk4_cpu_ms_gb", Kind.CPU, "CPU per GB, 4 streams", "iperf3 -P 4", "ms/GB", false, 0, null),
    UDP_CPU("udp_cpu_us", Kind.CPU, "CPU per UDP round trip", "64 B echo, request and reply", "µs", false, 2,
            new Goal(Peer.NGINX, 0.5)),
    REDIS_CPU("redis_cpu_us", Kind.CPU, "CPU per redis GET", "redis-benchmark -c 50 -t get", "µs", false, 2, null),

    // ---- system calls per unit (perf stat raw_syscalls:sys_enter over the LB's threads)
    CONN_SYS("conn_sys", Kind.SYSCALLS, "Syscalls per new connection", "perf raw_syscalls:sys_enter", "calls",
            false, 1, null),
    KA_SYS("ka_sys", Kind.SYSCALLS, "Syscalls per keep-alive request", "perf raw_syscalls:sys_enter", "calls",
            false, 2, null),
    BULK1_SYS("bulk1_sys_mb", Kind.SYSCALLS, "Syscalls per MB, 1 stream", "perf raw_syscalls:sys_enter", "calls",
            false, 1, null),
    UDP_SYS("udp_sys", Kind.SYSCALLS, "Syscalls per UDP round trip", "perf raw_syscalls:sys_enter", "calls",
            false, 2, null),
    REDIS_SYS("redis_sys", Kind.SYSCALLS, "Syscalls per redis GET", "perf raw_syscalls:sys_enter", "calls",
            false, 2, null),

    // ---- wake-ups per unit: voluntary context switches of the LB's threads (/proc/PID/task/*/status), and
    // epoll waits (perf syscalls:sys_enter_epoll_wait, _pwait, _pwait2)
    CONN_WAKE("conn_wake", Kind.WAKEUPS, "Sleeps per new connection", "voluntary context switches", "switches",
            false, 2, null),
    KA_WAKE("ka_wake", Kind.WAKEUPS, "Sleeps per keep-alive request", "voluntary context switches", "switches",
            false, 3, null),
    BULK1_WAKE("bulk1_wake_mb", Kind.WAKEUPS, "Sleeps per MB, 1 stream", "voluntary context switches", "switches",
            false, 2, null),
    UDP_WAKE("udp_wake", Kind.WAKEUPS, "Sleeps per UDP round trip", "voluntary context switches", "switches",
            false, 3, null),
    REDIS_WAKE("redis_wake", Kind.WAKEUPS, "Sleeps per redis GET", "voluntary context switches", "switches",
            false, 3, null),
    CONN_EPOLL("conn_epoll", Kind.WAKEUPS, "epoll waits per new connection", "epoll_wait/epoll_pwait calls",
            "calls", false, 2, null),
    KA_EPOLL("ka_epoll", Kind.WAKEUPS, "epoll waits per keep-alive request", "epoll_wait/epoll_pwait calls",
            "calls", false, 3, null),
    UDP_EPOLL("udp_epoll", Kind.WAKEUPS, "epoll waits per UDP round trip", "epoll_wait/epoll_pwait calls",
            "calls", false, 3, null),
    REDIS_EPOLL("redis_epoll", Kind.WAKEUPS, "epoll waits per redis GET", "epoll_wait/epoll_pwait calls",
            "calls", false, 3, null),

    // ---- throughput and latency
    CONN_RATE("conn_rate", Kind.THROUGHPUT, "New TCP connections/s", "one request per connection", "conn/s", true, 0,
            new Goal(Peer.HAPROXY, 1.05)),
    CONN_P99("conn_p99_us", Kind.LATENCY, "New-connection p99 latency", "same run as connections/s", "µs", false,
            0, new Goal(Peer.HAPROXY, 1.0)),
    KA_RPS("ka_rps", Kind.THROUGHPUT, "Keep-alive requests/s", "small requests, fixed connections", "req/s", true, 0,
            new Goal(Peer.HAPROXY, 1.05)),
    KA_P50("ka_p50_us", Kind.LATENCY, "Keep-alive p50 latency", "same run as requests/s", "µs", false, 0, null),
    KA_P99("ka_p99_us", Kind.LATENCY, "Keep-alive p99 latency", "same run as requests/s", "µs", false, 0,
            new Goal(Peer.HAPROXY, 1.0)),
    BULK1("bulk1_gbps", Kind.THROUGHPUT, "Bulk TCP, 1 stream", "iperf3", "Gbit/s", true, 2,
            new Goal(Peer.HAPROXY, 1.1)),
    BULK4("bulk4_gbps", Kind.THROUGHPUT, "Bulk TCP, 4 streams", "iperf3 -P 4", "Gbit/s", true, 2, null),
    UDP_DPS("udp_dps", Kind.THROUGHPUT, "UDP datagrams/s", "echo round trips", "dgram/s", true, 0,
            new Goal(Peer.NGINX, 1.8)),
    REDIS_RPS("redis_rps", Kind.THROUGHPUT, "redis GET requests/s", "redis-benchmark -c 50 -t get", "req/s", true, 0,
            new Goal(Peer.HAPROXY, 1.0)),
    REDIS_P50("redis_p50_ms", Kind.LATENCY, "redis GET p50 latency", "same run as requests/s", "ms", false, 3,
            null),
    REDIS_P99("redis_p99_ms", Kind.LATENCY, "redis GET p99 latency", "same run as requests/s", "ms", false, 3,
            null),
    IDLE_BYTES("idle_bytes", Kind.MEMORY, "Memory per idle connection", "RSS growth / idle proxied connections", "B",
            false, 0, new Goal(Peer.HAPROXY, 1.0)),

    // ---- what bounded a throughput run: the LB's CPU time ÷ wall time, and the load side's (client and backends)
    CONN_LB_BUSY("conn_lb_busy", Kind.BUSY, "new connections", "", "%", false, 0, null),
    CONN_LOAD_BUSY("conn_load_busy", Kind.BUSY, "new connections", "", "%", false, 0, null),
    KA_LB_BUSY("ka_lb_busy", Kind.BUSY, "keep-alive requests", "", "%", false, 0, null),
    KA_LOAD_BUSY("ka_load_busy", Kind.BUSY, "keep-alive requests", "", "%", false, 0, null),
    BULK1_LB_BUSY("bulk1_lb_busy", Kind.BUSY, "bulk, 1 stream", "", "%", false, 0, null),
    BULK1_LOAD_BUSY("bulk1_load_busy", Kind.BUSY, "bulk, 1 stream", "", "%", false, 0, null),
    BULK4_LB_BUSY("bulk4_lb_busy", Kind.BUSY, "bulk, 4 streams", "", "%", false, 0, null),
    BULK4_LOAD_BUSY("bulk4_load_busy", Kind.BUSY, "bulk, 4 streams", "", "%", false, 0, null),
    UDP_LB_BUSY("udp_lb_busy", Kind.BUSY, "UDP datagrams", "", "%", false, 0, null),
    UDP_LOAD_BUSY("udp_load_busy", Kind.BUSY, "UDP datagrams", "", "%", false, 0, null),
    REDIS_LB_BUSY("redis_lb_busy", Kind.BUSY, "redis GET", "", "%", false, 0, null),
    REDIS_LOAD_BUSY("redis_load_busy", Kind.BUSY, "redis GET", "", "%", false, 0, null),

    // ---- maglevd's CPU by kind of thread over each measured run, as % of its process CPU in that run: the
    // forwarding worker, the JIT compiler threads, GC (the serial collector runs in the VM thread) and the rest
    CONN_THR_WORKER("conn_thr_worker", Kind.THREADS, "new connections", "worker", "%", false, 1, null),
    CONN_THR_JIT("conn_thr_jit", Kind.THREADS, "new connections", "JIT compilers", "%", false, 1, null),
    CONN_THR_GC("conn_thr_gc", Kind.THREADS, "new connections", "GC", "%", false, 1, null),
    CONN_THR_OTHER("conn_thr_other", Kind.THREADS, "new connections", "other", "%", false, 1, null),
    KA_THR_WORKER("ka_thr_worker", Kind.THREADS, "keep-alive requests", "worker", "%", false, 1, null),
    KA_THR_JIT("ka_thr_jit", Kind.THREADS, "keep-alive requests", "JIT compilers", "%", false, 1, null),
    KA_THR_GC("ka_thr_gc", Kind.THREADS, "keep-alive requests", "GC", "%", false, 1, null),
    KA_THR_OTHER("ka_thr_other", Kind.THREADS, "keep-alive requests", "other", "%", false, 1, null),
    REDIS_THR_WORKER("redis_thr_worker", Kind.THREADS, "redis GET", "worker", "%", false, 1, null),
    REDIS_THR_JIT("redis_thr_jit", Kind.THREADS, "redis GET", "JIT compilers", "%", false, 1, null),
    REDIS_THR_GC("redis_thr_gc", Kind.THREADS, "redis GET", "GC", "%", false, 1, null),
    REDIS_THR_OTHER("redis_thr_other", Kind.THREADS, "redis GET", "other", "%", false, 1, null),
    BULK1_THR_WORKER("bulk1_thr_worker", Kind.THREADS, "bulk, 1 stream", "worker", "%", false, 1, null),
    BULK1_THR_JIT("bulk1_thr_jit", Kind.THREADS, "bulk, 1 stream", "JIT compilers", "%", false, 1, null),
    BULK1_THR_GC("bulk1_thr_gc", Kind.THREADS, "bulk, 1 stream", "GC", "%", false, 1, null),
    BULK1_THR_OTHER("bulk1_thr_other", Kind.THREADS, "bulk, 1 stream", "other", "%", false, 1, null),
    UDP_THR_WORKER("udp_thr_worker", Kind.THREADS, "UDP datagrams", "worker", "%", false, 1, null),
    UDP_THR_JIT("udp_thr_jit", Kind.THREADS, "UDP datagrams", "JIT compilers", "%", false, 1, null),
    UDP_THR_GC("udp_thr_gc", Kind.THREADS, "UDP datagrams", "GC", "%", false, 1, null),
    UDP_THR_OTHER("udp_thr_other", Kind.THREADS, "UDP datagrams", "other", "%", false, 1, null);

    /** Which table of the report a metric belongs to. */
    enum Kind {
        CPU("LB process CPU per unit of work"),
        SYSCALLS("System calls per unit of work"),
        WAKEUPS("Wake-ups per unit of work"),
        THROUGHPUT("Throughput and latency"),
        LATENCY("Throughput and latency"),
        MEMORY("Memory"),
        BUSY("What bounded the throughput"),
        THREADS("maglevd's CPU by thread");

        final String title;

        Kind(String title) {
            this.title = title;
        }
    }

    /**
     * maglevd's goal for this metric: its median relative to {@code reference}'s median must be at least
     * {@code factor} (higher-is-better metrics) or at most {@code factor} (lower-is-better metrics).
     */
    record Goal(Peer reference, double factor) {
    }

    final String id;
    final Kind kind;
    final String label;
    final String detail;
    final String unit;
    final boolean higherIsBetter;
    private final int decimals;
    private final Goal goal;

    Metric(String id, Kind kind, String label, String detail, String unit, boolean higherIsBetter, int decimals,
            Goal goal) {
        this.id = id;
        this.kind = kind;
        this.label = label;
        this.detail = detail;
        this.unit = unit;
        this.higherIsBetter = higherIsBetter;
        this.decimals = decimals;
        this.goal = goal;
    }

    Optional<Goal> goal() {
        return Optional.ofNullable(goal);
    }

    static Optional<Metric> byId(String id) {
        for (Metric metric : values()) {
            if (metric.id.equals(id)) {
                return Optional.of(metric);
            }
        }
        return Optional.empty();
    }

    /** Whether this is the LB's busy share of a load ({@code conn_lb_busy}, ...). */
    boolean isLbBusy() {
        return kind == Kind.BUSY && id.endsWith("_lb_busy");
    }

    /** The load side's busy share recorded beside this LB busy share ({@code conn_load_busy} for
     * {@code conn_lb_busy}). */
    Optional<Metric> loadBusy() {
        return isLbBusy() ? byId(id.replace("_lb_busy", "_load_busy")) : Optional.empty();
    }

    /** The goal as a reader would say it, e.g. "≥ 1.05 × HAProxy". */
    String goalText() {
        if (goal == null) {
            return "";
        }
        String factor = goal.factor == 1.0 ? "" : String.format(Locale.ROOT, "%.2f × ", goal.factor);
        return (higherIsBetter ? "≥ " : "≤ ") + factor + goal.reference.display;
    }

    /** A value in this metric's unit, rounded for reading. */
    String format(double value) {
        if (Double.isNaN(value)) {
            return "–";
        }
        return String.format(Locale.ROOT, "%,." + decimals + "f", value);
    }
}
