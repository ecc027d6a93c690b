package io.maglevlb.control.daemon;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.function.Consumer;

/**
 * Lets the daemon handle SIGTERM and SIGINT itself: an orderly shutdown that ends with exit code 0, and a
 * second signal to stop waiting for open connections.
 *
 * <p>Left to itself the JVM answers these signals by running shutdown hooks and exiting with 128 + the signal
 * number (143 for SIGTERM), and ignores a second signal. Replacing the handlers needs {@code sun.misc.Signal}
 * (module jdk.unsupported, exported to every class path application). It is reached by reflection because
 * javac warns about every compile-time use of it and that warning cannot be suppressed.
 */
public final class TerminationSignals {
    private static final String[] SIGNALS = {"TERM", "INT"};

    private TerminationSignals() {}

    /**
     * Calls {@code onSignal} with the signal's name ("TERM", "INT") on the JVM's signal thread each time one
     * of them arrives, instead of exiting.
     *
     * @return false when the handlers could not be installed; the JVM's default handling then stays
     */
    public static boolean install(Consumer<String> onSignal) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Constructor<?> newSignal = signalClass.getConstructor(String.class);
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            Method getName = signalClass.getMethod("getName");
            Object handler = Proxy.newProxyInstance(TerminationSignals.class.getClassLoader(),
                    new Class<?>[] {handlerClass}, (proxy, method, args) -> {
                        if (method.getName().equals("handle") && args != null && args.length == 1) {
                            onSignal.accept((String) getName.invoke(args[0]));
                            return null;
                        }
                        return switch (method.getName()) {
                            case "toString" -> "maglevd termination handler";
                            case "hashCode" -> System.identityHashCode(proxy);
                            case "equals" -> proxy == args[0];
                            default -> null;
                        };
                    });
            for (String name : SIGNALS) {
                handle.invoke(null, newSignal.newInstance(name), handler);
            }
            return true;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return false;
        }
    }
}
