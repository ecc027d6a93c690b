package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * A signal's disposition, for the one case the JVM cannot handle itself: a signal the process was started with
 * ignored ({@code nohup} ignores SIGHUP, and so does any parent that ran with SIGHUP ignored, since exec keeps
 * ignored signals ignored). HotSpot then declines to install a Java handler for it without an error, so maglevd's
 * reload on SIGHUP would silently never run; a C daemon (nginx, HAProxy) simply installs its handler over the
 * ignored disposition, which resetting it to the default first lets the JVM do too.
 */
public final class SignalDisposition {
    public static final int SIGHUP = 1;

    private static final MemorySegment SIG_DFL = MemorySegment.NULL;
    private static final long SIG_IGN = 1;
    private static final long SIG_ERR = -1;

    /** {@code sighandler_t signal(int signum, sighandler_t handler)} from libc; bound on first use. */
    private static final class Holder {
        static final MethodHandle SIGNAL = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().find("signal").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    }

    private SignalDisposition() {}

    /**
     * Sets {@code signo}'s action to the default. Call it only while no Java handler is installed for the signal
     * (it would be replaced).
     *
     * @return true when the previous action was to ignore the signal
     * @throws IllegalStateException when the C library refuses (an invalid signal number)
     */
    public static boolean resetToDefault(int signo) {
        MemorySegment previous;
        try {
            previous = (MemorySegment) Holder.SIGNAL.invokeExact(signo, SIG_DFL);
        } catch (Throwable t) {
            throw new IllegalStateException("signal(" + signo + ", SIG_DFL) failed: " + t, t);
        }
        if (previous.address() == SIG_ERR) {
            throw new IllegalStateException("signal(" + signo + ", SIG_DFL) refused");
        }
        return previous.address() == SIG_IGN;
    }
}
