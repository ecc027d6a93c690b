package io.maglevlb.dataplane;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Counts this process's open file descriptors without needing a new one: {@code /proc/self/fd} is opened once,
 * and each count rewinds it (lseek) and reads it again (getdents64). The JDK's
 * {@code UnixOperatingSystemMXBean.getOpenFileDescriptorCount()} opens the directory on every call, so it fails
 * exactly when the process is out of descriptors, and {@code process_files_open_files} then read NaN: the alert's
 * input was lost at the moment it mattered.
 *
 * <p><b>Native memory.</b> Owner: this object. The directory's descriptor and a 16 KiB entry buffer (in a shared
 * arena) live from {@link #open()} to {@link #close()}.
 *
 * <p><b>Threading.</b> {@link #count()} is synchronized (scrapes may run on several admin threads; it is not on
 * any forwarding path).
 */
public final class OpenFileCount implements AutoCloseable {
    private static final int O_RDONLY_DIRECTORY_CLOEXEC = 0x10000 | 0x80000; // O_DIRECTORY | O_CLOEXEC
    private static final int SEEK_SET = 0;
    private static final int BUFFER_SIZE = 16 * 1024;
    /** struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name. */
    private static final int RECLEN_OFFSET = 16;
    private static final int NAME_OFFSET = 19;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();

    private final Arena arena;
    private final MemorySegment buffer;
    private final MethodHandle lseek;
    private final MethodHandle getdents64;
    private final MethodHandle closeFd;
    private int fd;

    private OpenFileCount(Arena arena, MemorySegment buffer, int fd, MethodHandle lseek, MethodHandle getdents64,
            MethodHandle closeFd) {
        this.arena = arena;
        this.buffer = buffer;
        this.fd = fd;
        this.lseek = lseek;
        this.getdents64 = getdents64;
        this.closeFd = closeFd;
    }

    /** Opens {@code /proc/self/fd}; null where that is not possible (not Linux, no /proc, no getdents64). */
    public static OpenFileCount open() {
        Arena arena = Arena.ofShared();
        try {
            MethodHandle open = handle("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            MethodHandle lseek = handle("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
            MethodHandle getdents = handle("getdents64",
                    FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
            MethodHandle close = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            if (open == null || lseek == null || getdents == null || close == null) {
                arena.close();
                return null;
            }
            int fd = (int) open.invokeExact(arena.allocateFrom("/proc/self/fd"), O_RDONLY_DIRECTORY_CLOEXEC);
            if (fd < 0) {
                arena.close();
                return null;
            }
            return new OpenFileCount(arena, arena.allocate(BUFFER_SIZE, 8), fd, lseek, getdents, close);
        } catch (Throwable t) {
            arena.close();
            return null;
        }
    }

    private static MethodHandle handle(String name, FunctionDescriptor descriptor) {
        return LIBC.find(name).map(s -> LINKER.downcallHandle(s, descriptor)).orElse(null);
    }

    /** Open descriptors of the process now (including this object's own), or -1 if reading failed. */
    public synchronized long count() {
        if (fd < 0) {
            return -1;
        }
        try {
            if ((long) lseek.invokeExact(fd, 0L, SEEK_SET) < 0) {
                return -1;
            }
            long count = 0;
            while (true) {
                long n = (long) getdents64.invokeExact(fd, buffer, (long) BUFFER_SIZE);
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
        } catch (Throwable t) {
            return -1;
        }
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            try {
                int ignored = (int) closeFd.invokeExact(fd);
            } catch (Throwable t) {
                // nothing left to do
            }
            fd = -1;
            arena.close();
        }
    }
}
