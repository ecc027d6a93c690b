package io.maglevlb.control.it;

import static io.maglevlb.control.it.ConfigYaml.backend;
import static io.maglevlb.control.it.ConfigYaml.config;
import static io.maglevlb.control.it.ConfigYaml.noCheck;
import static io.maglevlb.control.it.ConfigYaml.vip;
import static io.maglevlb.control.it.InProcessDaemon.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while clients wait in a VIP's accept queue: the real daemon in its own JVM (epoll, the raw relay). The
 * queue is filled deterministically as in {@link ReloadListenerOverlapProcessIT}: {@code max_connections: 1} and
 * one held connection pause the listeners, so every further client completes its handshake in the kernel, sends
 * its request and waits in the queue. Pass: after SIGTERM the held connection still relays, a new client is not
 * served, every queued client gets its whole answer once the held connection ends, and the process exits 0
 * within {@code shutdown_timeout}. Before, shutdown closed the listeners at once and reset every queued client.
 *
 * <p>Waits are event-based (log lines, reads, joins), never fixed sleeps.
 */
class GracefulStopProcessIT {
    private static final Duration STARTUP = Duration.ofSeconds(90);
    private static final int QUEUED = 16;

    @TempDir
    Path dir;

    @Test
    void sigtermServesTheConnectionsQueuedAtThatMomentAndExitsZero() throws Exception {
        int adminPort = freePort();
        int port = freePort();
        try (NamedEchoBackend a = new NamedEchoBackend("a");
             NamedEchoBackend b = new NamedEchoBackend("b")) {
            String yaml = config(adminPort, vip("web", port, noCheck(), backend(a), backend(b))
                    .replace("    connect_timeout: 1s\n", "    connect_timeout: 1s\n    max_connections: 1\n"))
                    // generous: the loaded test host must not turn a slow drain into a forced close
                    .replace("shutdown_timeout: 5s", "shutdown_timeout: 120s");
            Path config = Files.writeString(dir.resolve("maglevd.yaml"), yaml);
            try (DaemonProcess maglevd = DaemonProcess.start(dir.resolve("maglevd.log"), List.of(), "run",
                    "--config", config.toString())) {
                maglevd.awaitLine("maglevd running", STARTUP);
                Socket held = QueuedClients.holdTheOnlySlot(port, Duration.ofSeconds(60));
                QueuedClients queued = QueuedClients.start(port, QUEUED, Duration.ofSeconds(90));
                try {
                    maglevd.terminate();
                    maglevd.awaitLine("shutting down", STARTUP);

                    // An open connection goes on relaying while the daemon drains.
                    held.getOutputStream().write('?');
                    assertEquals('?', held.getInputStream().read(), "the held connection still relays");

                    // No new handshake is served: its SYN is dropped while the listeners drain, and refused once
                    // they closed (the retransmission, 1 s later).
                    assertThrows(ConnectException.class, () -> {
                        try (Socket s = new Socket()) {
                            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 30_000);
                        }
                    });
                    assertTrue(maglevd.isAlive(), "maglevd waits for the held connection\n" + maglevd.output());

                    held.shutdownOutput(); // the held connection ends: its slot goes to the queued clients
                    assertEquals(-1, held.getInputStream().read(), "the held connection ends cleanly");
                    queued.join(Duration.ofSeconds(120));
                } finally {
                    held.close();
                    queued.join(Duration.ofSeconds(120));
                }
                System.out.printf("SIGTERM with %d queued: %d served, failures %s%n", QUEUED, queued.served.get(),
                        queued.failures);
                assertEquals(List.of(), queued.failures, "clients that waited in the accept queue at SIGTERM");
                assertEquals(QUEUED, queued.served.get());
                assertEquals(0, maglevd.awaitExit(Duration.ofSeconds(120)), maglevd.output());
                String log = maglevd.output();
                assertTrue(log.contains("maglevd stopped"), log);
                assertFalse(log.contains("shutdown timeout"), "every connection finished by itself\n" + log);
            }
        }
    }
}
