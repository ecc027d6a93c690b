package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * Counts this process's open file descriptors without needing a new one: {@code /proc/self/fd} is opened once,
 * and each count rewinds it (lseek) and reads it again (getdents64). The JDK's
 * {@code UnixOperatingSystemMXBean.getOpenFileDescriptorCount()} opens the directory on every call, so it fails
 * exactly when the process is out of descriptors, and {@code process_files_open_files} then read NaN: the alert's
 * input was lost at the moment it mattered.
 *
 * <p><b>Native memory.</b> Owner: this object, through its own {@link LinuxNative}. The directory's descriptor and
 * a 16 KiB entry buffer (in that instance's arena) live from {@link #open()} to {@link #close()}; a count
 * allocates nothing.
 *
 * <p><b>Threading.</b> {@link #count()} is synchronized (scrapes may run on several admin threads; it is not on
 * any forwarding path), which also keeps the {@link LinuxNative} to one thread at a time.
 */
public final class OpenFileCount implements AutoCloseable {
    private static final int O_RDONLY_DIRECTORY_CLOEXEC = 0x10000 | LinuxNative.O_CLOEXEC; // O_DIRECTORY
    private static final int BUFFER_SIZE = 16 * 1024;
    /** struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name. */
    private static final int RECLEN_OFFSET = 16;
    private static final int NAME_OFFSET = 19;

    private final LinuxNative sys;
    private final MemorySegment buffer;
    private int fd;

    private OpenFileCount(LinuxNative sys, MemorySegment buffer, int fd) {
        this.sys = sys;
        this.buffer = buffer;
        this.fd = fd;
    }

    /** Opens {@code /proc/self/fd}; null where that is not possible (not Linux, no /proc, no getdents64). */
    public static OpenFileCount open() {
        LinuxNative sys;
        try {
            sys = new LinuxNative();
        } catch (Throwable t) { // LinkageError (no libc symbols: not Linux) or no FFM access
            return null;
        }
        try {
            if (!sys.hasGetdents64()) {
                sys.close();
                return null;
            }
            int fd = sys.open("/proc/self/fd", O_RDONLY_DIRECTORY_CLOEXEC);
            if (fd < 0) {
                sys.close();
                return null;
            }
            return new OpenFileCount(sys, sys.allocate(BUFFER_SIZE), fd);
        } catch (RuntimeException | LinkageError e) {
            sys.close();
            return null;
        }
    }

    /** Open descriptors of the process now (including this object's own), or -1 if reading failed. */
    public synchronized long count() {
        if (fd < 0) {
            return -1;
        }
        try {
            if (sys.lseek(fd, 0L, LinuxNative.SEEK_SET) < 0) {
                return -1;
            }
            long count = 0;
            while (true) {
                long n = sys.getdents64(fd, buffer, BUFFER_SIZE);
                if (n < 0) {
                    return -1;
                }
                if (n == 0) {
                    return count;
                }
                for (long at = 0; at < n; ) {
                    byte first = buffer.get(JAVA_BYTE, at + NAME_OFFSET);
                    if (first >= '0' && first <= '9') { // skips "." and ".."
                        count++;
                    }
                    at += Short.toUnsignedInt(buffer.get(JAVA_SHORT, at + RECLEN_OFFSET));
                }
            }
        } catch (RuntimeException e) {
            return -1;
        }
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            sys.closeFd(fd);
            fd = -1;
            sys.close();
        }
    }
}
