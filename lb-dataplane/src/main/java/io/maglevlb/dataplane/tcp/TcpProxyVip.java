package io.maglevlb.dataplane.tcp;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.DelayedAck;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.ProxyProtocol;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.dataplane.AddressBits;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.TrackedFlows;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.VipBindException;
import io.maglevlb.dataplane.VipForwarder;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.linux.UnixSocket;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TCP proxy of one {@code protocol: tcp, mode: proxy} VIP: listens on the VIP address, picks a backend per
 * connection with the VIP's Maglev table, and relays bytes both ways.
 *
 * <p><b>Engines.</b> One per platform. With epoll (Linux) the raw relay: {@link RawListener} and
 * {@link RawTcpConnection}, sockets registered directly with the event loop and driven with system calls. Without
 * epoll (another OS, or Netty's epoll library did not load) the portable relay through Netty's NIO channels:
 * {@link TcpConnection}. Backend choice, connect retries and the per-connection bookkeeping are written once, in
 * {@link ProxiedConnection}, for both.
 *
 * <p><b>Steering.</b> With epoll, each event loop of the worker group gets its own listening socket on the VIP
 * address (SO_REUSEPORT); the kernel hashes each new connection to one of them, and the connection and its
 * backend connection stay on that loop. With NIO there is one listener and Netty spreads accepted connections
 * over the loops.
 *
 * <p><b>Backend choice.</b> {@code 5-tuple}: {@link FlowHash#fiveTuple} of (6, client address and port, VIP
 * address and port), where the VIP address is the configured listen address (so a wildcard VIP hashes with
 * the wildcard address). {@code source-ip}: {@link FlowHash#sourceIp} of the client address. The snapshot is
 * read once per new connection; on a failed connect the {@code attempt}-th fallback of the same snapshot is
 * tried, up to {@code connect_retries} times.
 *
 * <p><b>Reload on the same address.</b> A successor (the same VIP with other settings) takes over the listening
 * sockets with {@link #startInPlaceOf} instead of binding new ones: they stay open and in the kernel's SO_REUSEPORT
 * group throughout, so no connection attempt is refused and nothing in an accept queue is reset. Connections
 * accepted before the hand-off stay with this forwarder and its settings until they end; every connection
 * accepted after it, including those that were already waiting in the accept queue, gets the successor's.
 *
 * <p><b>Reload to another address.</b> A successor on another address (another port, or a wildcard address in place
 * of a specific one on the same port, or the reverse) binds its own listeners with {@link #startBeside} while this
 * forwarder still listens; this one then {@linkplain #drainListeners drains} its listeners instead of closing them
 * (see {@link RawListener}): what waits in their accept queues is served, not reset.
 *
 * <p><b>Threading.</b> {@link #start()}, {@link #startInPlaceOf}, {@link #stopAccepting()} and
 * {@link #closeConnections()} are called by the control plane (never from an event loop: they wait for the
 * loops). {@link #stats()} and {@link #activeConnections()} may be called from any thread.
 */
public final class TcpProxyVip implements VipForwarder {
    private static final Logger LOG = LoggerFactory.getLogger(TcpProxyVip.class);

    private final VipConfig config;
    final SnapshotHolder snapshots;
    private final Transport transport;
    private final EventLoopGroup workers;
    private final List<TcpVipLoop> loops = new ArrayList<>();
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();
    private final List<RawListener> rawListeners = new CopyOnWriteArrayList<>();
    private final List<ScheduledFuture<?>> sweeps = new ArrayList<>();
    final ConnectionLimit limit;
    private final int connectTimeoutMs;

    private final HashMode hashMode;
    private final long vipHi;
    private final long vipLo;
    private volatile int vipPort;
    final int connectRetries;
    final long idleTimeoutNs;
    final boolean proxyProtocolV2;
    /** Which connections delay their ACKs (TCP_QUICKACK off); epoll only (NIO has no such option here). */
    final DelayedAck delayedAck;
    /** Relay on raw sockets ({@link RawTcpConnection}): with epoll. Else through NIO channels ({@link TcpConnection}). */
    final boolean raw;
    private final WriteBufferWaterMark waterMark;
    /** Raw relay: bulk directions go through a pipe with splice(2) ({@link TcpProxyOptions#splice()}). */
    final boolean splice;
    /**
     * Address family of the backend socket a raw listener opens before each accept (see {@link RawListener}):
     * IPv6 when every configured backend is IPv6, else IPv4. A connection whose backend has the other family
     * closes it and opens one of the right family.
     */
    final int spareFamily;
    private volatile InetSocketAddress boundAddress;
    /** Sets up the channels the channel-engine listeners accept; handed on with them to a successor. */
    private volatile Acceptor acceptor = new Acceptor(this);

    /**
     * @param config a {@code tcp}/{@code proxy} VIP
     * @param snapshots where the control plane publishes the VIP's tables
     * @param workers the forwarding event loops (all VIPs share them)
     * @param transport the transport {@code workers} was built with
     * @param options daemon-wide relay settings (the NIO engine's water marks, the raw relay's splice)
     */
    public TcpProxyVip(VipConfig config, SnapshotHolder snapshots, EventLoopGroup workers, Transport transport,
            TcpProxyOptions options) {
        this.config = Objects.requireNonNull(config, "config");
        if (config.protocol() != Protocol.TCP || config.mode() != ForwardingMode.PROXY) {
            throw new IllegalArgumentException("vip " + config.name() + ": the TCP proxy serves protocol tcp, mode "
                    + "proxy; this VIP is " + config.protocol().configName() + "/" + config.mode().configName());
        }
        this.snapshots = Objects.requireNonNull(snapshots, "snapshots");
        this.workers = Objects.requireNonNull(workers, "workers");
        this.transport = Objects.requireNonNull(transport, "transport");
        for (EventExecutor e : workers) {
            loops.add(new TcpVipLoop((EventLoop) e));
        }
        this.limit = new ConnectionLimit(config.maxConnections(), this::setAccepting);
        this.hashMode = config.hash();
        byte[] vipRaw = config.listen().getAddress().getAddress();
        this.vipHi = AddressBits.hi(vipRaw);
        this.vipLo = AddressBits.lo(vipRaw);
        this.vipPort = config.listen().getPort();
        this.connectRetries = config.connectRetries();
        this.idleTimeoutNs = config.idleTimeout().toNanos();
        this.proxyProtocolV2 = config.proxyProtocol() == ProxyProtocol.V2;
        this.delayedAck = transport.isEpoll() ? config.delayedAck() : DelayedAck.OFF;
        if (config.delayedAck() != DelayedAck.OFF && !transport.isEpoll()) {
            LOG.warn("vip {}: delayed_ack {} has no effect with the {} transport (epoll only)", config.name(),
                    config.delayedAck().configName(), transport.name());
        }
        this.raw = transport.isEpoll();
        this.boundAddress = config.listen();
        boolean allV6 = !config.backends().isEmpty();
        for (BackendConfig b : config.backends()) {
            allV6 &= !(b.address().getAddress() instanceof Inet4Address);
        }
        this.spareFamily = allV6 ? LinuxNative.AF_INET6 : LinuxNative.AF_INET;

        this.waterMark = new WriteBufferWaterMark(options.writeBufferLowWaterMark(), options.writeBufferHighWaterMark());
        this.splice = options.splice();
        this.connectTimeoutMs = (int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis());
    }

    /**
     * NIO engine: a new, unregistered backend channel for {@code target}, configured like the accepted side:
     * AUTO_READ off (the relay reads on demand), half-closure on, the relay's water marks. TCP_NODELAY is Netty's
     * default on Linux, so it costs no extra setsockopt here. No connect timeout: {@link ProxiedConnection} times
     * connects out, for both engines.
     */
    SocketChannel newBackendChannel(InetSocketAddress target) {
        SocketChannel ch = transport.newSocketChannel(target.getAddress());
        SocketChannelConfig c = ch.config();
        c.setAutoRead(false);
        c.setAllowHalfClosure(true);
        c.setWriteBufferWaterMark(waterMark);
        c.setConnectTimeoutMillis(0);
        return ch;
    }

    /**
     * Binds the VIP's listeners (one per event loop with epoll, one with NIO) and starts the idle sweeps.
     *
     * @throws VipBindException when the address cannot be bound; listeners bound so far are closed again
     */
    @Override
    public void start() throws VipBindException {
        start(false);
    }

    /**
     * Binds beside {@code predecessor}, this VIP's forwarder on another address, which still listens: like
     * {@link #start()}, except that when the two addresses overlap (the same port, one of them a wildcard) and the
     * exclusive-bind check fails, the conflict is taken to be the predecessor's own listeners and the new ones join
     * the address beside them (SO_REUSEPORT, same user). The kernel gives a connection to the listener bound to its
     * exact destination address before a wildcard one, so from then on a narrower address's connections go to the
     * narrower listeners; the caller then drains the predecessor's ({@link #drainListeners}).
     *
     * <p>The same holds for exactly this VIP's address when {@code predecessor} is a retired forwarder whose
     * listeners still drain there (the VIP was removed and is added again, or moved away and back, within the
     * drain's 200 ms): the new listeners join the same SO_REUSEPORT group, and a SYN the kernel hashes to a draining
     * listener is dropped and comes again after the client's retransmission timeout (1 s), to a listener of this
     * forwarder by then.
     *
     * <p>The cost: in that case a foreign SO_REUSEPORT listener of the same user on exactly the new address would
     * not be noticed (the check cannot tell it from the predecessor's). Only with epoll: the NIO engine's listener
     * has no SO_REUSEPORT, so the bind fails and the reload of the VIP with it.
     */
    @Override
    public void startBeside(VipForwarder predecessor) throws VipBindException {
        start(raw && predecessor instanceof TcpProxyVip old && (overlaps(old.boundAddress, config.listen())
                || old.listening() && old.boundAddress.equals(config.listen())));
    }

    /** Same port, and one address a wildcard that covers the other (the kernel checks binds of the two). */
    static boolean overlaps(InetSocketAddress a, InetSocketAddress b) {
        if (a.getPort() != b.getPort() || a.getPort() == 0 || a.getAddress().equals(b.getAddress())) {
            return false;
        }
        boolean aAny = a.getAddress().isAnyLocalAddress();
        boolean bAny = b.getAddress().isAnyLocalAddress();
        if (aAny == bAny) {
            return false;
        }
        InetSocketAddress any = aAny ? a : b;
        InetSocketAddress specific = aAny ? b : a;
        // An IPv6 wildcard (dual stack) covers IPv4 addresses too; an IPv4 wildcard covers only IPv4.
        return !(any.getAddress() instanceof Inet4Address) || specific.getAddress() instanceof Inet4Address;
    }

    private void start(boolean besideOverlappingPredecessor) throws VipBindException {
        InetSocketAddress address = config.listen();
        try {
            if (raw) {
                try {
                    probeExclusive(address);
                } catch (VipBindException e) {
                    if (!besideOverlappingPredecessor) {
                        throw e;
                    }
                    LOG.info("vip {}: {} overlaps the address this vip listens on now; binding beside it",
                            config.name(), ConfigValues.formatSocketAddress(address));
                }
                for (TcpVipLoop loop : loops) {
                    RawListener listener;
                    try {
                        listener = RawListener.open(this, loop, address);
                    } catch (IOException e) {
                        throw new VipBindException(config.name(), address, e);
                    }
                    rawListeners.add(listener);
                    if (address.getPort() == 0) {
                        // Port 0 (tests): the first listener picks the port, the others share it.
                        address = new InetSocketAddress(address.getAddress(), localPort(listener));
                    }
                }
            } else {
                bind(newServerBootstrap(loops.get(0).eventLoop, workers), address);
            }
        } catch (VipBindException e) {
            closeListeners();
            throw e;
        }
        if (raw) {
            boundAddress = new InetSocketAddress(config.listen().getAddress(), address.getPort());
        } else {
            boundAddress = (InetSocketAddress) listeners.get(0).localAddress();
        }
        vipPort = boundAddress.getPort();
        startSweeps();
    }

    /**
     * Starts by taking over the listening sockets of {@code predecessor}, this VIP's forwarder on the same address
     * with other settings, instead of binding new ones. The sockets stay open (no connection attempt is refused,
     * nothing queued is reset); each loop's listener accepts for this forwarder from its hand-off on, also what
     * is already queued. The predecessor keeps the connections it accepted and no longer listens: retire it.
     *
     * @return false, with nothing changed, when {@code predecessor} is not a TCP proxy with the same transport and
     *     bound address; the caller then stops it and calls {@link #start()}
     */
    @Override
    public boolean startInPlaceOf(VipForwarder predecessor) {
        if (!(predecessor instanceof TcpProxyVip old) || old.transport != transport
                || old.workers != workers || !old.boundAddress.equals(config.listen())
                || (old.rawListeners.isEmpty() && old.listeners.isEmpty())) {
            return false;
        }
        if (raw) {
            for (RawListener listener : old.rawListeners) {
                listener.handOverAndWait(this, loopOf(listener.eventLoop()));
                rawListeners.add(listener);
                old.rawListeners.remove(listener);
            }
        } else {
            Acceptor handed = old.acceptor;
            handed.owner = this; // from here on, accepted channels are set up for this forwarder
            acceptor = handed;
            for (Channel listener : old.listeners) {
                listeners.add(listener);
                old.listeners.remove(listener);
                listener.config().setAutoRead(true); // this forwarder's limit starts with no connection
            }
        }
        boundAddress = old.boundAddress;
        vipPort = boundAddress.getPort();
        startSweeps();
        return true;
    }

    /** Takeover, old process: the raw listeners' sockets (none with NIO: the successor then binds its own). */
    @Override
    public List<HandoverSection> handOverSections() {
        if (!raw || rawListeners.isEmpty()) {
            return List.of();
        }
        int[] fds = rawListeners.stream().mapToInt(RawListener::fdNumber).toArray();
        return List.of(HandoverSection.ofFds(HandoverSection.TCP_LISTENERS, fds));
    }

    /**
     * Takeover, new process: accepts on the listening sockets of a predecessor process (its
     * {@link HandoverSection#TCP_LISTENERS}) instead of binding. Each is checked first (a listening TCP socket on
     * this VIP's address). Listener {@code i} goes to event loop {@code i mod loops}, so every socket of the
     * kernel's SO_REUSEPORT group is accepted on even when the predecessor had more loops; with fewer, the
     * remaining loops bind a listener of their own that joins the group.
     *
     * @return false when there is no such section or this forwarder is not the raw relay (epoll)
     */
    @Override
    public boolean startFromHandover(List<HandoverSection> sections) throws VipBindException {
        HandoverSection listening = sections.stream().filter(s -> s.type() == HandoverSection.TCP_LISTENERS)
                .findFirst().orElse(null);
        if (!raw || listening == null || listening.fds().length == 0 || !rawListeners.isEmpty()) {
            return false;
        }
        InetSocketAddress address = config.listen();
        for (int fd : listening.fds()) {
            String why = UnixSocket.checkInetSocket(fd, LinuxNative.SOCK_STREAM, true, address);
            if (why != null) {
                throw new VipBindException(config.name(), address, new IOException("handed-over socket: " + why));
            }
        }
        try {
            int[] fds = listening.fds();
            for (int i = 0; i < fds.length; i++) {
                try {
                    rawListeners.add(RawListener.adopt(this, loops.get(i % loops.size()), fds[i]));
                } catch (IOException e) {
                    for (int j = i + 1; j < fds.length; j++) {
                        UnixSocket.closeQuietly(fds[j]);
                    }
                    throw new VipBindException(config.name(), address, e);
                }
            }
            InetSocketAddress bound = new InetSocketAddress(address.getAddress(), localPort(rawListeners.get(0)));
            for (int i = fds.length; i < loops.size(); i++) {
                try {
                    rawListeners.add(RawListener.open(this, loops.get(i), bound, true));
                } catch (IOException e) {
                    throw new VipBindException(config.name(), bound, e);
                }
            }
            boundAddress = bound;
        } catch (VipBindException | RuntimeException e) {
            closeListeners();
            throw e;
        }
        vipPort = boundAddress.getPort();
        startSweeps();
        return true;
    }

    /** Takeover: the adopted listeners start accepting. */
    @Override
    public void serveHandedOver() {
        for (RawListener listener : rawListeners) {
            listener.serveAndWait();
        }
    }

    private void startSweeps() {
        if (idleTimeoutNs > 0) {
            long periodNs = sweepPeriodNs(idleTimeoutNs);
            for (TcpVipLoop loop : loops) {
                sweeps.add(loop.eventLoop.scheduleAtFixedRate(
                        () -> loop.sweepIdle(System.nanoTime(), idleTimeoutNs), periodNs, periodNs,
                        TimeUnit.NANOSECONDS));
            }
        }
    }

    /**
     * With SO_REUSEPORT the kernel lets any socket of the same user that also sets it share the port, so a
     * second maglevd (or a stale one) on the same VIP would bind without error and take a share of the
     * connections. Binding the address once without SO_REUSEPORT first turns that into "Address already in
     * use". The probe socket is closed before the real listeners bind.
     */
    private void probeExclusive(InetSocketAddress address) throws VipBindException {
        if (address.getPort() == 0) {
            return;
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(address, 1);
        } catch (IOException e) {
            throw new VipBindException(config.name(), address, e);
        }
    }

    /** How often the idle sweep runs: a tenth of the timeout, between 10 ms and 1 s. */
    static long sweepPeriodNs(long idleTimeoutNs) {
        return Math.clamp(idleTimeoutNs / 10, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
    }

    /** NIO engine: one listener whose accepted channels Netty spreads over the loops. */
    private ServerBootstrap newServerBootstrap(EventLoopGroup parent, EventLoopGroup children) {
        return new ServerBootstrap()
                .group(parent, children)
                .channelFactory(transport.serverSocketChannelFactory(config.listen().getAddress()))
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark)
                .childHandler(acceptor);
    }

    private Channel bind(ServerBootstrap sb, InetSocketAddress address) throws VipBindException {
        ChannelFuture f = sb.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw new VipBindException(config.name(), address, f.cause());
        }
        listeners.add(f.channel());
        return f.channel();
    }

    private int localPort(RawListener listener) throws VipBindException {
        try {
            return listener.localAddress().getPort();
        } catch (IOException e) {
            throw new VipBindException(config.name(), config.listen(), e);
        }
    }

    private TcpVipLoop loopOf(EventLoop eventLoop) {
        for (TcpVipLoop loop : loops) {
            if (loop.eventLoop == eventLoop) {
                return loop;
            }
        }
        throw new IllegalStateException("event loop " + eventLoop + " is not one of this VIP's workers");
    }

    private void setAccepting(boolean accepting) {
        for (Channel listener : listeners) {
            // On the listener's loop, where a hand-off cannot interleave: once handed on, this limit is ignored.
            listener.eventLoop().execute(() -> {
                if (acceptor.owner == this) {
                    listener.config().setAutoRead(accepting);
                }
            });
        }
        for (RawListener listener : rawListeners) {
            listener.limitSwitched();
        }
    }

    /**
     * The child handler of the NIO engine's listener: sets up each accepted channel for the forwarder that owns the
     * listener now. A successor on the same address takes the listener over by becoming the owner (one volatile
     * store); accepted channels are set up for whichever owner the accepting loop reads.
     */
    @ChannelHandler.Sharable
    private static final class Acceptor extends ChannelInitializer<SocketChannel> {
        volatile TcpProxyVip owner;

        Acceptor(TcpProxyVip owner) {
            this.owner = owner;
        }

        @Override
        protected void initChannel(SocketChannel ch) {
            TcpProxyVip vip = owner;
            ch.pipeline().addLast(new TcpConnection(vip, vip.loopOf(ch.eventLoop()), ch).frontendHandler());
        }
    }

    int connectTimeoutMs() {
        return connectTimeoutMs;
    }

    /** Flow hash of a new connection from {@code clientIp}:{@code clientPort}. On an event loop; no allocation. */
    long flowHash(byte[] clientIp, int clientPort) {
        return flowHash(AddressBits.hi(clientIp), AddressBits.lo(clientIp), clientPort);
    }

    /** Flow hash of a new connection from the client address {@code hi}:{@code lo} (IPv4 mapped), port. */
    long flowHash(long hi, long lo, int clientPort) {
        return FlowHash.of(hashMode, Protocol.TCP.ipProtocol(), hi, lo, clientPort, vipHi, vipLo, vipPort);
    }

    /**
     * The backend of the open connection from {@code client}, asked of every loop (a task on each); see
     * {@link VipForwarder#trackedBackend}. Connections this forwarder handed to no one stay here: after a reload
     * replaced the forwarder, the retired one's connections are not seen.
     */
    @Override
    public int trackedBackend(InetSocketAddress client) {
        return TrackedFlows.askEveryLoop(config.name(), client, loops, loop -> loop.eventLoop,
                TcpVipLoop::connectionBackend);
    }

    /**
     * Stops accepting without resetting anyone (epoll): every listener stops taking new handshakes and accepts what
     * is queued, then closes by itself once its queue stayed empty (see {@link RawListener}); the connections it
     * accepts are this forwarder's, like the others it has open. Returns once every listener has emptied its queue
     * once; {@link #listening()} says when the last one closed. With NIO the same as {@link #stopAccepting()}.
     */
    @Override
    public void drainListeners() {
        if (!raw) {
            stopAccepting();
            return;
        }
        for (RawListener listener : rawListeners) {
            listener.drainAndWait(() -> rawListeners.remove(listener));
        }
    }

    /** Whether a listener is still open (one that is draining, after {@link #drainListeners}). Any thread. */
    @Override
    public boolean listening() {
        return !rawListeners.isEmpty() || !listeners.isEmpty();
    }

    /**
     * Stops accepting: closes every listener and waits until they are closed. Open connections go on; new
     * connection attempts are refused by the kernel, and connections waiting in the accept queues are reset
     * ({@link #drainListeners} serves them instead).
     */
    @Override
    public void stopAccepting() {
        closeListeners();
    }

    private void closeListeners() {
        List<ChannelFuture> closing = new ArrayList<>();
        for (Channel listener : listeners) {
            closing.add(listener.close());
        }
        for (ChannelFuture f : closing) {
            f.awaitUninterruptibly();
        }
        listeners.clear();
        for (RawListener listener : rawListeners) {
            listener.closeAndWait();
        }
        rawListeners.clear();
    }

    /**
     * Closes every open connection of this VIP at once, and any listener still draining (shutdown while a reload's
     * drain runs), and stops the idle sweeps; waits until done.
     */
    @Override
    public void closeConnections() {
        closeListeners();
        for (ScheduledFuture<?> sweep : sweeps) {
            sweep.cancel(false);
        }
        List<Future<?>> done = new ArrayList<>();
        for (TcpVipLoop loop : loops) {
            done.add(loop.eventLoop.submit(() -> {
                loop.closeAll();
                if (rawListeners.isEmpty()) {
                    loop.releaseRawIo();
                }
            }));
        }
        for (Future<?> f : done) {
            f.awaitUninterruptibly();
        }
    }

    /** Accepted connections not yet closed (including ones waiting for a slot under max_connections). */
    @Override
    public int activeConnections() {
        return limit.open();
    }

    /** Connections accepted but waiting for a slot under max_connections. */
    public int parkedConnections() {
        return limit.parked();
    }

    /**
     * Sums the per-loop counters. Reads the loops' fields without synchronisation (see {@link TcpVipLoop}):
     * each value may lag the truth by the increments of the last few microseconds. Any thread.
     */
    @Override
    public TcpVipStats stats() {
        int idLimit = 0;
        for (TcpVipLoop loop : loops) {
            idLimit = Math.max(idLimit, loop.connections.length);
        }
        long accepted = 0;
        long active = 0;
        long noBackend = 0;
        long giveUps = 0;
        long closedLocal = 0;
        long[] localErrors = new long[LocalError.count()];
        long[] connections = new long[idLimit];
        long[] activeByBackend = new long[idLimit];
        long[] toBackend = new long[idLimit];
        long[] toClient = new long[idLimit];
        long[] failures = new long[idLimit];
        long[] retries = new long[idLimit];
        for (TcpVipLoop loop : loops) {
            accepted += loop.accepted;
            active += loop.active;
            noBackend += loop.closedNoBackend;
            giveUps += loop.connectGiveUps;
            closedLocal += loop.closedLocalError;
            addInto(localErrors, loop.localErrors);
            addInto(connections, loop.connections);
            addInto(activeByBackend, loop.activeByBackend);
            addInto(toBackend, loop.bytesToBackend);
            addInto(toClient, loop.bytesToClient);
            addInto(failures, loop.connectFailures);
            addInto(retries, loop.retries);
        }
        return new TcpVipStats(accepted, active, noBackend, giveUps, closedLocal, localErrors, connections,
                activeByBackend, toBackend, toClient, failures, retries);
    }

    private static void addInto(long[] sum, long[] values) {
        int n = Math.min(sum.length, values.length);
        for (int i = 0; i < n; i++) {
            sum[i] += values[i];
        }
    }

    /**
     * Bytes held in this process for this VIP's connections (queued writes both ways plus client bytes read
     * before the backend connection was up). Runs a task on every loop and waits for it: for tests and
     * diagnostics, not for a metrics scrape of a busy daemon.
     */
    public long pendingBytes() throws InterruptedException {
        List<Future<Long>> parts = new ArrayList<>();
        for (TcpVipLoop loop : loops) {
            parts.add(loop.eventLoop.submit(loop::pendingBytes));
        }
        long sum = 0;
        for (Future<Long> part : parts) {
            try {
                sum += part.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("event loop did not report its pending bytes", e);
            }
        }
        return sum;
    }

    @Override
    public String name() {
        return config.name();
    }

    public VipConfig config() {
        return config;
    }

    /** The address the listeners are bound to (the configured one, with port 0 resolved). */
    @Override
    public InetSocketAddress localAddress() {
        return boundAddress;
    }

    /** Listening sockets: one per event loop with SO_REUSEPORT, else one. */
    public int listenerCount() {
        return raw ? rawListeners.size() : listeners.size();
    }

    /**
     * For the startup log, e.g. {@code tcp proxy on 127.0.0.1:8080 -> 3 backends [web-1 127.0.0.1:9001 w1,
     * ...], 2 workers, epoll with 2 SO_REUSEPORT listeners, hash 5-tuple}.
     */
    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("tcp proxy on ")
                .append(ConfigValues.formatSocketAddress(boundAddress)).append(" -> ")
                .append(config.backends().size()).append(config.backends().size() == 1 ? " backend [" : " backends [");
        for (int i = 0; i < config.backends().size(); i++) {
            BackendConfig b = config.backends().get(i);
            sb.append(i == 0 ? "" : ", ").append(b.name()).append(' ')
                    .append(ConfigValues.formatSocketAddress(b.address())).append(" w").append(b.weight());
        }
        sb.append("], ").append(loops.size()).append(loops.size() == 1 ? " worker, " : " workers, ")
                .append(transport.name());
        if (transport.supportsReusePort()) {
            sb.append(" with ").append(listenerCount()).append(" SO_REUSEPORT listeners");
        }
        sb.append(", hash ").append(hashMode.configName());
        if (config.maxConnections() > 0) {
            sb.append(", max_connections ").append(config.maxConnections());
        }
        if (proxyProtocolV2) {
            sb.append(", proxy_protocol v2");
        }
        if (delayedAck != DelayedAck.OFF) {
            sb.append(", delayed_ack ").append(delayedAck.configName());
        }
        return sb.toString();
    }

    public Transport transport() {
        return transport;
    }

    /** Event loops serving this VIP. */
    public int workerCount() {
        return loops.size();
    }
}
