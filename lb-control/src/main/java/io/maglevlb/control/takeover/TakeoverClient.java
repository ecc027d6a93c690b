package io.maglevlb.control.takeover;

import io.maglevlb.control.daemon.DaemonStartException;
import io.maglevlb.control.daemon.InheritedSockets;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.ForwardingMode;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.linux.UnixSocket;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new process's side of a takeover ({@code run --takeover}): connects to {@code upgrade_socket}, says HELLO,
 * receives the inventory with its sockets, then answers the daemon's start ({@link InheritedSockets}), and says
 * SERVING or ABORT. Descriptors nobody took are closed at {@link #close()}.
 *
 * <p>Threading: the run command's thread only.
 */
public final class TakeoverClient implements InheritedSockets, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TakeoverClient.class);
    /** System property: seconds the new process waits for each frame of the old one (default 60). */
    public static final String TIMEOUT_PROPERTY = "maglevd.takeover.clientTimeoutSeconds";

    /** What the old process handed over for one address. */
    private record Entry(TakeoverProtocol.VipEntry vip, boolean[] taken) {
    }

    private final FrameChannel channel;
    private final TakeoverProtocol.Inventory inventory;
    private final List<Entry> vips;
    private InetSocketAddress adminAddress;
    private int adminFd = -1;

    private TakeoverClient(FrameChannel channel, TakeoverProtocol.Inventory inventory, List<Entry> vips) {
        this.channel = channel;
        this.inventory = inventory;
        this.vips = vips;
    }

    /**
     * Connects and receives the inventory.
     *
     * @throws TakeoverException when there is no running maglevd on {@code path}, it refuses, or the exchange
     *     fails (nothing is left open then)
     */
    public static TakeoverClient connect(Path path) throws TakeoverException {
        UnixSocket socket;
        try {
            socket = UnixSocket.connect(path);
        } catch (IOException e) {
            throw new TakeoverException("cannot reach a running maglevd on upgrade_socket " + path + ": "
                    + e.getMessage());
        }
        FrameChannel channel = new FrameChannel(socket);
        TakeoverClient client = null;
        try {
            // The sockets this process is about to serve on must come from maglevd's user (or root), not from
            // whoever managed to listen on the path.
            UnixSocket.PeerCredentials peer = socket.peer();
            long uid = (Integer) java.nio.file.Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (peer.uid() != uid && peer.uid() != 0) {
                throw new TakeoverException("the process listening on " + path + " (pid " + peer.pid() + ") runs as "
                        + "user id " + peer.uid() + ", neither this process's (" + uid + ") nor root");
            }
            socket.timeout(Duration.ofSeconds(Long.getLong(TIMEOUT_PROPERTY, 60)));
            long pid = ProcessHandle.current().pid();
            String version = Objects.requireNonNullElse(
                    TakeoverClient.class.getPackage().getImplementationVersion(), "development");
            channel.send(TakeoverProtocol.HELLO, new TakeoverProtocol.Hello(TakeoverProtocol.MIN_VERSION,
                    TakeoverProtocol.VERSION, pid, version).encode(), new int[0]);
            FrameChannel.Frame f = expect(channel, TakeoverProtocol.INVENTORY);
            TakeoverProtocol.Inventory inventory = TakeoverProtocol.Inventory.decode(f.body());
            if (inventory.version() < TakeoverProtocol.MIN_VERSION || inventory.version() > TakeoverProtocol.VERSION) {
                throw new TakeoverException("the running maglevd chose protocol version " + inventory.version()
                        + ", this one reads " + TakeoverProtocol.MIN_VERSION + ".." + TakeoverProtocol.VERSION);
            }
            LOG.info("takeover: connected to pid {} (maglevd {}, generation {}) on {}", inventory.pid(),
                    inventory.maglevdVersion(), inventory.generation(), path);
            client = new TakeoverClient(channel, inventory, new ArrayList<>());
            while (true) {
                FrameChannel.Frame next = channel.receive();
                if (next.type() == TakeoverProtocol.END) {
                    FrameChannel.closeAll(next.fds());
                    break;
                }
                if (next.type() == TakeoverProtocol.VIP) {
                    TakeoverProtocol.VipEntry vip;
                    try {
                        vip = TakeoverProtocol.VipEntry.decode(next.body(), next.fds());
                    } catch (IOException e) {
                        FrameChannel.closeAll(next.fds());
                        throw e;
                    }
                    client.vips.add(new Entry(vip, new boolean[] {false}));
                    LOG.info("takeover: received vip {} ({} {}): {}", vip.name(), vip.ipProtocol() == 6 ? "tcp" : "udp",
                            ConfigValues.formatSocketAddress(vip.listen()), vip.sections());
                } else if (next.type() == TakeoverProtocol.ADMIN && next.fds().length == 1 && client.adminFd < 0) {
                    client.adminAddress = TakeoverProtocol.decodeAddress(next.body());
                    client.adminFd = next.fds()[0];
                    LOG.info("takeover: received the admin API's socket ({})",
                            ConfigValues.formatSocketAddress(client.adminAddress));
                } else {
                    FrameChannel.closeAll(next.fds());
                    throw unexpected(next);
                }
            }
            return client;
        } catch (TakeoverException e) {
            closeOnFailure(client, channel);
            throw e;
        } catch (IOException | RuntimeException e) {
            closeOnFailure(client, channel);
            throw new TakeoverException("the hand-over from the running maglevd failed: " + e.getMessage());
        }
    }

    private static void closeOnFailure(TakeoverClient client, FrameChannel channel) {
        if (client != null) {
            client.close();
        } else {
            channel.close();
        }
    }

    private static FrameChannel.Frame expect(FrameChannel channel, int type) throws IOException, TakeoverException {
        FrameChannel.Frame f;
        try {
            f = channel.receive();
        } catch (EOFException e) {
            throw new TakeoverException("the running maglevd closed the connection");
        }
        if (f.type() != type) {
            FrameChannel.closeAll(f.fds());
            throw unexpected(f);
        }
        return f;
    }

    private static TakeoverException unexpected(FrameChannel.Frame f) throws IOException {
        if (f.type() == TakeoverProtocol.ABORT) {
            return new TakeoverException("the running maglevd refused: " + TakeoverProtocol.decodeString(f.body()));
        }
        return new TakeoverException("unexpected " + TakeoverProtocol.frameName(f.type()) + " from the running maglevd");
    }

    /** The old process's generation (this process's is one more). */
    public long parentGeneration() {
        return inventory.generation();
    }

    /** The old process's pid. */
    public long parentPid() {
        return inventory.pid();
    }

    /**
     * The admin API's listening socket when the old process listens on {@code listen} (the address this process
     * would bind); the caller owns it then. Empty otherwise (this process binds its own; the old one's closes when
     * it exits).
     */
    public Optional<Integer> takeAdminListener(InetSocketAddress listen) {
        if (adminFd < 0 || !sameAddress(adminAddress, listen)) {
            return Optional.empty();
        }
        int fd = adminFd;
        adminFd = -1;
        return Optional.of(fd);
    }

    private static boolean sameAddress(InetSocketAddress a, InetSocketAddress b) {
        return a.getPort() == b.getPort() && a.getAddress().equals(b.getAddress());
    }

    @Override
    public Optional<List<HandoverSection>> take(VipConfig vip) throws DaemonStartException {
        for (Entry e : vips) {
            TakeoverProtocol.VipEntry handed = e.vip();
            if (e.taken()[0] || handed.ipProtocol() != vip.protocol().ipProtocol()
                    || !sameAddress(handed.listen(), vip.listen())) {
                continue;
            }
            boolean dsr = vip.mode() == ForwardingMode.DSR;
            if (handed.dsr() != dsr) {
                throw new DaemonStartException("vip " + vip.name() + ": the running maglevd serves "
                        + ConfigValues.formatSocketAddress(vip.listen()) + " in mode " + (handed.dsr() ? "dsr" : "proxy")
                        + " (vip " + handed.name() + "), this configuration in mode " + vip.mode().configName()
                        + ": that needs a restart, not a takeover", null);
            }
            if (handed.sections().isEmpty()) {
                return Optional.empty();
            }
            for (HandoverSection s : handed.sections()) {
                if (s.required() && !known(s)) {
                    throw new DaemonStartException("vip " + vip.name() + ": the running maglevd handed over " + s
                            + ", which this version cannot read", null);
                }
            }
            e.taken()[0] = true;
            return Optional.of(handed.sections());
        }
        return Optional.empty();
    }

    private static boolean known(HandoverSection s) {
        return (s.type() == HandoverSection.TCP_LISTENERS || s.type() == HandoverSection.UDP_VIP_SOCKETS
                || s.type() == HandoverSection.DSR_PACKET_SOCKETS) && s.version() == 1;
    }

    /**
     * Tells the old process this one serves and waits for its acknowledgement.
     *
     * @return true when it acknowledged (it stopped accepting); false when it closed the connection without one
     *     (it exited, or crashed: this process serves on alone)
     * @throws TakeoverException when it refused (it serves on: this process must not)
     */
    public boolean serving() throws TakeoverException {
        try {
            channel.send(TakeoverProtocol.SERVING, TakeoverProtocol.encodeLong(ProcessHandle.current().pid()),
                    new int[0]);
            FrameChannel.Frame f = channel.receive();
            FrameChannel.closeAll(f.fds());
            if (f.type() == TakeoverProtocol.ACK) {
                return true;
            }
            throw unexpected(f);
        } catch (EOFException e) {
            return false;
        } catch (IOException e) {
            throw new TakeoverException("no acknowledgement from the running maglevd: " + e.getMessage());
        }
    }

    /**
     * Under systemd ({@code NOTIFY_SOCKET} set): tells it this process is the service's main process now
     * ({@code MAINPID=}; the unit has {@code NotifyAccess=all}), so the service stays up when the old one exits.
     */
    public static void notifySystemd() {
        String socket = System.getenv("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return;
        }
        long pid = ProcessHandle.current().pid();
        try {
            UnixSocket.sendDatagram(socket, ("MAINPID=" + pid + "\nSTATUS=serving (took over)\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            LOG.info("takeover: told systemd that pid {} is the main process now", pid);
        } catch (IOException e) {
            LOG.warn("takeover: could not tell systemd the new main pid ({}): it may stop the service when the "
                    + "old process exits", e.getMessage());
        }
    }

    /** Tells the old process this one will not serve (it serves on). */
    public void abort(String reason) {
        try {
            channel.send(TakeoverProtocol.ABORT, TakeoverProtocol.encodeString(reason), new int[0]);
        } catch (IOException | RuntimeException e) {
            LOG.debug("takeover: could not send ABORT", e);
        }
    }

    /** Closes the connection and every descriptor nobody took. */
    @Override
    public void close() {
        for (Entry e : vips) {
            if (!e.taken()[0]) {
                FrameChannel.closeAll(e.vip().fds());
            }
        }
        if (adminFd >= 0) {
            UnixSocket.closeQuietly(adminFd);
            adminFd = -1;
        }
        channel.close();
    }

    /** A takeover that cannot go on; the message says why, for the log. */
    public static final class TakeoverException extends Exception {
        public TakeoverException(String message) {
            super(message);
        }
    }
}
