package io.maglevlb.dataplane.packet;

/** The packet engine could not be set up: the message says what failed and, where it can, what to do. */
public final class PacketEngineException extends Exception {
    private static final long serialVersionUID = 1L;

    public PacketEngineException(String message) {
        super(message);
    }

    public PacketEngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
