package io.maglevlb.control.metrics;

import java.util.function.ToDoubleFunction;

/**
 * How to read one VIP's traffic counters from the dataplane's aggregate {@code T} (e.g. a sum over the
 * forwarding loops' per-loop counters). A null reader means the VIP's protocol does not have that counter
 * (e.g. datagrams on a TCP VIP) and its meter is not registered.
 */
public record TrafficReaders<T>(
        ToDoubleFunction<T> connections,
        ToDoubleFunction<T> activeConnections,
        ToDoubleFunction<T> bytesClientToBackend,
        ToDoubleFunction<T> bytesBackendToClient,
        ToDoubleFunction<T> datagramsClientToBackend,
        ToDoubleFunction<T> datagramsBackendToClient,
        ToDoubleFunction<T> connectFailures,
        ToDoubleFunction<T> connectRetries) {}
