package io.maglevlb.control.takeover;

import io.maglevlb.control.daemon.Lineage;
import io.maglevlb.control.daemon.Maglevd;
import io.maglevlb.control.plane.ControlPlane;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.core.config.VipConfig;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.linux.UnixSocket;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The old process's side of a takeover: listens on {@code upgrade_socket} and serves one successor at a time
 * ({@link TakeoverProtocol}). After the successor says SERVING it makes the daemon let go of its sockets
 * ({@link Maglevd#releaseAfterHandover()}), acknowledges, stops listening and calls {@code onHandedOver} (the
 * run command then drains and exits 0). Any failure before SERVING leaves the daemon as it was: it serves on.
 *
 * <p>Only a peer with this process's user id (or root) is served (SO_PEERCRED); the socket is 0600 in a 0750
 * directory as well.
 *
 * <p>Threading: one platform thread, {@code maglev-upgrade}, accepts and serves; {@link #close()} from any thread.
 */
public final class UpgradeServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeServer.class);
    /** System property: seconds the old process waits for each frame of the successor (default 120). */
    public static final String TIMEOUT_PROPERTY = "maglevd.takeover.timeoutSeconds";

    private final Path path;
    private final UnixSocket listener;
    private final Object fileKey;
    private final Maglevd daemon;
    private final ControlPlane control;
    private final Runnable onHandedOver;
    private final Thread thread;
    private volatile boolean closed;
    /** The successor {@link #spawnSuccessor} started, while it may still be taking over. */
    private volatile Process successor;

    private UpgradeServer(Path path, UnixSocket listener, Maglevd daemon, ControlPlane control, Runnable onHandedOver) {
        this.path = path;
        this.listener = listener;
        this.fileKey = UpgradeSocket.fileKey(path);
        this.daemon = daemon;
        this.control = control;
        this.onHandedOver = onHandedOver;
        this.thread = Thread.ofPlatform().daemon().name("maglev-upgrade").unstarted(this::acceptLoop);
    }

    /**
     * Listens on {@code path} (see {@link UpgradeSocket}) and starts serving takeovers. A plain start refuses a path
     * another process listens on; a process that just took over replaces its predecessor's socket
     * ({@code replace}).
     *
     * @throws IOException when the socket cannot be set up (the caller logs it and runs without takeovers)
     */
    public static UpgradeServer start(Path path, boolean replace, Maglevd daemon, ControlPlane control,
            Runnable onHandedOver) throws IOException {
        UpgradeSocket.prepareDirectory(path);
        if (!replace && UpgradeSocket.inUse(path)) {
            throw new IOException("another process listens on " + path + " (a running maglevd? use run --takeover)");
        }
        UpgradeServer server = new UpgradeServer(path, UpgradeSocket.listen(path), daemon, control, onHandedOver);
        server.thread.start();
        LOG.info("takeover: listening on {} (generation {})", path, daemon.lineage().generation());
        return server;
    }

    /**
     * {@code POST /upgrade}: starts {@code run --takeover} with this process's own command line (the same java and
     * class path: after a package upgrade, the new files), its output going where this process's goes. Under
     * systemd it runs in the service's control group, and tells systemd it is the main process once it serves
     * ({@code MAINPID=}, see {@link TakeoverClient}).
     *
     * @return the successor's pid
     * @throws IllegalStateException when one is still taking over, or it cannot be started
     */
    public synchronized long spawnSuccessor() {
        Process running = successor;
        if (running != null && running.isAlive() && !daemon.handedOver()) {
            throw new IllegalStateException("pid " + running.pid() + " is taking over already");
        }
        if (daemon.handedOver() || closed) {
            throw new IllegalStateException("this maglevd has handed over already");
        }
        List<String> command;
        try {
            command = successorCommand(ownCommandLine());
        } catch (IOException e) {
            throw new IllegalStateException("cannot read this process's command line: " + e.getMessage(), e);
        }
        try {
            Process p = new ProcessBuilder(command).inheritIO().start();
            successor = p;
            LOG.info("takeover: started pid {} to take over: {}", p.pid(), String.join(" ", command));
            return p.pid();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the successor: " + e.getMessage(), e);
        }
    }

    /**
     * This process's command line from /proc/self/cmdline (ProcessHandle.Info gives up on long ones, such as a
     * long class path).
     */
    private static List<String> ownCommandLine() throws IOException {
        byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
        List<String> out = new java.util.ArrayList<>();
        int from = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                out.add(new String(raw, from, i - from, java.nio.charset.StandardCharsets.UTF_8));
                from = i + 1;
            }
        }
        if (from < raw.length) {
            out.add(new String(raw, from, raw.length - from, java.nio.charset.StandardCharsets.UTF_8));
        }
        return out;
    }

    /** {@code self} (a command line: the java executable, then its arguments) with {@code --takeover} after run. */
    static List<String> successorCommand(List<String> self) {
        if (self.isEmpty()) {
            throw new IllegalStateException("this process's command line is empty");
        }
        List<String> command = new java.util.ArrayList<>();
        boolean afterRun = false;
        boolean hasTakeover = self.contains("--takeover");
        for (int i = 0; i < self.size(); i++) {
            String a = self.get(i);
            command.add(a);
            if (i > 0 && !afterRun && a.equals("run")) {
                afterRun = true;
                if (!hasTakeover) {
                    command.add("--takeover");
                }
            }
        }
        if (!afterRun) {
            throw new IllegalStateException("this process was not started with 'run': " + String.join(" ", self));
        }
        return command;
    }

    private void acceptLoop() {
        while (!closed) {
            UnixSocket peer;
            try {
                peer = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("takeover: accept on {} failed, no takeover possible from now on: {}", path,
                            e.getMessage());
                }
                return;
            }
            boolean handedOver;
            try (FrameChannel channel = new FrameChannel(peer)) {
                handedOver = serve(channel);
            }
            if (handedOver) {
                closeListener();
                onHandedOver.run();
                return;
            }
        }
    }

    /** One takeover; true when the successor serves and this process let go. */
    private boolean serve(FrameChannel channel) {
        long peerPid = -1;
        try {
            UnixSocket.PeerCredentials cred = channel.socket().peer();
            peerPid = cred.pid();
            long uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (cred.uid() != uid && cred.uid() != 0) {
                LOG.warn("takeover: refused pid {}: user id {} is neither this process's ({}) nor root", cred.pid(),
                        cred.uid(), uid);
                return false;
            }
            channel.socket().timeout(Duration.ofSeconds(Long.getLong(TIMEOUT_PROPERTY, 120)));
            FrameChannel.Frame first;
            try {
                first = channel.receive();
            } catch (EOFException e) {
                LOG.debug("takeover: pid {} closed the connection before HELLO (a probe)", peerPid);
                return false;
            }
            closeFds(first);
            if (first.type() != TakeoverProtocol.HELLO) {
                return refuse(channel, peerPid, "expected HELLO, got " + TakeoverProtocol.frameName(first.type()));
            }
            TakeoverProtocol.Hello hello = TakeoverProtocol.Hello.decode(first.body());
            LOG.info("takeover: pid {} (maglevd {}, protocol {}..{}) asks to take over", hello.pid(),
                    hello.maglevdVersion(), hello.minVersion(), hello.maxVersion());
            if (hello.minVersion() > TakeoverProtocol.VERSION || hello.maxVersion() < TakeoverProtocol.MIN_VERSION) {
                return refuse(channel, peerPid, "protocol version: this process speaks " + TakeoverProtocol.MIN_VERSION
                        + ".." + TakeoverProtocol.VERSION + ", pid " + hello.pid() + " " + hello.minVersion() + ".."
                        + hello.maxVersion());
            }
            if (daemon.config().announce().isPresent()) {
                return refuse(channel, peerPid, "announce is configured: its device and routes live with this "
                        + "process and cannot be handed over; restart instead");
            }
            if (!daemon.isRunning()) {
                return refuse(channel, peerPid, "this maglevd is shutting down");
            }
            sendInventory(channel, hello);
            FrameChannel.Frame answer;
            try {
                answer = channel.receive();
            } catch (EOFException e) {
                LOG.warn("takeover: pid {} closed the connection before it served; serving on", peerPid);
                return false;
            }
            closeFds(answer);
            if (answer.type() == TakeoverProtocol.ABORT) {
                LOG.warn("takeover: pid {} aborted: {}; serving on", peerPid,
                        TakeoverProtocol.decodeString(answer.body()));
                return false;
            }
            if (answer.type() != TakeoverProtocol.SERVING) {
                return refuse(channel, peerPid, "expected SERVING, got " + TakeoverProtocol.frameName(answer.type()));
            }
            LOG.info("takeover: pid {} serves; stopping accepting here", peerPid);
            daemon.releaseAfterHandover();
            try {
                channel.send(TakeoverProtocol.ACK, new byte[0], new int[0]);
            } catch (IOException e) {
                LOG.warn("takeover: could not acknowledge to pid {} ({}); it serves without the acknowledgement",
                        peerPid, e.getMessage());
            }
            LOG.info("takeover: handed over to pid {}; draining, then exiting", peerPid);
            return true;
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() != null && e.getMessage().contains("timed out")
                    ? "timed out waiting for it" : e.toString();
            LOG.warn("takeover: failed with pid {}: {}; serving on", peerPid, why);
            LOG.debug("takeover failure", e);
            try {
                channel.send(TakeoverProtocol.ABORT, TakeoverProtocol.encodeString("the running maglevd gave up: "
                        + why), new int[0]);
            } catch (IOException | RuntimeException ignored) {
                // the peer is gone: it aborts by itself
            }
            return false;
        }
    }

    private void sendInventory(FrameChannel channel, TakeoverProtocol.Hello hello) throws IOException {
        List<Map.Entry<VipConfig, List<HandoverSection>>> inventory = daemon.handOverInventory();
        Lineage lineage = daemon.lineage();
        String version = Objects.requireNonNullElse(Maglevd.class.getPackage().getImplementationVersion(), "development");
        channel.send(TakeoverProtocol.INVENTORY, new TakeoverProtocol.Inventory(TakeoverProtocol.VERSION,
                ProcessHandle.current().pid(), lineage.generation(), lineage.startedAt().toEpochMilli(), version,
                inventory.size()).encode(), new int[0]);
        int sockets = 0;
        for (Map.Entry<VipConfig, List<HandoverSection>> e : inventory) {
            VipConfig vip = e.getKey();
            TakeoverProtocol.VipEntry entry = new TakeoverProtocol.VipEntry(vip.name(), vip.protocol().ipProtocol(),
                    vip.mode() == io.maglevlb.core.config.ForwardingMode.DSR, vip.listen(), e.getValue());
            int[] fds = entry.fds();
            sockets += fds.length;
            channel.send(TakeoverProtocol.VIP, entry.encode(), fds);
            LOG.info("takeover: vip {} ({} {}): {}", vip.name(), vip.protocol().configName(),
                    ConfigValues.formatSocketAddress(vip.listen()),
                    e.getValue().isEmpty() ? "nothing to hand over" : e.getValue().toString());
        }
        int adminFd = control.adminListeningFd();
        if (adminFd >= 0) {
            channel.send(TakeoverProtocol.ADMIN, TakeoverProtocol.encodeAddress(control.adminAddress()),
                    new int[] {adminFd});
            sockets++;
        }
        channel.send(TakeoverProtocol.END, new byte[0], new int[0]);
        LOG.info("takeover: sent {} VIP{} and {} socket{} to pid {}; waiting for it to serve", inventory.size(),
                inventory.size() == 1 ? "" : "s", sockets, sockets == 1 ? "" : "s", hello.pid());
    }

    private static boolean refuse(FrameChannel channel, long peerPid, String why) {
        LOG.warn("takeover: refused pid {}: {}; serving on", peerPid, why);
        try {
            channel.send(TakeoverProtocol.ABORT, TakeoverProtocol.encodeString(why), new int[0]);
        } catch (IOException | RuntimeException ignored) {
            // gone already
        }
        return false;
    }

    private static void closeFds(FrameChannel.Frame f) {
        FrameChannel.closeAll(f.fds());
    }

    private void closeListener() {
        closed = true;
        listener.shutdown();
        listener.close();
    }

    /**
     * Stops listening; removes the socket file unless a successor's socket replaced it meanwhile. Any thread.
     */
    @Override
    public void close() {
        if (!closed) {
            closeListener();
        }
        Object now = UpgradeSocket.fileKey(path);
        if (now != null && now.equals(fileKey) && !daemon.handedOver()) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                LOG.debug("could not remove {}", path, e);
            }
        }
    }
}
