package io.maglevlb.control.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.dataplane.Transport;
import io.maglevlb.dataplane.tcp.TcpProxyOptions;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A second signal cuts the shutdown wait short: the log says that, not "shutdown timeout reached" (which would
 * send an operator looking at shutdown_timeout).
 */
class SecondSignalLogTest {
    @Test
    void cuttingTheWaitShortIsLoggedAsSuch() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(Maglevd.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try (ServerSocket backend = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            InetSocketAddress vip = TestConfigs.freeLoopbackAddress();
            Maglevd d = new Maglevd(TestConfigs.config(Duration.ofMinutes(5), TestConfigs.tcpVip("web", vip,
                    List.of(new BackendConfig("b", (InetSocketAddress) backend.getLocalSocketAddress(), 1)))),
                    new DaemonOptions(TcpProxyOptions.defaults(), Transport.detect()));
            d.start();
            try (Socket client = new Socket()) {
                client.connect(vip, 10_000);
                try (Socket accepted = backend.accept()) {
                    OutputStream out = client.getOutputStream();
                    out.write(1);
                    InputStream in = accepted.getInputStream();
                    assertEquals(1, in.read());
                    CompletableFuture<Boolean> shutdown =
                            CompletableFuture.supplyAsync(() -> d.shutdown(Duration.ofMinutes(5)));
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (messages(appender).stream()
                            .noneMatch(m -> m.startsWith("shutting down: no new connections"))) {
                        assertTrue(System.nanoTime() < deadline,
                                "shutdown never started waiting: " + messages(appender));
                        Thread.sleep(20);
                    }
                    d.stopWaitingForConnections(); // what the second SIGTERM does
                    assertFalse(shutdown.get(30, TimeUnit.SECONDS), "a connection was still open");
                }
            }
            List<String> logged = messages(appender);
            assertTrue(logged.contains("second signal: closing 1 connection still open"), logged.toString());
            assertTrue(logged.stream().noneMatch(m -> m.contains("shutdown timeout")), logged.toString());
        } finally {
            logger.detachAppender(appender);
        }
    }

    private static List<String> messages(ListAppender<ILoggingEvent> appender) {
        synchronized (appender.list) {
            return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        }
    }
}
