package io.maglevlb.control.takeover;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.control.daemon.DaemonStartException;
import io.maglevlb.dataplane.handover.HandoverSection;
import io.maglevlb.dataplane.linux.UnixSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The takeover protocol over real Unix sockets: frames and their descriptors, and the new process's side against
 * an old side played by the test (versions, refusals, sections it cannot read, a mode that changed).
 */
class TakeoverProtocolTest {
    private static final InetSocketAddress WEB = new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080);

    @TempDir
    Path dir;

    @Test
    void aVipFrameCarriesItsSectionsAndTheirDescriptorsInOrder() throws IOException {
        UnixSocket[] pair = UnixSocket.pair();
        UnixSocket[] extra = UnixSocket.pair();
        try (FrameChannel a = new FrameChannel(pair[0]); FrameChannel b = new FrameChannel(pair[1])) {
            List<HandoverSection> sections = List.of(
                    HandoverSection.ofFds(HandoverSection.TCP_LISTENERS, new int[] {extra[0].fd(), extra[1].fd()}),
                    new HandoverSection(17, 3, new byte[] {1, 2, 3}, new int[0]),
                    new HandoverSection(18 | HandoverSection.REQUIRED, 1, new byte[0], new int[] {extra[0].fd()}));
            TakeoverProtocol.VipEntry sent = new TakeoverProtocol.VipEntry("web", 6, false, WEB, sections);
            a.send(TakeoverProtocol.VIP, sent.encode(), sent.fds());
            FrameChannel.Frame f = b.receive();
            assertEquals(TakeoverProtocol.VIP, f.type());
            assertEquals(3, f.fds().length);
            TakeoverProtocol.VipEntry got = TakeoverProtocol.VipEntry.decode(f.body(), f.fds());
            assertEquals("web", got.name());
            assertEquals(WEB, got.listen());
            assertEquals(3, got.sections().size());
            assertEquals(2, got.sections().get(0).fds().length);
            assertArrayEquals(new byte[] {1, 2, 3}, got.sections().get(1).data());
            assertEquals(3, got.sections().get(1).version());
            assertTrue(got.sections().get(2).required());
            assertEquals(18, got.sections().get(2).kind());
            FrameChannel.closeAll(f.fds());
            // sections that claim descriptors the frame did not carry are refused
            IOException e = assertThrows(IOException.class,
                    () -> TakeoverProtocol.VipEntry.decode(sent.encode(), new int[1]));
            assertTrue(e.getMessage().contains("descriptors"), e.getMessage());
        } finally {
            extra[0].close();
            extra[1].close();
        }
    }

    @Test
    void aFrameLargerThanTheLimitIsNotRead() throws IOException {
        UnixSocket[] pair = UnixSocket.pair();
        try (FrameChannel b = new FrameChannel(pair[1]); UnixSocket a = pair[0]) {
            a.send(new byte[] {1, 0, 0, 0, (byte) 0x7f, 0, 0, 0}, new int[0]);
            IOException e = assertThrows(IOException.class, b::receive);
            assertTrue(e.getMessage().contains("not a maglevd takeover peer"), e.getMessage());
        }
    }

    /** Plays the old process on {@code path}: reads HELLO, then runs {@code script}. */
    private CompletableFuture<Void> oldSide(Path path, Consumer<FrameChannel> script) throws IOException {
        UnixSocket listener = UnixSocket.listen(path, 1);
        return CompletableFuture.runAsync(() -> {
            try (listener; FrameChannel c = new FrameChannel(listener.accept())) {
                FrameChannel.Frame hello = c.receive();
                assertEquals(TakeoverProtocol.HELLO, hello.type());
                TakeoverProtocol.Hello h = TakeoverProtocol.Hello.decode(hello.body());
                assertEquals(TakeoverProtocol.VERSION, h.maxVersion());
                assertEquals(ProcessHandle.current().pid(), h.pid());
                script.accept(c);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    private static void send(FrameChannel c, int type, byte[] body, int[] fds) {
        try {
            c.send(type, body, fds);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static byte[] inventory(int version) {
        return new TakeoverProtocol.Inventory(version, 4100, 1, 0, "test", 1).encode();
    }

    @Test
    void aRefusalOfTheOldProcessEndsTheTakeoverWithItsReason() throws Exception {
        Path path = dir.resolve("u.sock");
        CompletableFuture<Void> old = oldSide(path, c -> send(c, TakeoverProtocol.ABORT,
                TakeoverProtocol.encodeString("protocol version: this process speaks 7..7"), new int[0]));
        TakeoverClient.TakeoverException e = assertThrows(TakeoverClient.TakeoverException.class,
                () -> TakeoverClient.connect(path));
        assertTrue(e.getMessage().contains("refused: protocol version"), e.getMessage());
        old.get();
    }

    @Test
    void aVersionThisProcessCannotReadIsRefused() throws Exception {
        Path path = dir.resolve("u.sock");
        CompletableFuture<Void> old = oldSide(path, c -> send(c, TakeoverProtocol.INVENTORY,
                inventory(TakeoverProtocol.VERSION + 1), new int[0]));
        TakeoverClient.TakeoverException e = assertThrows(TakeoverClient.TakeoverException.class,
                () -> TakeoverClient.connect(path));
        assertTrue(e.getMessage().contains("protocol version " + (TakeoverProtocol.VERSION + 1)), e.getMessage());
        old.get();
    }

    @Test
    void noRunningMaglevdIsSaidPlainly() {
        TakeoverClient.TakeoverException e = assertThrows(TakeoverClient.TakeoverException.class,
                () -> TakeoverClient.connect(dir.resolve("none.sock")));
        assertTrue(e.getMessage().contains("cannot reach a running maglevd"), e.getMessage());
    }

    @Test
    void vipsAreMatchedByProtocolAndAddressAndSectionsThatMustBeReadAreChecked() throws Exception {
        Path path = dir.resolve("u.sock");
        UnixSocket[] extra = UnixSocket.pair();
        InetSocketAddress dns = new InetSocketAddress(InetAddress.getLoopbackAddress(), 5353);
        InetSocketAddress other = new InetSocketAddress(InetAddress.getLoopbackAddress(), 9999);
        CompletableFuture<Void> old = oldSide(path, c -> {
            send(c, TakeoverProtocol.INVENTORY, inventory(TakeoverProtocol.VERSION), new int[0]);
            TakeoverProtocol.VipEntry web = new TakeoverProtocol.VipEntry("web-old-name", 6, false, WEB, List.of(
                    HandoverSection.ofFds(HandoverSection.TCP_LISTENERS, new int[] {extra[0].fd()}),
                    new HandoverSection(40, 1, new byte[] {9}, new int[0])));
            send(c, TakeoverProtocol.VIP, web.encode(), web.fds());
            TakeoverProtocol.VipEntry udp = new TakeoverProtocol.VipEntry("dns", 17, false, dns, List.of(
                    new HandoverSection(41 | HandoverSection.REQUIRED, 1, new byte[0], new int[0])));
            send(c, TakeoverProtocol.VIP, udp.encode(), udp.fds());
            TakeoverProtocol.VipEntry dsr = new TakeoverProtocol.VipEntry("d", 6, true, other, List.of());
            send(c, TakeoverProtocol.VIP, dsr.encode(), dsr.fds());
            send(c, TakeoverProtocol.END, new byte[0], new int[0]);
        });
        try (TakeoverClient client = TakeoverClient.connect(path)) {
            old.get();
            assertEquals(1, client.parentGeneration());
            assertEquals(4100, client.parentPid());
            // by protocol and address, whatever the name
            List<HandoverSection> web = client.take(TestVips.tcp("web", WEB)).orElseThrow();
            assertEquals(2, web.size());
            FrameChannel.closeAll(web.get(0).fds());
            assertTrue(client.take(TestVips.tcp("web2", WEB)).isEmpty(), "taken once");
            assertTrue(client.take(TestVips.udp("web-udp", WEB)).isEmpty(), "udp on the same port is another socket");
            DaemonStartException required = assertThrows(DaemonStartException.class,
                    () -> client.take(TestVips.udp("dns", dns)));
            assertTrue(required.getMessage().contains("cannot read"), required.getMessage());
            DaemonStartException mode = assertThrows(DaemonStartException.class,
                    () -> client.take(TestVips.tcp("d", other)));
            assertTrue(mode.getMessage().contains("mode dsr"), mode.getMessage());
        } finally {
            extra[0].close();
            extra[1].close();
        }
    }

    @Test
    void theSuccessorRunsTheSameCommandLineWithTakeoverAfterRun() {
        assertEquals(List.of("/opt/maglevd/runtime/bin/java", "-Xmx256m", "-cp", "/opt/maglevd/lib/*",
                        "io.maglevlb.control.cli.MaglevdMain", "run", "--takeover", "--config", "/etc/maglevd/maglevd.yaml"),
                UpgradeServer.successorCommand(List.of("/opt/maglevd/runtime/bin/java", "-Xmx256m", "-cp",
                        "/opt/maglevd/lib/*", "io.maglevlb.control.cli.MaglevdMain", "run", "--config",
                        "/etc/maglevd/maglevd.yaml")));
        List<String> again = List.of("java", "Main", "run", "--config", "f", "--takeover");
        assertEquals(again, UpgradeServer.successorCommand(again));
        assertThrows(IllegalStateException.class, () -> UpgradeServer.successorCommand(List.of("java", "Main", "check")));
    }
}
