package io.maglevlb.core.config;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The admin HTTP API.
 *
 * @param listen address and port; loopback by default
 * @param tokenFile when present, every request must carry {@code Authorization: Bearer <file contents>}
 */
public record AdminConfig(InetSocketAddress listen, Optional<Path> tokenFile) {
    public static final String DEFAULT_LISTEN = "127.0.0.1:9190";
}
