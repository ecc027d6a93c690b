package io.maglevlb.control.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.joran.spi.JoranException;
import ch.qos.logback.core.spi.FilterReply;
import ch.qos.logback.core.status.Status;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shipped logback.xml (main resources), configured into a private context with given properties. */
class LogbackConfigTest {

    private static LoggerContext configure(Map<String, String> properties) throws JoranException {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new LogbackMDCAdapter());
        properties.forEach(context::putProperty);
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        URL config = LogbackConfigTest.class.getClassLoader().getResource("logback.xml");
        configurator.doConfigure(config);
        return context;
    }

    /** Warnings and errors logback reported while configuring (it prints them all to the console then). */
    private static java.util.List<Status> problems(LoggerContext context) {
        return context.getStatusManager().getCopyOfStatusList().stream().filter(s -> s.getLevel() >= Status.WARN)
                .toList();
    }

    private static ConsoleAppender<ILoggingEvent> rootAppender(LoggerContext context, String name) {
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        return (ConsoleAppender<ILoggingEvent>) root.getAppender(name);
    }

    @Test
    void textIsTheDefaultWithTimestampLevelThreadLoggerAndMessage() throws Exception {
        LoggerContext context = configure(Map.of());
        try {
            assertEquals(java.util.List.of(), problems(context));
            ConsoleAppender<ILoggingEvent> text = rootAppender(context, "text");
            assertEquals("System.err", text.getTarget());
            PatternLayoutEncoder encoder = assertInstanceOf(PatternLayoutEncoder.class, text.getEncoder());
            Logger logger = context.getLogger("io.maglevlb.control.Example");
            LoggingEvent event = new LoggingEvent("x", logger, Level.INFO, "backend {} down", null,
                    new Object[] {"a"});
            event.setThreadName("maglev-control");
            assertEquals(FilterReply.NEUTRAL, text.getFilterChainDecision(event));
            assertEquals(FilterReply.DENY, rootAppender(context, "json").getFilterChainDecision(event));
            String line = new String(encoder.encode(event), StandardCharsets.UTF_8);
            assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\S+ INFO  \\[maglev-control\\] "
                    + "io\\.maglevlb\\.control\\.Example - backend a down\\R"), line);
            assertEquals(Level.INFO, context.getLogger("io.maglevlb").getLevel());
            assertEquals(Level.WARN, context.getLogger(Logger.ROOT_LOGGER_NAME).getLevel());
        } finally {
            context.stop();
        }
    }

    @Test
    void jsonOnASwitchWritesOneObjectPerLine() throws Exception {
        LoggerContext context = configure(Map.of("maglev.log.format", "json"));
        try {
            assertEquals(java.util.List.of(), problems(context));
            ConsoleAppender<ILoggingEvent> json = rootAppender(context, "json");
            JsonEncoder encoder = assertInstanceOf(JsonEncoder.class, json.getEncoder());
            Logger logger = context.getLogger("io.maglevlb.control.Example");
            LoggingEvent event = new LoggingEvent("x", logger, Level.WARN, "reload failed: {}", null,
                    new Object[] {"bad \"file\""});
            event.setThreadName("maglev-control");
            assertEquals(FilterReply.NEUTRAL, json.getFilterChainDecision(event));
            assertEquals(FilterReply.DENY, rootAppender(context, "text").getFilterChainDecision(event));
            String line = new String(encoder.encode(event), StandardCharsets.UTF_8);
            assertTrue(line.endsWith("\n") && line.indexOf('\n') == line.length() - 1, line);
            JsonNode node = new ObjectMapper().readTree(line);
            assertEquals("WARN", node.get("level").asText());
            assertEquals("maglev-control", node.get("threadName").asText());
            assertEquals("io.maglevlb.control.Example", node.get("loggerName").asText());
            assertEquals("reload failed: bad \"file\"", node.get("formattedMessage").asText());
            assertTrue(node.get("timestamp").asLong() > 0);
        } finally {
            context.stop();
        }
    }

    @Test
    void anUnknownFormatLogsAsTextWithAWarning() throws Exception {
        LoggerContext context = configure(Map.of("maglev.log.format", "yaml"));
        try {
            LoggingEvent event = new LoggingEvent("x", context.getLogger("io.maglevlb.X"), Level.INFO, "m", null,
                    null);
            assertEquals(FilterReply.NEUTRAL, rootAppender(context, "text").getFilterChainDecision(event));
            assertEquals(FilterReply.DENY, rootAppender(context, "json").getFilterChainDecision(event));
            assertTrue(problems(context).stream().anyMatch(s -> s.getMessage().contains("unknown log format 'yaml'")));
        } finally {
            context.stop();
        }
    }

    @Test
    void anUnknownLevelLogsAtInfoWithAWarningNotAtDebug() throws Exception {
        LoggerContext context = configure(Map.of("maglev.log.level", "verbose"));
        try {
            // Logback alone reads an unknown level name as DEBUG.
            assertEquals(Level.INFO, context.getLogger("io.maglevlb").getLevel());
            assertEquals(java.util.List.of(), problems(context), "no logback status dump");
            ch.qos.logback.core.read.ListAppender<ILoggingEvent> captured = new ch.qos.logback.core.read.ListAppender<>();
            captured.setContext(context);
            captured.start();
            Logger log = context.getLogger(LogLevelDefiner.class);
            log.addAppender(captured);
            LogLevelDefiner.warnIfRejected(context, log);
            assertEquals(1, captured.list.size());
            assertEquals(Level.WARN, captured.list.getFirst().getLevel());
            assertEquals("log level 'verbose' (MAGLEV_LOG_LEVEL or -Dmaglev.log.level) is not one of ERROR, WARN,"
                    + " INFO, DEBUG, TRACE: logging at INFO", captured.list.getFirst().getFormattedMessage());
        } finally {
            context.stop();
        }
    }

    @Test
    void aValidLevelInAnyCaseIsTakenWithoutAWarning() throws Exception {
        LoggerContext context = configure(Map.of("maglev.log.level", " trace "));
        try {
            assertEquals(Level.TRACE, context.getLogger("io.maglevlb").getLevel());
            assertTrue(LogLevelDefiner.problem(context).isEmpty());
        } finally {
            context.stop();
        }
    }

    @Test
    void levelComesFromTheSwitch() throws Exception {
        LoggerContext context = configure(Map.of("maglev.log.level", "DEBUG"));
        try {
            assertEquals(Level.DEBUG, context.getLogger("io.maglevlb").getLevel());
        } finally {
            context.stop();
        }
    }
}
