package io.maglevlb.dataplane.tcp;

/**
 * Daemon-wide TCP relay settings that are not part of a VIP's configuration.
 *
 * @param splice move bytes with splice(2) (epoll only) instead of reading them into buffers; see
 *     docs/tcp-proxy.md for the measurement behind the default and what splice mode does not count
 * @param rawRelay with epoll and without splice, relay on raw sockets registered with the event loop
 *     ({@link RawTcpConnection}) rather than through Netty channels ({@link TcpConnection}); see
 *     docs/tcp-proxy.md
 * @param writeBufferLowWaterMark channel engine: bytes queued toward one peer below which the other peer is read
 *     again
 * @param writeBufferHighWaterMark channel engine: bytes queued toward one peer above which the other peer is no
 *     longer read: with one read chunk on top, the most a connection buffers per direction when a peer stops
 *     reading (the raw relay holds at most one read chunk)
 */
public record TcpProxyOptions(boolean splice, boolean rawRelay, int writeBufferLowWaterMark,
        int writeBufferHighWaterMark) {
    /** System property that turns splice mode on or off ({@code true}/{@code false}). */
    public static final String SPLICE_PROPERTY = "maglevd.tcp.splice";
    /** Plain relay by default: it was as fast or faster in the measurement in docs/tcp-proxy.md. */
    public static final boolean DEFAULT_SPLICE = false;
    /** System property choosing the epoll relay engine: {@code raw} (default) or {@code channels}. */
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
        return new TcpProxyOptions(DEFAULT_SPLICE, true, DEFAULT_WRITE_BUFFER_LOW_WATER_MARK,
                DEFAULT_WRITE_BUFFER_HIGH_WATER_MARK);
    }

    /**
     * The defaults, with {@code splice} and the engine taken from the {@value #SPLICE_PROPERTY} and
     * {@value #ENGINE_PROPERTY} system properties when set.
     */
    public static TcpProxyOptions fromSystemProperties() {
        TcpProxyOptions options = defaults();
        String splice = System.getProperty(SPLICE_PROPERTY);
        if (splice != null) {
            if (!splice.equals("true") && !splice.equals("false")) {
                throw new IllegalArgumentException(
                        "system property " + SPLICE_PROPERTY + " must be true or false, was '" + splice + "'");
            }
            options = options.withSplice(Boolean.parseBoolean(splice));
        }
        String engine = System.getProperty(ENGINE_PROPERTY);
        if (engine != null) {
            if (!engine.equals("raw") && !engine.equals("channels")) {
                throw new IllegalArgumentException(
                        "system property " + ENGINE_PROPERTY + " must be raw or channels, was '" + engine + "'");
            }
            options = options.withRawRelay(engine.equals("raw"));
        }
        return options;
    }

    public TcpProxyOptions withSplice(boolean value) {
        return new TcpProxyOptions(value, rawRelay, writeBufferLowWaterMark, writeBufferHighWaterMark);
    }

    public TcpProxyOptions withRawRelay(boolean value) {
        return new TcpProxyOptions(splice, value, writeBufferLowWaterMark, writeBufferHighWaterMark);
    }
}
