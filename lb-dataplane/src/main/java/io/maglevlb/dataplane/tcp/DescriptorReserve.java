package io.maglevlb.dataplane.tcp;

import com.sun.management.UnixOperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * The file descriptors the raw relay leaves to the rest of the process: the last 32, or 1 % of the limit when
 * that is more (10,485 of the systemd unit's 1,048,576). Health checks, the admin API (and with it the
 * {@code process_files_open_files} alert input), logging and the JVM's own files live on them; a listener stops
 * accepting before it would eat into them (see {@link RawListener#handle}).
 *
 * <p>The limit is RLIMIT_NOFILE as the process has it now (one getrlimit, no descriptor needed). It is read
 * when a listener opens and again whenever the reserve is reached, so a limit raised at run time with
 * {@code prlimit} is picked up.
 */
final class DescriptorReserve {
    static final long MIN_RESERVE = 32;

    private DescriptorReserve() {}

    /** RLIMIT_NOFILE (soft), or -1 when the JVM cannot tell. */
    static long limit() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof UnixOperatingSystemMXBean unix ? unix.getMaxFileDescriptorCount() : -1;
    }

    /** The reserve for {@code limit}. */
    static long reserve(long limit) {
        return Math.max(MIN_RESERVE, limit / 100);
    }

    static long reserve() {
        return reserve(limit());
    }

    /**
     * The lowest backend socket fd number at which a listener stops accepting: with fds 0..n in use (Linux gives
     * the lowest free number) at most {@code limit - n - 1} are free, and the client still needs one.
     */
    static long ceiling() {
        long limit = limit();
        return limit <= 0 ? Long.MAX_VALUE : limit - reserve(limit) - 1;
    }
}
