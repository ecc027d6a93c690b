package io.maglevlb.dataplane.tcp;

import java.net.InetSocketAddress;

/** A VIP could not listen on its address; the message names both and the system's reason, in one line. */
public final class VipBindException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String vip;
    private final InetSocketAddress address;

    public VipBindException(String vip, InetSocketAddress address, Throwable cause) {
        super("vip " + vip + ": cannot listen on " + format(address) + ": " + reason(cause), cause);
        this.vip = vip;
        this.address = address;
    }

    public String vip() {
        return vip;
    }

    public InetSocketAddress address() {
        return address;
    }

    /** {@code 127.0.0.1:8080} or {@code [::1]:8080}: the address as an operator wrote it. */
    public static String format(InetSocketAddress address) {
        String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    /** The system's words, without Netty's "bind(..) failed: " prefix. */
    private static String reason(Throwable cause) {
        String message = cause.getMessage();
        if (message == null || message.isBlank()) {
            return cause.getClass().getSimpleName();
        }
        int colon = message.indexOf("failed: ");
        return colon >= 0 ? message.substring(colon + "failed: ".length()) : message;
    }
}
