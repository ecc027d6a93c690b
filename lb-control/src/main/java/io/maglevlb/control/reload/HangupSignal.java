package io.maglevlb.control.reload;

import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGHUP means "reload the configuration" ({@code systemctl reload maglevd}). The JVM calls signal handlers
 * on a thread of its own; the handler only hands the reload to the control executor, where reloads,
 * health transitions and admin mutations run one at a time.
 *
 * <p>Uses {@code sun.misc.Signal} (module jdk.unsupported): the JDK has no supported API for catching
 * SIGHUP, and this one has been stable since JDK 1.x.
 */
public final class HangupSignal {
    private static final Logger log = LoggerFactory.getLogger(HangupSignal.class);
    public static final String NAME = "HUP";

    private HangupSignal() {}

    /**
     * Installs the handler: each SIGHUP runs {@code reload} on {@code controlExecutor}.
     *
     * @throws IllegalArgumentException when the platform or JVM does not let us handle SIGHUP (e.g. the
     *     JVM was started with -Xrs)
     */
    public static void install(Executor controlExecutor, Runnable reload) {
        Objects.requireNonNull(controlExecutor, "controlExecutor");
        Objects.requireNonNull(reload, "reload");
        Signal.handle(new Signal(NAME), signal -> {
            log.info("SIGHUP: reloading configuration");
            try {
                controlExecutor.execute(reload);
            } catch (RejectedExecutionException e) {
                log.warn("SIGHUP ignored: shutting down");
            }
        });
    }
}
