package io.maglevlb.bench;

import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.snapshot.BackendState;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Inputs shared by the Maglev benchmarks: the same named backend sets everywhere, so numbers from
 * different benchmarks describe the same tables. Names are {@code backend-%04d}, weight 1.
 */
final class BenchInputs {
    private BenchInputs() {}

    static List<MaglevBackend> maglevBackends(int count) {
        List<MaglevBackend> backends = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            backends.add(new MaglevBackend(name(i), 1));
        }
        return backends;
    }

    /**
     * Healthy, undrained backends with ids 1..count. Addresses are in 198.18.0.0/15 (RFC 2544 benchmarking
     * range); nothing connects to them, they only fill the records.
     */
    static List<BackendState> backendStates(int count) {
        List<BackendState> backends = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            InetSocketAddress address = new InetSocketAddress(address(i), 8080);
            backends.add(new BackendState(i + 1, name(i), address, 1, false, true));
        }
        return backends;
    }

    static String name(int i) {
        return String.format("backend-%04d", i);
    }

    private static InetAddress address(int i) {
        byte[] ip = {(byte) 198, (byte) (18 + (i >>> 16 & 1)), (byte) (i >>> 8), (byte) i};
        try {
            return InetAddress.getByAddress(ip);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // only for a wrong-length array
        }
    }
}
