package io.maglevlb.dataplane.packet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * AF_XDP on one interface, shared by every DSR VIP of this process on it: one {@link XdpRedirect} program with its
 * XSKMAP and VIP map, one {@link AfXdpIo} socket per receive queue, and one forwarding thread per queue that hands
 * each received frame to the {@link DsrForwarder} of the VIP it belongs to. An interface carries one XDP program
 * and a queue binds one AF_XDP socket, so the VIPs cannot each have their own; each VIP keeps its own forwarders
 * (flow table, counters, snapshot, per queue), next-hop resolver and metrics.
 *
 * <p><b>Membership.</b> {@link #join} adds a VIP: the first one opens the port (program and maps, every socket
 * into the XSKMAP, then the attach, so the program never redirects into a half-built set of sockets; the threads
 * start with no VIP and the empty VIP map passes everything). Each VIP's forwarders go into the queue threads
 * before its keys go into the VIP map, and on {@link Member#leave} its keys leave the map before its forwarders
 * leave the threads: a redirected frame always finds its forwarder. Adding or removing a VIP (a reload) only
 * updates the VIP map; the program stays attached. The last VIP to leave detaches the program (the host gets
 * every packet back at once), stops the threads and closes the sockets; the kernel frees maps and program with
 * their last descriptor.
 *
 * <p><b>Dispatch.</b> A queue thread asks the VIPs' forwarders in the order they joined whether a frame is
 * theirs ({@link DsrForwarder#offer}): each one asked before the frame's own VIP parses the headers up to the
 * first field that differs (address, protocol or port; for IPv4 after checking the 20-byte header checksum), so
 * with a handful of VIPs per interface that is a few tens of nanoseconds per frame, and nothing with one. A map
 * from (address, protocol, port) to forwarder would replace the walk if interfaces with many VIPs need it. Frames no VIP can claim by
 * their headers (truncated, malformed) and fragments without ports of an address and protocol several VIPs share
 * go to the first VIP that matches so far (see docs/dsr.md).
 *
 * <p><b>Threading.</b> {@link #join} and {@link Member#leave} run on control threads and are serialised on the
 * class (the registry of open ports); the member list a queue thread reads is an array published with one
 * volatile store and read once per batch. Each socket is owned by its queue thread.
 */
final class AfXdpPort {
    private static final Logger log = LoggerFactory.getLogger(AfXdpPort.class);
    private static final long SIOCETHTOOL = 0x8946;
    private static final int ETHTOOL_GCHANNELS = 0x3c;
    private static final int POLL_TIMEOUT_MS = 100;
    private static final long KERNEL_DROPS_INTERVAL_NS = 100_000_000L;
    /** Open ports of this process by network namespace and interface index. Guarded by {@code AfXdpPort.class}. */
    private static final Map<String, AfXdpPort> OPEN = new HashMap<>();

    private final String key;
    private final InterfaceInfo iface;
    private final XdpRedirect redirect;
    private final List<AfXdpIo> sockets;
    private final List<QueueLoop> loops;
    private final List<Thread> threads;
    /** UMEM frames per socket. */
    private final int frames;
    /** VIPs on this port in the order they joined. Guarded by {@code AfXdpPort.class}. */
    private final Map<Member, Set<String>> members = new LinkedHashMap<>();

    private AfXdpPort(String key, InterfaceInfo iface, XdpRedirect redirect, List<AfXdpIo> sockets,
            List<QueueLoop> loops, List<Thread> threads, int frames) {
        this.key = key;
        this.frames = frames;
        this.iface = iface;
        this.redirect = redirect;
        this.sockets = sockets;
        this.loops = loops;
        this.threads = threads;
    }

    /**
     * One VIP on a port: its forwarders (index = queue) and its keys in the VIP map.
     */
    static final class Member {
        private final AfXdpPort port;
        private final String vipName;
        private final List<DsrForwarder> forwarders;
        private boolean left;

        private Member(AfXdpPort port, String vipName, List<DsrForwarder> forwarders) {
            this.port = port;
            this.vipName = vipName;
            this.forwarders = forwarders;
        }

        AfXdpPort port() {
            return port;
        }

        /** This VIP's forwarders; forwarder {@code q} runs on queue {@code q}'s thread. */
        List<DsrForwarder> forwarders() {
            return forwarders;
        }

        /**
         * Takes the VIP off the port: its keys out of the VIP map, its forwarders out of the queue threads (when
         * this returns no thread runs them any more); the last VIP closes the port. Idempotent; never throws.
         */
        void leave() {
            synchronized (AfXdpPort.class) {
                if (left) {
                    return;
                }
                left = true;
                port.remove(this);
            }
        }
    }

    /**
     * Puts {@code config}'s VIP on {@code iface}'s AF_XDP port, opening the port when it is the interface's first
     * VIP in this process, or fails with the reason and what to change; a port this call opened is closed again
     * on failure.
     *
     * @param forwarderFor makes the VIP's forwarder of one queue's socket
     */
    static Member join(DsrEngineConfig config, InterfaceInfo iface, Function<AfXdpIo, DsrForwarder> forwarderFor)
            throws PacketEngineException {
        synchronized (AfXdpPort.class) {
            String key = namespace() + "/" + iface.index();
            AfXdpPort port = OPEN.get(key);
            boolean opened = false;
            if (port == null) {
                port = open(config, iface, key);
                opened = true;
            } else if (port.sockets.size() != config.threads()) {
                throw queueMismatch(iface, port.sockets.size(), config);
            } else if (port.frames != config.xdpFrames()) {
                log.warn("vip {}: dsr.xdp_frames {} does not apply: the AF_XDP sockets of {} were opened with {} "
                        + "frames by the first VIP on the interface, and the interface's VIPs share them",
                        config.vipName(), config.xdpFrames(), iface.name(), port.frames);
            }
            try {
                Member member = port.add(config, forwarderFor);
                if (opened) {
                    OPEN.put(key, port);
                }
                return member;
            } catch (PacketEngineException | RuntimeException e) {
                if (opened) {
                    port.close();
                }
                throw e;
            }
        }
    }

    private static PacketEngineException queueMismatch(InterfaceInfo iface, int queues, DsrEngineConfig config) {
        return new PacketEngineException("interface " + iface.name() + " has " + queues + " receive queue(s) and vip "
                + config.vipName() + " has " + config.threads() + " forwarding thread(s): AF_XDP needs one thread "
                + "per queue. Set the VIP's DSR threads to " + queues + ", or the queues to " + config.threads()
                + " (ethtool -L " + iface.name() + " combined " + config.threads() + ")");
    }

    /** This thread's network namespace ("net:[4026531840]"): interface indexes are per namespace. */
    private static String namespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "";
        }
    }

    private static AfXdpPort open(DsrEngineConfig config, InterfaceInfo iface, String key)
            throws PacketEngineException {
        int queues;
        try (LinuxNative sys = new LinuxNative()) {
            queues = queueCount(sys, iface.name());
        }
        if (queues != config.threads()) {
            throw queueMismatch(iface, queues, config);
        }
        XdpRedirect redirect = XdpRedirect.create(queues);
        List<AfXdpIo> sockets = new ArrayList<>();
        try {
            redirect.claim(iface);
            for (int q = 0; q < queues; q++) {
                sockets.add(AfXdpIo.open(iface, q, redirect, config.xdpFrames()));
            }
            redirect.attach(iface, config.vipName());
        } catch (PacketEngineException | RuntimeException e) {
            redirect.close();
            sockets.forEach(AfXdpIo::close);
            throw e;
        }
        List<QueueLoop> loops = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int q = 0; q < queues; q++) {
            int cpu = config.cpus().isEmpty() ? -1 : config.cpus().get(q % config.cpus().size());
            QueueLoop loop = new QueueLoop(sockets.get(q), cpu);
            loops.add(loop);
            threads.add(Thread.ofPlatform().name("maglev-dsr-xdp-" + iface.name() + "-" + q).unstarted(loop));
        }
        threads.forEach(Thread::start);
        return new AfXdpPort(key, iface, redirect, List.copyOf(sockets), List.copyOf(loops), List.copyOf(threads),
                config.xdpFrames());
    }

    /** The VIP map keys of a VIP: its port entry and its address entry (fragments, see {@link XdpVipProgram}). */
    private static Set<String> keysOf(DsrEngineConfig config) {
        InetSocketAddress vip = config.vip();
        int protocol = config.protocol().ipProtocol();
        java.util.HexFormat hex = java.util.HexFormat.of();
        return Set.of(hex.formatHex(XdpVipProgram.key(vip.getAddress(), vip.getPort(), protocol)),
                hex.formatHex(XdpVipProgram.key(vip.getAddress(), 0, protocol)));
    }

    // Guarded by AfXdpPort.class (join, leave).
    private Member add(DsrEngineConfig config, Function<AfXdpIo, DsrForwarder> forwarderFor)
            throws PacketEngineException {
        String portKey = java.util.HexFormat.of().formatHex(
                XdpVipProgram.key(config.vip().getAddress(), config.vip().getPort(), config.protocol().ipProtocol()));
        for (Map.Entry<Member, Set<String>> m : members.entrySet()) {
            if (m.getValue().contains(portKey)) {
                throw new PacketEngineException("vip " + m.getKey().vipName + " already receives "
                        + config.protocol().configName() + " " + config.vip() + " on " + iface.name());
            }
        }
        List<DsrForwarder> forwarders = new ArrayList<>();
        for (AfXdpIo socket : sockets) {
            forwarders.add(forwarderFor.apply(socket));
        }
        Member member = new Member(this, config.vipName(), List.copyOf(forwarders));
        for (int q = 0; q < loops.size(); q++) {
            loops.get(q).add(forwarders.get(q));
        }
        members.put(member, keysOf(config));
        try {
            redirect.updateVips(allKeys());
        } catch (PacketEngineException e) {
            members.remove(member);
            for (int q = 0; q < loops.size(); q++) {
                loops.get(q).remove(forwarders.get(q));
            }
            throw e;
        }
        if (members.size() > 1) {
            log.info("vip {}: joins the AF_XDP sockets and XDP program {} on {} ({} VIPs there now); the VIP map "
                    + "was updated, the program stays", config.vipName(), redirect.programName(), iface.name(),
                    members.size());
        }
        return member;
    }

    private Set<byte[]> allKeys() {
        java.util.HexFormat hex = java.util.HexFormat.of();
        Set<String> all = new HashSet<>();
        members.values().forEach(all::addAll);
        Set<byte[]> keys = new HashSet<>();
        all.forEach(k -> keys.add(hex.parseHex(k)));
        return keys;
    }

    // Guarded by AfXdpPort.class.
    private void remove(Member member) {
        members.remove(member);
        if (members.isEmpty()) {
            member.forwarders.forEach(DsrForwarder::stop);
            OPEN.remove(key);
            close();
            return;
        }
        try {
            redirect.updateVips(allKeys());
        } catch (PacketEngineException e) {
            log.warn("vip {}: removing its keys from the XDP program's VIP map on {} failed ({}); its packets still "
                    + "reach the sockets and are counted not_vip", member.vipName, iface.name(), e.getMessage());
        }
        for (int q = 0; q < loops.size(); q++) {
            loops.get(q).remove(member.forwarders.get(q));
        }
        member.forwarders.forEach(DsrForwarder::stop);
        for (QueueLoop loop : loops) {
            loop.awaitRound();
        }
        log.info("vip {}: left the AF_XDP sockets on {} ({} VIP(s) remain); the VIP map was updated, the program "
                + "stays", member.vipName, iface.name(), members.size());
    }

    /** Detaches the program, stops the queue threads, then closes the sockets (only once those stopped). */
    private void close() {
        redirect.close(); // first: the host gets every packet back while the threads stop
        loops.forEach(QueueLoop::stop);
        boolean allStopped = true;
        for (Thread t : threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            allStopped &= !t.isAlive();
        }
        if (allStopped) {
            sockets.forEach(AfXdpIo::close);
        } else {
            log.error("AF_XDP on {}: a queue thread did not stop within 5 s; its socket stays open", iface.name());
        }
    }

    /**
     * Receive queues of {@code name} as ethtool reports them ({@code ETHTOOL_GCHANNELS}: the combined channels, or
     * the receive-only ones where a driver counts those); 1 when the driver does not say.
     */
    static int queueCount(LinuxNative sys, String name) throws PacketEngineException {
        int fd = sys.socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new PacketEngineException("socket for the ethtool query failed: " + LinuxNative.describe(sys.errno()));
        }
        try {
            MemorySegment channels = sys.allocate(36); // struct ethtool_channels
            channels.set(JAVA_INT, 0, ETHTOOL_GCHANNELS);
            MemorySegment ifreq = sys.allocate(LinuxNative.IFREQ_SIZE);
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(MemorySegment.ofArray(n), 0, ifreq, 0, Math.min(n.length, LinuxNative.IFNAMSIZ - 1));
            ifreq.set(ADDRESS, 16, channels);
            if (sys.ioctl(fd, SIOCETHTOOL, ifreq) < 0) {
                return 1;
            }
            int rx = channels.get(JAVA_INT, 20);
            int combined = channels.get(JAVA_INT, 32);
            return Math.max(1, Math.max(rx, combined));
        } finally {
            sys.closeFd(fd);
        }
    }

    List<AfXdpIo> sockets() {
        return sockets;
    }

    XdpRedirect.Mode mode() {
        return redirect.mode();
    }

    String programName() {
        return redirect.programName();
    }

    /** Whether the kernel gave every socket zero-copy. */
    boolean zeroCopy() {
        return sockets.stream().allMatch(AfXdpIo::zeroCopy);
    }

    /** Entries of the VIP map as the kernel has them (two per VIP; fewer when VIPs share an address). */
    int vipMapSize() {
        return redirect.vipMapSize();
    }

    /** VIPs on this port now. */
    int vipCount() {
        synchronized (AfXdpPort.class) {
            return members.size();
        }
    }

    /** Frames the kernel dropped on queue {@code queue} because its RX or fill ring was full (cumulative). */
    long ringFullDrops(int queue) {
        return loops.get(queue).ringFull;
    }

    /**
     * The thread of one queue: receives batches from the queue's socket and hands each frame to the VIP's
     * forwarder it belongs to.
     */
    private static final class QueueLoop implements Runnable, PacketIo.FrameSink {
        private static final DsrForwarder[] NONE = new DsrForwarder[0];
        private final AfXdpIo io;
        private final int cpu;
        /** The VIPs' forwarders of this queue; replaced (never changed in place) by control threads. */
        private volatile DsrForwarder[] members = NONE;
        private volatile boolean running = true;
        /** Loop rounds completed; control threads wait on it after removing a forwarder. */
        private volatile long rounds;
        /** The members read for the current batch (owner thread only). */
        private DsrForwarder[] batch = NONE;
        /** Kernel ring drops so far: written by the owner thread only, read racily by metrics. */
        private long ringFull;

        QueueLoop(AfXdpIo io, int cpu) {
            this.io = io;
            this.cpu = cpu;
        }

        // control threads, serialised by AfXdpPort.class
        void add(DsrForwarder f) {
            DsrForwarder[] old = members;
            DsrForwarder[] grown = java.util.Arrays.copyOf(old, old.length + 1);
            grown[old.length] = f;
            members = grown;
        }

        void remove(DsrForwarder f) {
            members = java.util.Arrays.stream(members).filter(m -> m != f).toArray(DsrForwarder[]::new);
        }

        void stop() {
            running = false;
        }

        /** Waits (at most 5 s) until this thread has begun a new round: then it no longer runs removed members. */
        void awaitRound() {
            long start = rounds;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (rounds - start < 2 && running && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        @Override
        public void onBatchStart() {
            DsrForwarder[] b = members;
            batch = b;
            for (DsrForwarder f : b) {
                f.onBatchStart();
            }
        }

        @Override
        public void onFrame(MemorySegment memory, long offset, int capturedLength, int wireLength, int flags) {
            DsrForwarder[] b = batch;
            for (DsrForwarder f : b) {
                if (f.offer(memory, offset, capturedLength, wireLength, flags)) {
                    return;
                }
            }
            if (b.length > 0) {
                b[0].countUnclaimed();
            }
        }

        @Override
        public void run() {
            DsrForwarder.pin(cpu);
            long lastDropsNs = System.nanoTime();
            try {
                while (running) {
                    io.receiveBatch(this, POLL_TIMEOUT_MS);
                    long now = System.nanoTime();
                    for (DsrForwarder f : members) {
                        f.betweenBatches(now);
                    }
                    if (now - lastDropsNs >= KERNEL_DROPS_INTERVAL_NS) {
                        lastDropsNs = now;
                        ringFull += io.takeKernelDrops();
                    }
                    rounds++; // only this thread writes it
                }
            } catch (RuntimeException | Error e) {
                for (DsrForwarder f : members) {
                    f.failed(e);
                }
                log.error("{}: AF_XDP queue thread failed; the flows of its queue are no longer forwarded",
                        Thread.currentThread().getName(), e);
                throw e;
            }
        }
    }
}
