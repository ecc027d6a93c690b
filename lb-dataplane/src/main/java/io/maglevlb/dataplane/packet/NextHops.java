package io.maglevlb.dataplane.packet;

/**
 * Where each backend's frames go at the link layer: the Ethernet address of the backend (l2) or of the next hop
 * toward it (ipip/gue), and for encapsulation the backend's IPv4 address (outer destination). Indexed by backend
 * id; 0 = not resolved. Immutable; published by the {@link NextHopResolver} with one volatile store and read by
 * forwarding threads once per batch.
 */
final class NextHops {
    static final NextHops EMPTY = new NextHops(new long[0], new int[0]);

    private final long[] macById;
    private final int[] outerDestinationById;

    NextHops(long[] macById, int[] outerDestinationById) {
        this.macById = macById;
        this.outerDestinationById = outerDestinationById;
    }

    long mac(int backendId) {
        return backendId < macById.length ? macById[backendId] : 0L;
    }

    int outerDestination(int backendId) {
        return backendId < outerDestinationById.length ? outerDestinationById[backendId] : 0;
    }

    boolean sameAs(long[] macs, int[] destinations) {
        return java.util.Arrays.equals(macById, macs) && java.util.Arrays.equals(outerDestinationById, destinations);
    }
}
