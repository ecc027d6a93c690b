package io.maglevlb.dataplane;

import io.netty.channel.unix.Errors;
import java.util.Locale;

/**
 * Why a system call of the forwarding path failed for a reason of this host, not of a backend: the process or
 * the system ran out of file descriptors, of ephemeral ports, or of socket buffers and memory. Such a failure
 * says nothing about the backend the socket was for, so it is counted apart
 * ({@code maglev_local_errors_total{reason}}) and never as a backend's connect failure or as health input.
 *
 * <p>errno values are Linux's (the same on x86-64 and arm64).
 */
public enum LocalError {
    /** EMFILE (the process's RLIMIT_NOFILE) or ENFILE (the system's file-max). */
    FD_LIMIT("fd_limit"),
    /** EADDRNOTAVAIL on connect: no free ephemeral port toward that address. */
    EPHEMERAL_PORTS("ephemeral_ports"),
    /** ENOBUFS or ENOMEM: socket buffers or kernel memory. */
    BUFFERS("buffers");

    public static final int ENOMEM = 12;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENOBUFS = 105;

    private static final LocalError[] VALUES = values();

    private final String metricName;

    LocalError(String metricName) {
        this.metricName = metricName;
    }

    /** The {@code reason} label. */
    public String metricName() {
        return metricName;
    }

    /** How many reasons there are: the length of a per-reason counter array indexed by {@link #ordinal()}. */
    public static int count() {
        return VALUES.length;
    }

    /** The reason behind {@code errno} (positive), or null when it is not a local resource error. */
    public static LocalError ofErrno(int errno) {
        return switch (errno) {
            case EMFILE, ENFILE -> FD_LIMIT;
            case EADDRNOTAVAIL -> EPHEMERAL_PORTS;
            case ENOBUFS, ENOMEM -> BUFFERS;
            default -> null;
        };
    }

    /**
     * The reason behind a failed Netty channel operation (socket creation, registration or connect), or null.
     * Reads the errno of Netty's native exceptions, else the JDK's message (NIO), along the cause chain.
     */
    public static LocalError of(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof Errors.NativeIoException e) {
                LocalError r = ofErrno(-e.expectedErr());
                if (r != null) {
                    return r;
                }
            }
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (m.contains("too many open files")) {
                return FD_LIMIT;
            }
            if (m.contains("cannot assign requested address")) {
                return EPHEMERAL_PORTS;
            }
            if (m.contains("no buffer space available") || m.contains("cannot allocate memory")) {
                return BUFFERS;
            }
        }
        return null;
    }
}
