package io.maglevlb.control.it;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs code on a platform thread that entered a named network namespace ({@code /run/netns/NAME}): sockets it
 * creates belong to that namespace and keep working from any thread afterwards. The system calls are the
 * dataplane's ({@link LinuxNative#setNetworkNamespace}); test code only.
 */
final class Setns {
    private Setns() {}

    /** Moves the calling thread into namespace {@code ns}; it stays there for its life. */
    static void enter(String ns) throws IOException {
        try (LinuxNative sys = new LinuxNative()) { // per call
            if (sys.setNetworkNamespace("/run/netns/" + ns) < 0) {
                throw new IOException("setns /run/netns/" + ns + ": " + LinuxNative.describe(sys.errno()));
            }
        }
    }

    /** Runs {@code body} on a fresh platform thread inside {@code ns} and returns its result. */
    static <T> T call(String ns, Callable<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().daemon().name("in-" + ns).start(() -> {
            try {
                enter(ns);
                result.complete(body.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        } finally {
            t.join(1000);
        }
    }

    /** Starts a daemon thread that enters {@code ns}, then runs {@code body}. */
    static Thread start(String ns, String name, Runnable body) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                enter(ns);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            body.run();
        });
    }
}
