package io.maglevlb.control.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.maglevlb.core.config.BackendConfig;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The warning when a VIP's table has no backend: once per transition into that state, with the reason. */
class VipRuntimeEmptyTableTest {
    private final Logger logger = (Logger) LoggerFactory.getLogger(VipRuntime.class);
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    @BeforeEach
    void capture() {
        appender.start();
        logger.addAppender(appender);
    }

    @AfterEach
    void release() {
        logger.detachAppender(appender);
    }

    private static VipRuntime vip(int... weights) {
        List<BackendConfig> backends = new java.util.ArrayList<>();
        for (int i = 0; i < weights.length; i++) {
            backends.add(new BackendConfig("b" + (i + 1), new InetSocketAddress("127.0.0.1", 9001 + i), weights[i]));
        }
        return new VipRuntime(TestConfigs.tcpVip("web", new InetSocketAddress("127.0.0.1", 8080), backends));
    }

    private List<String> warnings() {
        List<String> w = appender.list.stream().filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage).toList();
        appender.list.clear();
        return w;
    }

    private List<String> infosAbout(String text) {
        return appender.list.stream().filter(e -> e.getLevel() == Level.INFO)
                .map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains(text)).toList();
    }

    @Test
    void drainingEveryBackendWarnsOnce() {
        VipRuntime v = vip(1, 1, 1);
        v.setDrained("b1", true);
        v.setDrained("b2", true);
        assertEquals(List.of(), warnings(), "b3 still takes new connections");
        v.setDrained("b3", true);
        assertEquals(List.of("vip web: no backend can take new connections (every backend is drained); new clients"
                + " are refused until one is up and undrained"), warnings());
        // More events while it stays empty: no more warnings.
        v.setHealthy("b1", false, "connection refused");
        v.setHealthy("b2", false, "connection refused");
        v.rebuildAndPublish();
        assertEquals(List.of(), warnings());

        v.setDrained("b3", false);
        assertEquals(List.of("vip web: backends can take new connections again (1 of 3 in table)"),
                infosAbout("again"));
        assertEquals(List.of(), warnings());
        v.setHealthy("b3", false, "timeout");
        assertEquals(List.of("vip web: no backend can take new connections (every backend is down); new clients are"
                + " refused until one is up and undrained"), warnings(), "a new transition warns again");
    }

    @Test
    void theReasonCountsEachState() {
        VipRuntime v = vip(1, 1, 0);
        v.setHealthy("b1", false, "refused");
        v.setDrained("b2", true);
        List<String> w = warnings();
        assertEquals(1, w.size(), w::toString);
        assertTrue(w.getFirst().contains("(of 3 backends 1 down, 1 drained, 1 with weight 0)"), w::toString);
    }

    @Test
    void aVipThatStartsWithEveryBackendAtWeightZeroWarnsAtOnce() {
        vip(0, 0);
        assertEquals(List.of("vip web: no backend can take new connections (every backend has weight 0); new clients"
                + " are refused until one is up and undrained"), warnings());
    }
}
