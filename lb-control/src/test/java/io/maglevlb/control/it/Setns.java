package io.maglevlb.control.it;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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

    /** Runs {@code body} on a fresh platform thread inside {@code ns} and returns its result (30 s at most). */
    static <T> T call(String ns, Callable<T> body) throws Exception {
        return call(ns, Duration.ofSeconds(30), body);
    }

    /** As {@link #call(String, Callable)}, for a body that may take up to {@code timeout} (a batch of clients). */
    static <T> T call(String ns, Duration timeout, Callable<T> body) throws Exception {
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
            return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        } finally {
            t.join(1000);
        }
    }

    /**
     * {@code GET path} on {@code 127.0.0.1:port} inside {@code ns} (a maglevd's admin API in its namespace), over a
     * socket made on a thread there; the body. Fails unless the answer is 200.
     */
    static String httpGet(String ns, int port, String path) throws Exception {
        String response = call(ns, () -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(30_000);
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
                s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            }
        });
        int body = response.indexOf("\r\n\r\n");
        if (!response.startsWith("HTTP/1.1 200") || body < 0) {
            throw new IOException("GET " + path + " in " + ns + ": " + response.lines().findFirst().orElse("(nothing)"));
        }
        return response.substring(body + 4);
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
