package io.maglevlb.control.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.Locale;

/**
 * Picks the log format in logback.xml without conditional configuration (which needs Janino): both the text
 * and the JSON appender are attached, and this filter on each lets events through only on the appender of
 * the chosen format. Any value other than {@code json} means text, so a typo cannot silence the log.
 *
 * <pre>{@code
 * <filter class="io.maglevlb.control.logging.LogFormatFilter">
 *   <format>${MAGLEV_LOG_FORMAT_EFFECTIVE}</format>   <!-- the chosen format -->
 *   <appenderFormat>json</appenderFormat>             <!-- this appender's format -->
 * </filter>
 * }</pre>
 *
 * <p>The decision is made once at start; per event it is one field read.
 */
public final class LogFormatFilter extends Filter<ILoggingEvent> {
    public static final String JSON = "json";
    public static final String TEXT = "text";

    private String format = TEXT;
    private String appenderFormat = TEXT;
    private FilterReply reply = FilterReply.NEUTRAL;

    public void setFormat(String format) {
        this.format = format == null ? TEXT : format.strip().toLowerCase(Locale.ROOT);
    }

    public void setAppenderFormat(String appenderFormat) {
        this.appenderFormat = appenderFormat == null ? TEXT : appenderFormat.strip().toLowerCase(Locale.ROOT);
    }

    @Override
    public void start() {
        String chosen = JSON.equals(format) ? JSON : TEXT;
        if (!JSON.equals(format) && !TEXT.equals(format)) {
            addWarn("unknown log format '" + format + "' (use text or json): logging as text");
        }
        reply = chosen.equals(JSON.equals(appenderFormat) ? JSON : TEXT) ? FilterReply.NEUTRAL : FilterReply.DENY;
        super.start();
    }

    @Override
    public FilterReply decide(ILoggingEvent event) {
        return reply;
    }
}
