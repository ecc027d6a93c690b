package io.maglevlb.dataplane;

import io.maglevlb.core.config.ConfigValues;
import java.net.InetSocketAddress;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A VIP could not listen on its address; the message names both and the system's reason, in one line. */
public final class VipBindException extends Exception {
    private static final long serialVersionUID = 1L;

    private static final Pattern NATIVE_PREFIX =
            Pattern.compile("\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: (.*)");

    private final String vip;
    private final InetSocketAddress address;

    public VipBindException(String vip, InetSocketAddress address, Throwable cause) {
        super("vip " + vip + ": cannot listen on " + ConfigValues.formatSocketAddress(address) + ": " + reason(cause), cause);
        this.vip = vip;
        this.address = address;
    }

    public String vip() {
        return vip;
    }

    public InetSocketAddress address() {
        return address;
    }

    /**
     * The message with the configuration key that holds the address: {@code vip web: cannot listen on
     * 127.0.0.1:8080 (vips[0].listen): Address already in use}.
     */
    public String describe(String configKey) {
        return "vip " + vip + ": cannot listen on " + ConfigValues.formatSocketAddress(address) + " (" + configKey
                + "): " + reason(getCause() == null ? this : getCause());
    }


    /**
     * The system's words for a failed bind ("Address already in use"), without the prefix Netty's native
     * transport adds ("bind(..) failed with error(-98): ").
     */
    public static String reason(Throwable cause) {
        String message = cause.getMessage();
        if (message == null || message.isBlank()) {
            return cause.getClass().getSimpleName();
        }
        Matcher m = NATIVE_PREFIX.matcher(message);
        return m.matches() ? m.group(1) : message;
    }
}
