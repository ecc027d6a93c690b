package io.maglevlb.control.metrics;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * Registers a VIP's dataplane meters. Each meter reads the dataplane's counters at scrape time through a
 * reader function; nothing here runs per packet.
 */
public final class DataplaneMeters {
    private DataplaneMeters() {}

    public static <T> void registerTraffic(MeterGroup vipGroup, T source, TrafficReaders<T> r) {
        counter(vipGroup, MetricNames.CONNECTIONS, "TCP connections accepted or UDP flows created", source,
                r.connections());
        gauge(vipGroup, MetricNames.CONNECTIONS_ACTIVE, "TCP connections or UDP flows open now", source,
                r.activeConnections());
        counter(vipGroup, MetricNames.BYTES, "Payload bytes relayed", source, r.bytesClientToBackend(),
                MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        counter(vipGroup, MetricNames.BYTES, "Payload bytes relayed", source, r.bytesBackendToClient(),
                MetricNames.DIRECTION, MetricNames.BACKEND_TO_CLIENT);
        counter(vipGroup, MetricNames.DATAGRAMS, "UDP datagrams relayed", source, r.datagramsClientToBackend(),
                MetricNames.DIRECTION, MetricNames.CLIENT_TO_BACKEND);
        counter(vipGroup, MetricNames.DATAGRAMS, "UDP datagrams relayed", source, r.datagramsBackendToClient(),
                MetricNames.DIRECTION, MetricNames.BACKEND_TO_CLIENT);
        counter(vipGroup, MetricNames.CONNECT_FAILURES, "Backend connects that failed or timed out", source,
                r.connectFailures());
        counter(vipGroup, MetricNames.CONNECT_RETRIES, "Backend connects retried on a fallback backend", source,
                r.connectRetries());
    }

    public static <T> void registerFlowTable(MeterGroup vipGroup, T source, FlowTableReaders<T> r) {
        gauge(vipGroup, MetricNames.FLOW_TABLE_SIZE, "Flows tracked now", source, r.size());
        gauge(vipGroup, MetricNames.FLOW_TABLE_CAPACITY, "Flows the forwarding threads' tables can hold together",
                source, r.capacity());
        counter(vipGroup, MetricNames.FLOW_TABLE_HITS, "Lookups answered by the flow table", source, r.hits());
        counter(vipGroup, MetricNames.FLOW_TABLE_MISSES, "Lookups that went to the Maglev table", source,
                r.misses());
        for (Map.Entry<String, ToDoubleFunction<T>> e : new TreeMap<>(r.evictions()).entrySet()) {
            counter(vipGroup, MetricNames.FLOW_TABLE_EVICTIONS, "Flow table entries evicted, by reason", source,
                    e.getValue(), MetricNames.REASON, e.getKey());
        }
    }

    private static <T> void counter(MeterGroup g, String name, String description, T source,
            ToDoubleFunction<T> reader, String... tags) {
        if (reader != null) {
            g.functionCounter(name, description, source, reader, tags);
        }
    }

    private static <T> void gauge(MeterGroup g, String name, String description, T source,
            ToDoubleFunction<T> reader, String... tags) {
        if (reader != null) {
            g.gauge(name, description, source, reader, tags);
        }
    }
}
