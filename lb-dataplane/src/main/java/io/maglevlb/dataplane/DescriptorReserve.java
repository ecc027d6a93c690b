package io.maglevlb.dataplane;

import com.sun.management.UnixOperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * The file descriptors the forwarding path leaves to the rest of the process: the last 32, or 1 % of the limit
 * when that is more (10,485 of the systemd unit's 1,048,576). Health checks, the admin API (and with it the
 * {@code process_files_open_files} alert input), logging and the JVM's own files (its attach socket for
 * {@code jcmd}) live on them. A TCP listener stops accepting before it would eat into them (the raw relay's
 * {@code RawListener}); a UDP VIP gives a new flow's session the socket of its least recently seen flow
 * instead ({@code UdpVipLoop}).
 *
 * <p>The limit is RLIMIT_NOFILE as the process has it now (one getrlimit, no descriptor needed). It is read
 * when a listener opens and again whenever the reserve is reached, so a limit raised at run time with
 * {@code prlimit} is picked up.
 */
public final class DescriptorReserve {
    public static final long MIN_RESERVE = 32;

    private DescriptorReserve() {}

    /** RLIMIT_NOFILE (soft), or -1 when the JVM cannot tell. */
    public static long limit() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof UnixOperatingSystemMXBean unix ? unix.getMaxFileDescriptorCount() : -1;
    }

    /** The reserve for {@code limit}. */
    public static long reserve(long limit) {
        return Math.max(MIN_RESERVE, limit / 100);
    }

    public static long reserve() {
        return reserve(limit());
    }

    /**
     * The lowest socket fd number at which the forwarding path stops taking descriptors: with fds 0..n in use
     * (Linux gives the lowest free number) at most {@code limit - n - 1} are free, and a TCP client still needs
     * one.
     */
    public static long ceiling() {
        long limit = limit();
        return limit <= 0 ? Long.MAX_VALUE : limit - reserve(limit) - 1;
    }

    /**
     * The ceiling for UDP sessions: one reserve lower than {@link #ceiling()}, so that a UDP VIP whose sessions
     * fill up to it leaves the TCP listeners a reserve's worth of descriptors for their connections (a session
     * holds its descriptor for a whole idle timeout; without the gap, TCP clients waited in the listen queue
     * until a UDP burst's flows went idle).
     */
    public static long udpSessionCeiling() {
        long limit = limit();
        return limit <= 0 ? Long.MAX_VALUE : limit - 2 * reserve(limit) - 1;
    }
}
