package io.maglevlb.core.conntrack;

/** Flow state handed over by another process could not be read (see {@link FlowStateCodec#decode}). */
public final class FlowStateException extends Exception {
    private static final long serialVersionUID = 1L;

    public FlowStateException(String message) {
        super(message);
    }
}
