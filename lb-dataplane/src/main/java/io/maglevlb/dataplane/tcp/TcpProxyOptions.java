package io.maglevlb.dataplane.tcp;

/**
 * Daemon-wide TCP relay settings that are not part of a VIP's configuration.
 *
 * @param writeBufferLowWaterMark NIO engine: bytes queued toward one peer below which the other peer is read again
 * @param writeBufferHighWaterMark NIO engine: bytes queued toward one peer above which the other peer is no longer
 *     read: with one read chunk on top, the most a connection buffers per direction when a peer stops reading (the
 *     raw relay holds at most one read chunk)
 * @param splice raw relay: bulk directions move through a pipe with splice(2) instead of the relay buffer (see
 *     docs/tcp-proxy.md, "Splice"); on by default, off with {@value #SPLICE_PROPERTY}{@code =false}
 */
public record TcpProxyOptions(int writeBufferLowWaterMark, int writeBufferHighWaterMark, boolean splice) {
    /** System property: {@code false} keeps the raw relay's bulk transfers on the relay buffer (no splice). */
    public static final String SPLICE_PROPERTY = "maglevd.tcp.splice";
    /**
     * Former system property choosing the epoll relay engine: only {@code raw} remains (the one engine with epoll);
     * {@code channels} is refused.
     */
    public static final String ENGINE_PROPERTY = "maglevd.tcp.engine";
    public static final int DEFAULT_WRITE_BUFFER_LOW_WATER_MARK = 32 * 1024;
    public static final int DEFAULT_WRITE_BUFFER_HIGH_WATER_MARK = 64 * 1024;

    public TcpProxyOptions {
        if (writeBufferLowWaterMark < 0 || writeBufferHighWaterMark < writeBufferLowWaterMark) {
            throw new IllegalArgumentException("write buffer water marks must satisfy 0 <= low <= high, were "
                    + writeBufferLowWaterMark + " and " + writeBufferHighWaterMark);
        }
    }

    public static TcpProxyOptions defaults() {
        return new TcpProxyOptions(DEFAULT_WRITE_BUFFER_LOW_WATER_MARK, DEFAULT_WRITE_BUFFER_HIGH_WATER_MARK, true);
    }

    /**
     * The defaults with {@value #SPLICE_PROPERTY} applied, after checking that the removed {@value #ENGINE_PROPERTY}
     * property, when set, asks for nothing that is gone.
     *
     * @throws IllegalArgumentException naming the property and what to do instead
     */
    public static TcpProxyOptions fromSystemProperties() {
        String splice = System.getProperty(SPLICE_PROPERTY, "true");
        if (!splice.equals("true") && !splice.equals("false")) {
            throw new IllegalArgumentException("system property " + SPLICE_PROPERTY + " must be true or false, was '"
                    + splice + "'");
        }
        String engine = System.getProperty(ENGINE_PROPERTY);
        if (engine != null && !engine.equals("raw")) {
            throw new IllegalArgumentException("system property " + ENGINE_PROPERTY + " is no longer supported (was '"
                    + engine + "'): with epoll the raw relay is the one TCP engine; -Dmaglevd.transport=nio selects "
                    + "the portable one");
        }
        return defaults().withSplice(Boolean.parseBoolean(splice));
    }

    public TcpProxyOptions withSplice(boolean value) {
        return new TcpProxyOptions(writeBufferLowWaterMark, writeBufferHighWaterMark, value);
    }
}
