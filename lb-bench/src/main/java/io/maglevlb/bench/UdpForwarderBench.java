package io.maglevlb.bench;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.linux.DatagramBatch;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.udp.UdpForwarder;
import io.maglevlb.dataplane.udp.UdpTuning;
import io.netty.channel.EventLoopGroup;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The UDP forwarder end to end, on loopback: a client datagram of {@link #payloadBytes} bytes goes to a real
 * {@link UdpForwarder} (the daemon's engine on epoll, one event loop), which forwards it to one of two backends;
 * an echo thread sends it back, and the forwarder relays the reply to the client from the VIP socket. One
 * operation is one such round trip (one datagram each way through the forwarder), over {@link #flows} client
 * sockets in turn, each a tracked flow.
 *
 * <p>Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is what the whole process allocates per round trip,
 * forwarder, client and echo together. The client and the echo here allocate nothing per datagram (plain system
 * calls through {@link LinuxNative}, buffers in native memory), so the figure is the forwarder's. The time per
 * operation is a loopback round trip through three threads, dominated by wake-ups, not a throughput figure.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class UdpForwarderBench {
    private static final int TABLE_SIZE = 65537;
    private static final int RECEIVE_TIMEOUT_MS = 1000;
    private static final int SOCKADDR_BYTES = 32;

    @Param({"1", "64"})
    public int flows;

    @Param({"64"})
    public int payloadBytes;

    // Client side: owned by this state, freed in tearDown. The benchmark thread only.
    private LinuxNative client;
    private MemorySegment payload;
    private MemorySegment reply;
    private int[] clientFds;
    private int next;
    /** Round trips whose reply did not come within the timeout (loopback should lose none). */
    private long lost;

    private EventLoopGroup group;
    private UdpForwarder forwarder;
    private Echo echo;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        echo = new Echo(2);
        List<BackendState> states = new ArrayList<>();
        List<BackendConfig> configs = new ArrayList<>();
        for (int i = 0; i < echo.fds.length; i++) {
            InetSocketAddress address = new InetSocketAddress(loopback, echo.ports[i]);
            states.add(new BackendState(i + 1, "echo-" + i, address, 1, false, true));
            configs.add(new BackendConfig("echo-" + i, address, 1));
        }
        SnapshotHolder snapshot = new SnapshotHolder(ForwardingSnapshot.build("udp-bench", 1, TABLE_SIZE, states));
        VipConfig vip = new VipConfig("udp-bench", new InetSocketAddress(loopback, 0), Protocol.UDP,
                ForwardingMode.PROXY, HashMode.FIVE_TUPLE, TABLE_SIZE, configs, HealthCheckConfig.defaults(), 0,
                VipConfig.DEFAULT_CONNECT_TIMEOUT, VipConfig.DEFAULT_CONNECT_RETRIES, Duration.ofMinutes(10),
                ProxyProtocol.NONE, Optional.empty());
        Transport transport = Transport.epoll();
        group = transport.newEventLoopGroup(1, "udp-bench");
        forwarder = UdpForwarder.start(vip, snapshot, group, transport, FlowTableConfig.defaults(),
                UdpTuning.defaults());
        echo.start();

        client = new LinuxNative();
        payload = client.allocate(payloadBytes);
        payload.fill((byte) 'x');
        reply = client.allocate(65536);
        MemorySegment vipAddress = client.allocate(SOCKADDR_BYTES);
        byte[] encoded = DatagramBatch.encode(forwarder.localAddress());
        MemorySegment.copy(encoded, 0, vipAddress, ValueLayout.JAVA_BYTE, 0, encoded.length);
        MemorySegment timeout = client.allocate(16); // struct timeval
        timeout.set(ValueLayout.JAVA_LONG, 0, RECEIVE_TIMEOUT_MS / 1000);
        timeout.set(ValueLayout.JAVA_LONG, 8, (RECEIVE_TIMEOUT_MS % 1000) * 1000L);
        clientFds = new int[flows];
        for (int i = 0; i < flows; i++) {
            int fd = client.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
            if (fd < 0 || client.connect(fd, vipAddress, encoded.length) != 0
                    || client.setsockopt(fd, LinuxNative.SOL_SOCKET, 20 /* SO_RCVTIMEO */, timeout, 16) != 0) {
                throw new IllegalStateException("client socket: " + LinuxNative.describe(client.errno()));
            }
            clientFds[i] = fd;
        }
    }

    /** One round trip: send on the next flow's socket, wait for the echo (blocking, with a timeout). */
    @Benchmark
    public long roundTrip() {
        int fd = clientFds[next];
        next = next + 1 == clientFds.length ? 0 : next + 1;
        client.sendto(fd, payload, payloadBytes, 0, MemorySegment.NULL, 0);
        long n = client.recv(fd, reply, reply.byteSize(), 0);
        if (n < 0) {
            lost++;
        }
        return n;
    }

    /**
     * Control: no datagram, only a pause about as long as a round trip here. What the process allocates meanwhile
     * (the benchmark harness, timers) is the floor that {@link #roundTrip}'s allocation is compared with: both
     * figures are a rate per second divided by operations per second, so a constant background rate shows as
     * a few tenths of a byte per operation in both.
     */
    @Benchmark
    public void idlePause() {
        LockSupport.parkNanos(50_000);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (lost > 0) {
            System.out.println("udp bench: " + lost + " round trips timed out");
        }
        for (int fd : clientFds) {
            client.closeFd(fd);
        }
        forwarder.close();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        echo.stop();
        client.close();
    }

    /**
     * The backends: UDP sockets on loopback served by one thread that sends every datagram back where it came
     * from (recvmmsg / sendmmsg in place, so it allocates nothing per datagram). Its native memory is owned by
     * the echo and freed when its thread ends.
     */
    private static final class Echo implements Runnable {
        private final LinuxNative sys = new LinuxNative();
        final int[] fds;
        final int[] ports;
        private final DatagramBatch batch = new DatagramBatch(sys, 16, 2048, true);
        private final MemorySegment pollFds;
        private final Thread thread = new Thread(this, "udp-bench-echo");
        private volatile boolean running = true;

        Echo(int sockets) throws Exception {
            fds = new int[sockets];
            ports = new int[sockets];
            pollFds = sys.allocate(8L * sockets); // struct pollfd { int fd; short events; short revents; }
            MemorySegment sockaddr = sys.allocate(SOCKADDR_BYTES);
            MemorySegment length = sys.allocate(4);
            byte[] any = DatagramBatch.encode(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            for (int i = 0; i < sockets; i++) {
                int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK
                        | LinuxNative.SOCK_CLOEXEC, 0);
                MemorySegment.copy(any, 0, sockaddr, ValueLayout.JAVA_BYTE, 0, any.length);
                length.set(ValueLayout.JAVA_INT, 0, SOCKADDR_BYTES);
                if (fd < 0 || sys.bind(fd, sockaddr, any.length) != 0
                        || sys.getsockname(fd, sockaddr, length) != 0) {
                    throw new IllegalStateException("echo socket: " + LinuxNative.describe(sys.errno()));
                }
                fds[i] = fd;
                ports[i] = DatagramBatch.decode(sockaddr).getPort();
                pollFds.set(ValueLayout.JAVA_INT, 8L * i, fd);
                pollFds.set(ValueLayout.JAVA_SHORT, 8L * i + 4, LinuxNative.POLLIN);
            }
        }

        void start() {
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void run() {
            try {
                while (running) {
                    if (sys.poll(pollFds, fds.length, 100) <= 0) {
                        continue;
                    }
                    for (int fd : fds) {
                        int n;
                        while ((n = batch.receive(sys, fd)) > 0) {
                            for (int i = 0; i < n; i++) {
                                batch.setPayloadLength(i, batch.length(i));
                            }
                            batch.send(sys, fd, 0, n);
                            for (int i = 0; i < n; i++) {
                                batch.setPayloadLength(i, batch.slotBytes());
                            }
                        }
                    }
                }
            } finally {
                for (int fd : fds) {
                    sys.closeFd(fd);
                }
                sys.close();
            }
        }

        void stop() throws InterruptedException {
            running = false;
            thread.join(5000);
        }
    }
}
