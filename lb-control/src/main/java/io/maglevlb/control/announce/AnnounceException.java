package io.maglevlb.control.announce;

/** Announcing cannot start: the message says what failed and what to do about it. */
public final class AnnounceException extends Exception {
    private static final long serialVersionUID = 1L;

    public AnnounceException(String message, Throwable cause) {
        super(message, cause);
    }

    public AnnounceException(String message) {
        super(message);
    }
}
