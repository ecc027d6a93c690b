package io.maglevlb.control.daemon;

/** The daemon could not start; the message is one line an operator can act on. */
public final class DaemonStartException extends Exception {
    private static final long serialVersionUID = 1L;

    public DaemonStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
