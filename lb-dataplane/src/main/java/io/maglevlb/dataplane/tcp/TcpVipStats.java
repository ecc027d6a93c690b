package io.maglevlb.dataplane.tcp;

import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.VipStats;

/**
 * Counters of one TCP VIP summed over its event loops at one moment (see {@link TcpProxyVip#stats()}).
 * Per-backend values are indexed by backend id (the ids of the VIP's {@code ForwardingSnapshot}); ids at or
 * above {@link #idLimit()} read as 0.
 *
 * @param accepted client connections accepted
 * @param active client connections open now (including ones waiting for a connection slot)
 * @param closedNoBackend clients reset at once because the table had no backend (all down or drained)
 * @param connectGiveUps clients reset after the first choice and every retry failed to connect
 * @param closedLocalError clients reset because no backend socket could be had for a local reason
 * @param localErrors system calls that failed for a local reason, indexed by {@link LocalError#ordinal()}
 */
public record TcpVipStats(long accepted, long active, long closedNoBackend, long connectGiveUps,
        long closedLocalError, long[] localErrors,
        long[] connections, long[] activeByBackend, long[] bytesToBackend, long[] bytesToClient,
        long[] connectFailures, long[] retries) implements VipStats {

    /** Proxied connections open to backend {@code id} now (as {@link #activeConnections(int)}). */
    @Override
    public long active(int id) {
        return activeConnections(id);
    }

    /** System calls that failed for {@code reason} (accepting, opening or connecting a backend socket). */
    public long localErrors(LocalError reason) {
        return at(localErrors, reason.ordinal());
    }

    /** One more than the highest backend id with counters. */
    public int idLimit() {
        return connections.length;
    }

    /** Backend connections established to backend {@code id}. */
    public long connections(int id) {
        return at(connections, id);
    }

    /** Proxied connections open to backend {@code id} now. */
    public long activeConnections(int id) {
        return at(activeByBackend, id);
    }

    /** Bytes forwarded from clients to backend {@code id} (plain relay only; spliced bytes are not counted). */
    public long bytesToBackend(int id) {
        return at(bytesToBackend, id);
    }

    /** Bytes forwarded from backend {@code id} to clients (plain relay only). */
    public long bytesToClient(int id) {
        return at(bytesToClient, id);
    }

    /** Connect attempts to backend {@code id} that failed (refused, timed out, unreachable). */
    public long connectFailures(int id) {
        return at(connectFailures, id);
    }

    /** Connect attempts made to backend {@code id} as a fallback after another backend failed. */
    public long retries(int id) {
        return at(retries, id);
    }

    public long totalBytesToBackend() {
        return sum(bytesToBackend);
    }

    public long totalBytesToClient() {
        return sum(bytesToClient);
    }

    public long totalConnectFailures() {
        return sum(connectFailures);
    }

    public long totalRetries() {
        return sum(retries);
    }

    private static long at(long[] values, int id) {
        return id >= 0 && id < values.length ? values[id] : 0;
    }

    private static long sum(long[] values) {
        long s = 0;
        for (long v : values) {
            s += v;
        }
        return s;
    }
}
