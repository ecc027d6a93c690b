package io.maglevlb.dataplane.udp;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.FlowTableConfig;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.conntrack.EvictionReason;
import io.maglevlb.core.conntrack.FlowRecords;
import io.maglevlb.core.conntrack.FlowStateCodec;
import io.maglevlb.core.conntrack.FlowStateException;
import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.conntrack.FlowTableStats;
import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.DescriptorReserve;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.TrackedFlows;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.UnixSocket;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards one {@code protocol: udp}, {@code mode: proxy} VIP: one SO_REUSEPORT socket per event loop bound
 * to the VIP address, per-flow sessions tracked by each loop's {@link FlowTable}, replies sent to clients
 * from the VIP socket. The behaviour operators see is described in docs/udp.md.
 *
 * <p>Threading: {@link #start} and {@link #close} block and must not run on one of the group's event loops;
 * {@link #stats()} may run on any thread. All forwarding state is owned by the loops (see {@link UdpFlowLoop}).
 */
public final class UdpForwarder implements VipForwarder, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(UdpForwarder.class);
    private static final long BIND_TIMEOUT_MS = 10_000;
    private static final long CLOSE_TIMEOUT_MS = 10_000;

    private final VipConfig vip;
    private final SnapshotHolder snapshots;
    private final EventLoopGroup workers;
    private final Transport transport;
    private final FlowTableConfig flowTableConfig;
    private final UdpTuning tuning;
    private final Duration idleTimeout;
    private final List<UdpLoop> loops = new CopyOnWriteArrayList<>();
    /** The VIP sockets this forwarder owns (closes): Netty channels (NIO) or native sockets (epoll). */
    private final List<DatagramChannel> vipChannels = new CopyOnWriteArrayList<>();
    private final List<NativeVipSocket> vipSockets = new CopyOnWriteArrayList<>();
    /**
     * Takeover: sockets adopted (or bound) by {@link #startFromHandover}, not read until {@link #serveHandedOver};
     * socket {@code i} goes to loop {@code i}. Emptied when they are attached (or closed with the forwarder).
     */
    private final List<NativeVipSocket> heldSockets = new CopyOnWriteArrayList<>();
    private volatile InetSocketAddress localAddress;
    private boolean started;
    private LongSupplier descriptorCeiling = DescriptorReserve::udpSessionCeiling;

    /**
     * @param vip a {@code udp}/{@code proxy} VIP
     * @param snapshots where the control plane publishes the VIP's tables (read once per read batch)
     * @param workers the forwarding event loops (shared with the other VIPs): one VIP socket each
     * @param transport the transport {@code workers} was built with
     * @param flowTableConfig per-loop flow table size and flood threshold
     * @param tuning batching and socket buffer settings ({@link UdpTuning#defaults()} in the daemon)
     */
    public UdpForwarder(VipConfig vip, SnapshotHolder snapshots, EventLoopGroup workers, Transport transport,
            FlowTableConfig flowTableConfig, UdpTuning tuning) {
        this.vip = Objects.requireNonNull(vip, "vip");
        if (vip.protocol() != Protocol.UDP || vip.mode() != ForwardingMode.PROXY) {
            throw new IllegalArgumentException("vip " + vip.name() + ": the UDP forwarder serves protocol udp, mode "
                    + "proxy; this VIP is " + vip.protocol().configName() + "/" + vip.mode().configName());
        }
        this.snapshots = Objects.requireNonNull(snapshots, "snapshots");
        this.workers = Objects.requireNonNull(workers, "workers");
        this.transport = Objects.requireNonNull(transport, "transport");
        this.flowTableConfig = Objects.requireNonNull(flowTableConfig, "flowTableConfig");
        this.tuning = Objects.requireNonNull(tuning, "tuning");
        Duration idle = vip.idleTimeout();
        this.idleTimeout = idle == null || idle.isZero() || idle.isNegative() ? VipConfig.DEFAULT_UDP_IDLE_TIMEOUT
                : idle;
        this.localAddress = vip.listen();
    }

    /** Constructs and {@linkplain #start() starts} a forwarder. */
    public static UdpForwarder start(VipConfig vip, SnapshotHolder snapshots, EventLoopGroup workers,
            Transport transport, FlowTableConfig flowTableConfig, UdpTuning tuning) throws VipBindException {
        UdpForwarder f = new UdpForwarder(vip, snapshots, workers, transport, flowTableConfig, tuning);
        f.start();
        return f;
    }

    /**
     * Binds one socket per event loop to the VIP address (SO_REUSEPORT) and starts forwarding. A listen port
     * of 0 picks a free port for the first socket; the others join it. Without epoll, and where the JDK cannot
     * set SO_REUSEPORT, one socket on the first loop serves every flow.
     *
     * @throws VipBindException when a socket cannot be bound (nothing stays open then)
     */
    @Override
    public synchronized void start() throws VipBindException {
        if (started) {
            throw new IllegalStateException("vip " + vip.name() + ": udp forwarder already started");
        }
        started = true;
        List<EventLoop> eventLoops = new ArrayList<>();
        for (EventExecutor e : workers) {
            eventLoops.add((EventLoop) e);
        }
        if (eventLoops.isEmpty()) {
            throw new IllegalArgumentException("event loop group has no loops");
        }
        boolean epoll = transport.isEpoll();
        if (!epoll && !UdpChannels.jdkSupportsReusePort()) {
            eventLoops = List.of(eventLoops.get(0));
        }
        int loopCount = eventLoops.size();
        if (vip.listen().getAddress().isAnyLocalAddress()) {
            log.warn("vip {}: udp on a wildcard address ({}): replies leave from the address the kernel routes "
                    + "from, which may differ from the address a client sent to; bind the VIP address", vip.name(),
                    ConfigValues.formatSocketAddress(vip.listen()));
        }
        SocketProtocolFamily family = UdpChannels.familyOf(vip.listen().getAddress());
        probeExclusive();
        InetSocketAddress bindTo = vip.listen();
        try {
            for (int i = 0; i < loopCount; i++) {
                EventLoop loop = eventLoops.get(i);
                if (epoll) {
                    bindTo = startNative(loop, loopCount, bindTo);
                    continue;
                }
                UdpVipLoop vipLoop = newLoop(loop, loopCount);
                DatagramChannel ch = UdpChannels.newVipChannel(family, tuning);
                ch.pipeline().addLast(vipLoop.vipHandler());
                vipChannels.add(ch);
                loops.add(vipLoop);
                await(loop.register(ch), bindTo);
                await(ch.bind(bindTo), bindTo);
                bindTo = ch.localAddress(); // later sockets join the same port
            }
        } catch (VipBindException | RuntimeException e) {
            closeConnections();
            throw e;
        }
        this.localAddress = bindTo;
    }

    /** Binds one native VIP socket for {@code loop} and starts its loop; returns the bound address. */
    private InetSocketAddress startNative(EventLoop loop, int loopCount, InetSocketAddress bindTo)
            throws VipBindException {
        NativeVipSocket socket;
        try {
            socket = NativeVipSocket.open(bindTo, tuning);
        } catch (IOException e) {
            throw new VipBindException(vip.name(), bindTo, e);
        }
        return attachNative(loop, loopCount, socket, bindTo);
    }

    /** Starts a native loop for {@code loop} reading {@code socket} (bound, not registered); returns its address. */
    private InetSocketAddress attachNative(EventLoop loop, int loopCount, NativeVipSocket socket,
            InetSocketAddress bindTo) throws VipBindException {
        NativeUdpVipLoop vipLoop;
        try {
            vipLoop = newNativeLoop(loop, loopCount);
        } catch (RuntimeException e) {
            socket.close(); // not registered yet: closes the descriptor only
            throw e;
        }
        vipSockets.add(socket);
        loops.add(vipLoop);
        await(loop.submit(() -> {
            vipLoop.attach(socket);
            return null;
        }), bindTo);
        return socket.localAddress; // later sockets join the same port
    }

    // max_connections is the VIP's flow limit; each loop tracks its own flows, so each gets an even share
    // (the kernel spreads flows evenly over the sockets by hash).
    private int perLoopLimit(int loopCount) {
        return vip.maxConnections() > 0
                ? Math.max(1, (vip.maxConnections() + loopCount - 1) / loopCount) : Integer.MAX_VALUE;
    }

    private int loopTableCapacity(int loopCount) {
        return Math.min(flowTableConfig.capacity(), perLoopLimit(loopCount));
    }

    private UdpVipLoop newLoop(EventLoop loop, int loopCount) {
        int perLoopLimit = perLoopLimit(loopCount);
        int capacity = loopTableCapacity(loopCount);
        return new UdpVipLoop(vip.name(), loop, snapshots, vip.hash(), capacity, perLoopLimit,
                idleTimeout.toNanos(), flowTableConfig.floodThreshold(), tuning, descriptorCeiling);
    }

    /**
     * Where the loops read the fd number at which a session socket eats into the process's descriptor reserve
     * ({@link DescriptorReserve#udpSessionCeiling()} unless set). Before {@link #start()}; tests set a low one.
     */
    synchronized UdpForwarder descriptorCeiling(LongSupplier ceiling) {
        if (started) {
            throw new IllegalStateException("vip " + vip.name() + ": set the descriptor ceiling before start()");
        }
        this.descriptorCeiling = Objects.requireNonNull(ceiling, "ceiling");
        return this;
    }

    private NativeUdpVipLoop newNativeLoop(EventLoop loop, int loopCount) {
        int perLoopLimit = perLoopLimit(loopCount);
        int capacity = loopTableCapacity(loopCount);
        return new NativeUdpVipLoop(vip.name(), loop, snapshots, vip.hash(), capacity, perLoopLimit,
                idleTimeout.toNanos(), flowTableConfig.floodThreshold(), tuning, descriptorCeiling);
    }

    /**
     * Starts by taking over the VIP sockets of {@code predecessor}, this VIP's forwarder on the same address with
     * other settings, instead of binding new ones (they could not be bound beside it, and closing it first would
     * drop what arrives meanwhile).
     *
     * <p>When the flows can stay where they are (same hash mode and per-loop table size: a reload of
     * {@code idle_timeout}, or of a {@code max_connections} that does not size the table), this forwarder takes
     * the predecessor's loops as they are, with their sockets, flow tables, sessions and counters, and applies its
     * idle timeout and flow limit to them on their threads: tracked flows keep their sessions (the backend sees
     * the same source port) and the predecessor is left with nothing, so retiring it keeps no memory. Before,
     * every such reload kept the predecessor's flow tables (5.5 MB per loop by default) and sessions until its
     * flows went idle, so reloads faster than the idle timeout piled them up.
     *
     * <p>Otherwise (the flow key or the table size changes) on each loop this forwarder's handler replaces the
     * predecessor's between two read batches: every datagram from then on is this forwarder's, with its
     * settings. A flow the predecessor tracked becomes a new flow here at its next datagram (same backend while
     * the table is the same, from a new source port); the predecessor's sessions still send their backends'
     * replies through the sockets until they go idle, and it no longer takes new flows: retire it.
     *
     * @return false, with nothing changed, when {@code predecessor} is not a started UDP forwarder on the same
     *     address and event loops
     */
    @Override
    public synchronized boolean startInPlaceOf(VipForwarder predecessor) {
        if (started || !(predecessor instanceof UdpForwarder old) || old.workers != workers
                || old.transport != transport || !old.localAddress.equals(vip.listen()) || old.loops.isEmpty()
                || old.sockets() != old.loops.size()) {
            return false;
        }
        started = true;
        int loopCount = old.loops.size();
        if (adoptLoops(old, loopCount)) {
            this.localAddress = old.localAddress;
            return true;
        }
        for (int i = 0; i < loopCount; i++) {
            UdpLoop previous = old.loops.get(i);
            EventLoop loop = previous.eventLoop();
            Future<?> done;
            if (previous instanceof NativeUdpVipLoop previousNative) {
                NativeUdpVipLoop next = newNativeLoop(loop, loopCount);
                done = loop.submit(() -> next.takeOver(previousNative));
                loops.add(next);
                vipSockets.add(previousNative.vipSocket());
            } else {
                UdpVipLoop previousNetty = (UdpVipLoop) previous;
                UdpVipLoop next = newLoop(loop, loopCount);
                done = loop.submit(() -> next.takeOver(previousNetty));
                loops.add(next);
                vipChannels.add(previousNetty.vipChannel());
            }
            done.awaitUninterruptibly(BIND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            if (!done.isSuccess()) {
                throw new IllegalStateException("vip " + vip.name() + ": could not take over a udp socket",
                        done.cause());
            }
        }
        old.vipChannels.clear(); // the predecessor no longer owns them
        old.vipSockets.clear();
        this.localAddress = old.localAddress;
        return true;
    }

    /** Takeover, old process: the native VIP sockets, in loop order (none with NIO: the successor binds its own). */
    @Override
    public synchronized List<HandoverSection> handOverSections() {
        if (vipSockets.isEmpty() || !vipChannels.isEmpty()) {
            return List.of();
        }
        int[] fds = vipSockets.stream().mapToInt(s -> s.fd).toArray();
        for (int fd : fds) {
            if (fd < 0) {
                return List.of(); // closing
            }
        }
        List<HandoverSection> sections = new ArrayList<>();
        sections.add(HandoverSection.ofFds(HandoverSection.UDP_VIP_SOCKETS, fds));
        try {
            sections.add(new HandoverSection(HandoverSection.UDP_FLOWS, FlowStateCodec.VERSION, exportFlowState(),
                    new int[0]));
        } catch (RuntimeException e) {
            log.warn("vip {}: udp flows not handed over ({}): the successor places them by the table", vip.name(),
                    e.toString());
        }
        return sections;
    }

    /**
     * Takeover, new process: reads the VIP sockets of a predecessor process (its
     * {@link HandoverSection#UDP_VIP_SOCKETS}) instead of binding, one per loop, each checked first (a UDP socket
     * on this VIP's address). With more loops than sockets the others bind their own (joining the SO_REUSEPORT
     * group); sockets beyond the loops are closed here (the predecessor reads them until it lets go; then they
     * leave the group and the kernel spreads their flows over the others).
     *
     * @return false when there is no such section or the transport is not epoll
     */
    @Override
    public synchronized boolean startFromHandover(List<HandoverSection> sections) throws VipBindException {
        HandoverSection handed = sections.stream().filter(s -> s.type() == HandoverSection.UDP_VIP_SOCKETS)
                .findFirst().orElse(null);
        if (started || handed == null || handed.fds().length == 0 || !transport.isEpoll()) {
            return false;
        }
        InetSocketAddress address = vip.listen();
        for (int fd : handed.fds()) {
            String why = UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_DGRAM, false, address);
            if (why != null) {
                throw new VipBindException(vip.name(), address, new IOException("handed-over socket: " + why));
            }
        }
        started = true;
        List<EventLoop> eventLoops = new ArrayList<>();
        for (EventExecutor e : workers) {
            eventLoops.add((EventLoop) e);
        }
        int loopCount = eventLoops.size();
        int[] fds = handed.fds().clone();
        FlowStateCodec.Decoded flows = handedOverFlows(sections, fds.length, loopCount);
        InetSocketAddress bindTo = address;
        try {
            for (int i = 0; i < loopCount; i++) {
                NativeVipSocket socket;
                try {
                    if (i < fds.length) {
                        socket = NativeVipSocket.adopt(fds[i]);
                        fds[i] = -1; // owned by the socket now
                    } else {
                        socket = NativeVipSocket.open(bindTo, tuning);
                    }
                } catch (IOException e) {
                    throw new VipBindException(vip.name(), bindTo, e);
                }
                heldSockets.add(socket);
                bindTo = socket.localAddress;
                loops.add(newNativeLoop(eventLoops.get(i), loopCount));
            }
        } catch (VipBindException | RuntimeException e) {
            for (int fd : fds) {
                UnixSocket.closeQuietly(fd);
            }
            closeConnections();
            throw e;
        }
        for (int i = loopCount; i < fds.length; i++) {
            UnixSocket.closeQuietly(fds[i]);
        }
        this.localAddress = bindTo;
        if (flows != null) {
            importHandedOverFlows(flows);
        }
        return true;
    }

    /**
     * Puts the flows of each handed-over socket into the table of the loop that will read it, on that loop, before
     * {@link #serveHandedOver} attaches the socket: no datagram is placed before its flow is tracked.
     */
    private void importHandedOverFlows(FlowStateCodec.Decoded flows) {
        int[] backendMap = flows.backendMap(snapshots.current());
        List<Future<Integer>> parts = new ArrayList<>();
        for (int i = 0; i < flows.groups().size(); i++) {
            UdpLoop l = loops.get(i);
            FlowRecords group = flows.groups().get(i);
            parts.add(l.eventLoop().submit(() -> l.importFlows(group, backendMap, System.nanoTime())));
        }
        int imported = 0;
        for (Future<Integer> part : parts) {
            if (part.awaitUninterruptibly(BIND_TIMEOUT_MS, TimeUnit.MILLISECONDS) && part.isSuccess()) {
                imported += part.getNow();
            } else {
                log.warn("vip {}: a loop did not take its handed-over udp flows: {}", vip.name(), part.cause());
            }
        }
        log.info("vip {}: took over {} of the previous process's {} udp flows (the rest were on backends this "
                + "process does not have, or did not fit)", vip.name(), imported, flows.flows());
    }

    /** Takeover: every loop starts reading the socket {@link #startFromHandover} gave it. */
    @Override
    public synchronized void serveHandedOver() {
        for (int i = 0; i < heldSockets.size() && i < loops.size(); i++) {
            NativeVipSocket socket = heldSockets.get(i);
            NativeUdpVipLoop loop = (NativeUdpVipLoop) loops.get(i);
            Future<?> done = loop.eventLoop().submit(() -> {
                loop.attach(socket);
                return null;
            });
            done.awaitUninterruptibly(BIND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            if (!done.isSuccess()) {
                throw new IllegalStateException("vip " + vip.name() + ": could not start reading a handed-over "
                        + "udp socket", done.cause());
            }
            vipSockets.add(socket);
        }
        heldSockets.clear();
    }

    /**
     * The {@link HandoverSection#UDP_FLOWS} of a takeover, when there is one this process can use: readable, and one
     * group per handed-over socket, each of which gets a loop here. Else null (logged): the flows are then placed
     * by the table, which is what an unreadable optional section means.
     */
    private FlowStateCodec.Decoded handedOverFlows(List<HandoverSection> sections, int sockets, int loopCount) {
        HandoverSection section = sections.stream().filter(s -> s.type() == HandoverSection.UDP_FLOWS).findFirst()
                .orElse(null);
        if (section == null || snapshots.current() == null) {
            return null;
        }
        if (section.version() != FlowStateCodec.VERSION) {
            log.warn("vip {}: udp flows handed over in version {} (this maglevd reads {}): placed by the table",
                    vip.name(), section.version(), FlowStateCodec.VERSION);
            return null;
        }
        FlowStateCodec.Decoded decoded;
        try {
            decoded = FlowStateCodec.decode(section.data(), loopTableCapacity(loopCount) * Math.max(sockets, 1));
        } catch (FlowStateException e) {
            log.warn("vip {}: cannot read the udp flows handed over ({}): placed by the table", vip.name(),
                    e.getMessage());
            return null;
        }
        if (decoded.groups().size() != sockets || sockets > loopCount) {
            log.warn("vip {}: udp flows of {} sockets handed over with {} sockets to {} loops: placed by the table",
                    vip.name(), decoded.groups().size(), sockets, loopCount);
            return null;
        }
        return decoded;
    }

    /**
     * Takeover, old process: every loop stops reading its VIP socket (the successor reads it now) and takes no new
     * flows; tracked flows' replies still leave through the sockets until the flows go idle.
     */
    @Override
    public void releaseAfterHandover() {
        List<Future<?>> pending = new ArrayList<>();
        for (UdpLoop l : loops) {
            if (!l.eventLoop().isShuttingDown()) {
                Runnable release = l instanceof NativeUdpVipLoop n ? n::releaseVipSocket : l::stopAccepting;
                pending.add(l.eventLoop().submit(release));
            }
        }
        for (Future<?> f : pending) {
            f.awaitUninterruptibly(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    /** Takes {@code old}'s loops as they are, with this forwarder's settings; false when the flows cannot stay. */
    private boolean adoptLoops(UdpForwarder old, int loopCount) {
        int capacity = loopTableCapacity(loopCount);
        for (UdpLoop l : old.loops) {
            if (!l.canReconfigure(vip.hash(), capacity)) {
                return false;
            }
        }
        long idleNs = idleTimeout.toNanos();
        int perLoopLimit = perLoopLimit(loopCount);
        for (UdpLoop l : old.loops) {
            Future<?> done = l.eventLoop().submit(() -> l.reconfigure(idleNs, perLoopLimit));
            done.awaitUninterruptibly(BIND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            if (!done.isSuccess()) {
                throw new IllegalStateException("vip " + vip.name() + ": could not apply the new udp settings",
                        done.cause());
            }
        }
        loops.addAll(old.loops);
        vipChannels.addAll(old.vipChannels);
        vipSockets.addAll(old.vipSockets);
        old.loops.clear(); // the predecessor owns nothing now: retiring it keeps no flows and no memory
        old.vipChannels.clear();
        old.vipSockets.clear();
        return true;
    }

    /**
     * With SO_REUSEPORT the kernel lets any socket of the same user that also sets it share the port, so a
     * second maglevd (or any other program) on the VIP would bind without error and receive a share of the
     * flows. Binding the address once without SO_REUSEPORT first turns that into "Address already in use".
     */
    private void probeExclusive() throws VipBindException {
        if (vip.listen().getPort() == 0) {
            return;
        }
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket(null)) {
            probe.setReuseAddress(false);
            probe.bind(vip.listen());
        } catch (IOException e) {
            throw new VipBindException(vip.name(), vip.listen(), e);
        }
    }

    private void await(Future<?> future, InetSocketAddress address) throws VipBindException {
        boolean done;
        try {
            done = future.await(BIND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VipBindException(vip.name(), address, e);
        }
        if (!done) {
            throw new VipBindException(vip.name(), address,
                    new IOException("udp socket not bound after " + BIND_TIMEOUT_MS + " ms"));
        }
        if (!future.isSuccess()) {
            Throwable cause = future.cause();
            throw new VipBindException(vip.name(), address, cause == null ? new IOException("unknown error") : cause);
        }
    }

    @Override
    public String name() {
        return vip.name();
    }

    @Override
    public String describe() {
        List<BackendConfig> backends = vip.backends();
        StringBuilder sb = new StringBuilder("udp proxy on ").append(ConfigValues.formatSocketAddress(localAddress))
                .append(" -> ").append(backends.size()).append(backends.size() == 1 ? " backend [" : " backends [");
        for (int i = 0; i < backends.size(); i++) {
            BackendConfig b = backends.get(i);
            sb.append(i == 0 ? "" : ", ").append(b.name()).append(' ')
                    .append(ConfigValues.formatSocketAddress(b.address())).append(" w").append(b.weight());
        }
        int sockets = sockets();
        sb.append("], ").append(transport.name()).append(" with ").append(sockets)
                .append(sockets == 1 ? " socket" : " SO_REUSEPORT sockets").append(", hash ")
                .append(vip.hash().configName()).append(", idle_timeout ")
                .append(ConfigValues.formatDuration(idleTimeout)).append(", flow table ")
                .append(loops.isEmpty() ? 0 : loops.get(0).flowTable().capacity()).append(" per loop");
        if (vip.maxConnections() > 0) {
            sb.append(", max_connections ").append(vip.maxConnections());
        }
        return sb.toString();
    }

    /** The address the VIP sockets are bound to (with the real port when the configured one was 0). */
    @Override
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    public VipConfig config() {
        return vip;
    }

    /** Idle timeout in force (the VIP's, or {@link VipConfig#DEFAULT_UDP_IDLE_TIMEOUT} when it set none). */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /** Number of VIP sockets, one per event loop. */
    public int sockets() {
        return vipChannels.size() + vipSockets.size();
    }

    /**
     * The loops' flow tables, for their statistics getters only (racy reads are allowed, see
     * {@link FlowTable}); never call anything else on them from another thread.
     */
    public List<FlowTable> flowTables() {
        List<FlowTable> tables = new ArrayList<>(loops.size());
        for (UdpLoop l : loops) {
            tables.add(l.flowTable());
        }
        return tables;
    }

    /**
     * ICMP errors (port or host unreachable) the kernel reported on this VIP's sockets toward backend
     * {@code backendId}, summed over the loops ({@link UdpBackendStats#unreachable()} without the rest of
     * {@link #stats()}). Racy reads (see {@link UdpLoopCounters}); restarts from zero when the id is given to
     * another backend. Allocates nothing: the control plane samples it a few times a second as a passive
     * health signal. The dataplane only counts; what a rising count means is the control plane's decision.
     */
    @Override
    public long backendUnreachable(int backendId) {
        long sum = 0;
        for (int i = 0; i < loops.size(); i++) { // indexed: no iterator
            UdpLoopCounters.PerBackend[] backends = loops.get(i).counters().backends;
            if (backendId >= 0 && backendId < backends.length) {
                UdpLoopCounters.PerBackend b = backends[backendId];
                if (b != null) {
                    sum += b.unreachable;
                }
            }
        }
        return sum;
    }

    /**
     * Sums every loop's counters (racy reads: see {@link UdpLoopCounters}) and reads the kernel's receive
     * drops of the VIP sockets, and sums the loops' flow tables. For metrics scrapes and tests; allocates, so not
     * for the forwarding path.
     */
    @Override
    public UdpVipStats stats() {
        long fromClients = 0;
        long fromClientsBytes = 0;
        long toBackends = 0;
        long toBackendsBytes = 0;
        long fromBackends = 0;
        long fromBackendsBytes = 0;
        long toClients = 0;
        long toClientsBytes = 0;
        long active = 0;
        long created = 0;
        long moved = 0;
        long stateless = 0;
        long unreachable = 0;
        long openFailures = 0;
        long vipErrors = 0;
        long[] evicted = new long[EvictionReason.values().length];
        long[] dropped = new long[UdpDropReason.values().length];
        List<long[]> perBackend = new ArrayList<>(); // index = backend id; 7 counters each
        for (UdpLoop l : loops) {
            UdpLoopCounters c = l.counters();
            fromClients += c.datagramsFromClients;
            fromClientsBytes += c.bytesFromClients;
            toBackends += c.datagramsToBackends;
            toBackendsBytes += c.bytesToBackends;
            fromBackends += c.datagramsFromBackends;
            fromBackendsBytes += c.bytesFromBackends;
            toClients += c.datagramsToClients;
            toClientsBytes += c.bytesToClients;
            active += l.flowsActive();
            created += c.flowsCreated;
            moved += c.flowsMoved;
            stateless += c.statelessDatagrams;
            unreachable += c.backendUnreachable;
            openFailures += c.sessionOpenFailures;
            vipErrors += c.vipSocketErrors;
            for (int i = 0; i < evicted.length; i++) {
                evicted[i] += c.flowsEvicted[i];
            }
            for (int i = 0; i < dropped.length; i++) {
                dropped[i] += c.dropped[i];
            }
            UdpLoopCounters.PerBackend[] backends = c.backends;
            for (int id = 0; id < backends.length; id++) {
                UdpLoopCounters.PerBackend b = backends[id];
                if (b == null) {
                    continue;
                }
                while (perBackend.size() <= id) {
                    perBackend.add(null);
                }
                long[] sum = perBackend.get(id);
                if (sum == null) {
                    sum = new long[7];
                    perBackend.set(id, sum);
                }
                sum[0] += b.datagramsToBackend;
                sum[1] += b.bytesToBackend;
                sum[2] += b.datagramsFromBackend;
                sum[3] += b.bytesFromBackend;
                sum[4] += b.flowsCreated;
                sum[5] += b.flowsActive;
                sum[6] += b.unreachable;
            }
        }
        Map<EvictionReason, Long> evictedByReason = new EnumMap<>(EvictionReason.class);
        for (EvictionReason r : EvictionReason.values()) {
            evictedByReason.put(r, evicted[r.ordinal()]);
        }
        Map<UdpDropReason, Long> droppedByReason = new EnumMap<>(UdpDropReason.class);
        for (UdpDropReason r : UdpDropReason.values()) {
            droppedByReason.put(r, dropped[r.ordinal()]);
        }
        ForwardingSnapshot snapshot = snapshots.current();
        List<UdpBackendStats> backendStats = new ArrayList<>();
        for (int id = 1; id < perBackend.size(); id++) {
            long[] s = perBackend.get(id);
            if (s == null) {
                continue;
            }
            BackendState state = snapshot == null ? null : snapshot.backend(id);
            backendStats.add(new UdpBackendStats(id, state == null ? null : state.name(), s[0], s[1], s[2], s[3],
                    s[4], s[5], s[6]));
        }
        // The NIO engine's sockets show no descriptor to ask: unknown (-1) there.
        long kernelDrops = vipSockets.isEmpty() ? -1 : KernelUdpDrops.dropsOf(vipSockets);
        return new UdpVipStats(vip.name(), fromClients, fromClientsBytes, toBackends, toBackendsBytes,
                fromBackends, fromBackendsBytes, toClients, toClientsBytes, active, created, moved,
                evictedByReason, stateless, droppedByReason, unreachable, openFailures, vipErrors, kernelDrops,
                backendStats, FlowTableStats.sum(flowTables()));
    }

    /**
     * Stops taking new flows; tracked flows go on (through the same VIP sockets, which stay open) until they
     * go idle or {@link #close()}. Waits until every loop has switched.
     */
    @Override
    public void stopAccepting() {
        List<Future<?>> pending = new ArrayList<>();
        for (UdpLoop l : loops) {
            if (!l.eventLoop().isShuttingDown()) {
                pending.add(l.eventLoop().submit(l::stopAccepting));
            }
        }
        for (Future<?> f : pending) {
            f.awaitUninterruptibly(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Like {@link #stopAccepting()}, but each loop first forwards what its VIP socket holds (epoll): datagrams the
     * kernel queued before the VIP moved, new flows included, are forwarded instead of dropped. The sockets stay
     * open for the tracked flows, as with {@link #stopAccepting()}. Waits until every loop has switched.
     */
    @Override
    public void drainListeners() {
        List<Future<?>> pending = new ArrayList<>();
        for (UdpLoop l : loops) {
            if (!l.eventLoop().isShuttingDown()) {
                pending.add(l.eventLoop().submit(l::stopAcceptingAfterQueue));
            }
        }
        for (Future<?> f : pending) {
            f.awaitUninterruptibly(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    // ------------------------------------------------------------------ takeover: flows to the next process

    /**
     * The flows every loop tracks, as {@link FlowStateCodec} bytes with one group per loop in the order of the VIP
     * sockets ({@link #sockets()}): what a takeover hands to the next process, so that a flow whose backend is not
     * the one the table now gives it (the table changed since the flow began) keeps its backend there. Each loop
     * exports on its own thread between two read batches. Call it once this forwarder no longer reads the VIP
     * sockets (or just before), so that no flow it places afterwards is missed. Blocks; never on a loop.
     *
     * @throws IllegalStateException when a loop does not answer within {@link TrackedFlows#ANSWER_TIMEOUT_MS}
     */
    public byte[] exportFlowState() {
        List<Future<FlowRecords>> parts = new ArrayList<>(loops.size());
        for (UdpLoop l : loops) {
            parts.add(l.eventLoop().submit(() -> l.exportFlows(System.nanoTime())));
        }
        List<FlowRecords> groups = new ArrayList<>(parts.size());
        for (Future<FlowRecords> part : parts) {
            if (!part.awaitUninterruptibly(TrackedFlows.ANSWER_TIMEOUT_MS, TimeUnit.MILLISECONDS) || !part.isSuccess()) {
                throw new IllegalStateException("vip " + vip.name() + ": a loop did not export its udp flows",
                        part.cause());
            }
            groups.add(part.getNow());
        }
        byte[] state = FlowStateCodec.encode(groups, snapshots.current());
        log.info("vip {}: exported udp flows of {} loops for the next process ({} bytes)", vip.name(), groups.size(),
                state.length);
        return state;
    }

    /**
     * Tracks the flows of {@code state} ({@link #exportFlowState()} of this VIP's forwarder in the previous process)
     * on this forwarder's loops, group {@code i} on the loop of VIP socket {@code i}: the kernel steers a flow to the
     * same socket as before, since the sockets themselves were handed over. A flow keeps its backend when this
     * process has a backend with the same name and address (health decides per datagram, as for any tracked flow);
     * the others are placed by the table at their next datagram. Call it after {@link #start}ing on the handed-over
     * sockets and publishing the first snapshot, before clients' datagrams are read; flows tracked already stay.
     *
     * @return flows tracked
     * @throws FlowStateException when {@code state} cannot be read (nothing is imported then)
     */
    public int importFlowState(byte[] state) throws FlowStateException {
        int capacity = 0;
        for (UdpLoop l : loops) {
            capacity += l.flowTable().capacity();
        }
        FlowStateCodec.Decoded decoded = FlowStateCodec.decode(state, capacity);
        ForwardingSnapshot snapshot = snapshots.current();
        if (snapshot == null) {
            throw new IllegalStateException("vip " + vip.name() + ": publish a snapshot before importing udp flows");
        }
        if (decoded.groups().size() != loops.size()) {
            log.warn("vip {}: the previous process tracked udp flows on {} sockets, this one has {}: its {} flows are "
                    + "placed by the table", vip.name(), decoded.groups().size(), loops.size(), decoded.flows());
            return 0;
        }
        int[] backendMap = decoded.backendMap(snapshot);
        List<Future<Integer>> parts = new ArrayList<>(loops.size());
        for (int i = 0; i < loops.size(); i++) {
            UdpLoop l = loops.get(i);
            FlowRecords group = decoded.groups().get(i);
            parts.add(l.eventLoop().submit(() -> l.importFlows(group, backendMap, System.nanoTime())));
        }
        int imported = 0;
        for (Future<Integer> part : parts) {
            if (!part.awaitUninterruptibly(TrackedFlows.ANSWER_TIMEOUT_MS, TimeUnit.MILLISECONDS) || !part.isSuccess()) {
                throw new IllegalStateException("vip " + vip.name() + ": a loop did not import its udp flows",
                        part.cause());
            }
            imported += part.getNow();
        }
        log.info("vip {}: took over {} of the previous process's {} udp flows (the rest were on backends this "
                + "process does not have, or did not fit)", vip.name(), imported, decoded.flows());
        return imported;
    }

    /** The backend of the tracked flow from {@code client}, asked of every loop (see {@link VipForwarder}). */
    @Override
    public int trackedBackend(InetSocketAddress client) {
        return TrackedFlows.askEveryLoop(vip.name(), client, loops, UdpLoop::eventLoop, UdpLoop::trackedBackend);
    }

    /** Tracked flows now, over all loops (racy read). Any thread. */
    @Override
    public int activeConnections() {
        int sum = 0;
        for (UdpLoop l : loops) {
            sum += l.flowsActive();
        }
        return sum;
    }

    /**
     * Stops forwarding: closes the VIP sockets and every session and stateless socket, on their loops, and
     * waits (up to 10 s) until that is done. Idempotent. Returns at once when the loops are already shutting
     * down (their sockets close with them).
     */
    @Override
    public void closeConnections() {
        for (NativeVipSocket held : heldSockets) {
            held.close(); // never registered: closes the descriptor only
        }
        heldSockets.clear();
        List<Future<?>> pending = new ArrayList<>();
        for (UdpLoop l : loops) {
            if (!l.eventLoop().isShuttingDown()) {
                pending.add(l.eventLoop().submit(l::close)); // a native loop closes its VIP socket itself
            }
        }
        for (DatagramChannel ch : vipChannels) {
            pending.add(ch.close());
        }
        for (Future<?> f : pending) {
            f.awaitUninterruptibly(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    /** Same as {@link #closeConnections()}. */
    @Override
    public void close() {
        closeConnections();
    }
}
