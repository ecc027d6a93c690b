package io.maglevlb.dataplane.tcp;

import io.maglevlb.dataplane.Transport;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Bulk-transfer comparison of the plain relay and splice mode (not a unit test: run by hand, see
 * docs/tcp-proxy.md). Moves {@code bytes} from a client through the proxy to a backend that counts them, and
 * the same amount back from the backend to the client, {@code runs} times per mode, interleaved, and prints
 * the median throughput of each mode.
 *
 * <p>Each transfer ends with the receiver acknowledging the byte count before anyone closes, so the
 * measurement does not depend on how a mode handles FIN.
 *
 * <p>Besides throughput it reports the CPU time the proxy's event loop threads spent per GiB relayed (both
 * directions together), read with {@link ThreadMXBean}: the client and the backend run in the same JVM, so
 * process CPU would mostly measure them.
 *
 * <p>Usage: {@code SpliceComparison [gigabytes=2] [runs=3]}
 */
public final class SpliceComparison {
    private static final int CHUNK = 256 * 1024;

    private SpliceComparison() {}

    public static void main(String[] args) throws Exception {
        long bytes = (long) (Double.parseDouble(args.length > 0 ? args[0] : "2") * (1L << 30));
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        List<Double> plainUp = new ArrayList<>();
        List<Double> spliceUp = new ArrayList<>();
        List<Double> plainDown = new ArrayList<>();
        List<Double> spliceDown = new ArrayList<>();
        List<Double> plainCpu = new ArrayList<>();
        List<Double> spliceCpu = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            for (boolean splice : new boolean[] {false, true}) {
                double[] mbps = measure(bytes, splice);
                (splice ? spliceUp : plainUp).add(mbps[0]);
                (splice ? spliceDown : plainDown).add(mbps[1]);
                (splice ? spliceCpu : plainCpu).add(mbps[2]);
                System.out.printf(Locale.ROOT, "run %d %-6s client->backend %7.1f MiB/s  backend->client %7.1f MiB/s"
                        + "  proxy CPU %5.3f s/GiB%n", run + 1, splice ? "splice" : "plain", mbps[0], mbps[1], mbps[2]);
            }
        }
        System.out.printf(Locale.ROOT, "median plain  client->backend %7.1f MiB/s  backend->client %7.1f MiB/s"
                + "  proxy CPU %5.3f s/GiB%n", median(plainUp), median(plainDown), median(plainCpu));
        System.out.printf(Locale.ROOT, "median splice client->backend %7.1f MiB/s  backend->client %7.1f MiB/s"
                + "  proxy CPU %5.3f s/GiB%n", median(spliceUp), median(spliceDown), median(spliceCpu));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** CPU nanoseconds used so far by the threads whose name starts with {@code prefix}. */
    private static long cpuNanos(String prefix) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().startsWith(prefix)) {
                long t = threads.getThreadCpuTime(info.getThreadId());
                sum += Math.max(0, t);
            }
        }
        return sum;
    }

    /** Returns MiB/s client->backend, MiB/s backend->client, proxy CPU seconds per GiB relayed. */
    private static double[] measure(long bytes, boolean splice) throws Exception {
        TestBackend.Behaviour sinkThenSource = (socket, backend) -> {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            drain(in, bytes);
            out.write(1); // ack: all client bytes arrived
            out.flush();
            if (in.read() != 2) { // client says: start sending
                throw new java.io.IOException("protocol error");
            }
            fill(out, bytes);
            in.read(); // client's ack, then its close
        };
        try (TestBackend backend = TestBackend.start("bench", sinkThenSource);
             ProxyFixture proxy = ProxyFixture.spec("bench").backend(backend).transport(Transport.epoll())
                     .options(TcpProxyOptions.defaults().withSplice(splice)).start();
             Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.address().getPort()));
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            long cpu0 = cpuNanos("test-bench");
            long t0 = System.nanoTime();
            fill(out, bytes);
            if (in.read() != 1) {
                throw new IllegalStateException("no ack from backend");
            }
            long t1 = System.nanoTime();
            out.write(2);
            out.flush();
            drain(in, bytes);
            long t2 = System.nanoTime();
            long cpu = cpuNanos("test-bench") - cpu0;
            out.write(3);
            out.flush();
            double mib = bytes / (double) (1 << 20);
            double gib = 2.0 * bytes / (1L << 30);
            return new double[] {mib / ((t1 - t0) / 1e9), mib / ((t2 - t1) / 1e9), cpu / 1e9 / gib};
        }
    }

    private static void fill(OutputStream out, long bytes) throws java.io.IOException {
        byte[] buf = new byte[CHUNK];
        for (long done = 0; done < bytes; done += CHUNK) {
            out.write(buf, 0, (int) Math.min(CHUNK, bytes - done));
        }
        out.flush();
    }

    private static void drain(InputStream in, long bytes) throws java.io.IOException {
        byte[] buf = new byte[CHUNK];
        long left = bytes;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new java.io.EOFException(left + " bytes missing");
            }
            left -= n;
        }
    }
}
