package io.maglevlb.control.logging;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.PropertyDefinerBase;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validates the log level chosen in logback.xml ({@code -Dmaglev.log.level} or {@code MAGLEV_LOG_LEVEL}).
 * Logback reads an unknown level name as DEBUG, so a typo ({@code MAGLEV_LOG_LEVEL=inf}) used to turn on debug
 * logging silently; this definer turns anything but ERROR, WARN, INFO, DEBUG or TRACE (any case) into INFO.
 *
 * <pre>{@code
 * <define name="MAGLEV_LOG_LEVEL_EFFECTIVE" class="io.maglevlb.control.logging.LogLevelDefiner">
 *   <value>${maglev.log.level:-${MAGLEV_LOG_LEVEL:-INFO}}</value>
 * </define>
 * }</pre>
 *
 * A rejected value is left in the logger context as the property {@link #PROBLEM_PROPERTY}; logging cannot
 * log while it is being configured, so {@link #warnIfRejected()} logs it as a WARN once the log is up (maglevd
 * calls it at start). Logback's own status warnings are not used: they print logback's whole status list.
 */
public final class LogLevelDefiner extends PropertyDefinerBase {
    /** Context property holding the warning about a rejected level, absent when the level was valid. */
    public static final String PROBLEM_PROPERTY = "maglev.log.levelProblem";
    static final List<String> LEVELS = List.of("ERROR", "WARN", "INFO", "DEBUG", "TRACE");
    static final String FALLBACK = "INFO";

    private String value;

    public void setValue(String value) {
        this.value = value;
    }

    @Override
    public String getPropertyValue() {
        String given = value == null ? "" : value.strip();
        String upper = given.toUpperCase(Locale.ROOT);
        if (LEVELS.contains(upper)) {
            return upper;
        }
        String problem = "log level '" + given + "' (MAGLEV_LOG_LEVEL or -Dmaglev.log.level) is not one of "
                + String.join(", ", LEVELS) + ": logging at " + FALLBACK;
        if (getContext() != null) {
            getContext().putProperty(PROBLEM_PROPERTY, problem);
        }
        addInfo(problem);
        return FALLBACK;
    }

    /** The warning about a rejected level in {@code context}, if there was one. */
    public static Optional<String> problem(LoggerContext context) {
        return Optional.ofNullable(context.getProperty(PROBLEM_PROPERTY));
    }

    /** Logs the warning about a rejected level, if logback is the SLF4J backend and there was one. */
    public static void warnIfRejected() {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (factory instanceof LoggerContext context) {
            warnIfRejected(context, context.getLogger(LogLevelDefiner.class));
        }
    }

    static void warnIfRejected(LoggerContext context, Logger log) {
        problem(context).ifPresent(log::warn);
    }
}
