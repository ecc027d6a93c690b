package io.maglevlb.control.reload;

import io.maglevlb.dataplane.linux.SignalDisposition;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIGHUP means "reload the configuration" ({@code systemctl reload maglevd}). The JVM calls signal handlers
 * on a thread of its own; the handler only hands the reload to the control executor, where reloads,
 * health transitions and admin mutations run one at a time.
 *
 * <p>The JDK has no supported API for catching SIGHUP; {@code sun.misc.Signal} (module jdk.unsupported,
 * exported to class path applications, stable since JDK 1.x) is the one that works. It is reached by
 * reflection because javac warns about every compile-time use of it and the warning cannot be suppressed.
 */
public final class HangupSignal {
    private static final Logger log = LoggerFactory.getLogger(HangupSignal.class);
    public static final String NAME = "HUP";

    private HangupSignal() {}

    /**
     * Installs the handler: each SIGHUP runs {@code reload} on {@code controlExecutor}.
     *
     * @return false when the JVM does not let us handle SIGHUP (e.g. started with -Xrs); SIGHUP then keeps
     *     its default action, and reloads are available through the admin API only
     */
    public static boolean install(Executor controlExecutor, Runnable reload) {
        Objects.requireNonNull(controlExecutor, "controlExecutor");
        Objects.requireNonNull(reload, "reload");
        return handle(() -> {
            log.info("SIGHUP: reloading configuration");
            try {
                controlExecutor.execute(reload);
            } catch (RejectedExecutionException e) {
                log.warn("SIGHUP ignored: shutting down");
            }
        });
    }

    /** Installs {@code onSignal} as the SIGHUP handler, run on the JVM's signal thread. */
    static boolean handle(Runnable onSignal) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Constructor<?> newSignal = signalClass.getConstructor(String.class);
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            Object handler = Proxy.newProxyInstance(HangupSignal.class.getClassLoader(),
                    new Class<?>[] {handlerClass}, (proxy, method, args) -> switch (method.getName()) {
                        case "handle" -> {
                            onSignal.run();
                            yield null;
                        }
                        case "toString" -> "maglevd SIGHUP handler";
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> null;
                    });
            Object signal = newSignal.newInstance(NAME);
            Object ignore = handlerClass.getField("SIG_IGN").get(null);
            if (handle.invoke(null, signal, handler) == ignore) {
                // Started with SIGHUP ignored (nohup, or a parent that ignored it): the JVM kept it ignored and did
                // not install the handler. Reload on SIGHUP is what maglevd documents, so take the signal over as a
                // C daemon would: default action first, then the handler again.
                SignalDisposition.resetToDefault(SignalDisposition.SIGHUP);
                if (handle.invoke(null, signal, handler) == ignore) {
                    log.warn("SIGHUP stays ignored in this process; reload through the admin API instead");
                    return false;
                }
                log.info("SIGHUP was ignored when maglevd started (nohup?): it reloads the configuration now");
            }
            return true;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            log.warn("cannot handle SIGHUP ({}); reload through the admin API instead", e.toString());
            return false;
        }
    }

    /** Sends SIGHUP to this process (tests). */
    static void raise() throws ReflectiveOperationException {
        Class<?> signalClass = Class.forName("sun.misc.Signal");
        signalClass.getMethod("raise", signalClass).invoke(null, signalClass.getConstructor(String.class)
                .newInstance(NAME));
    }
}
