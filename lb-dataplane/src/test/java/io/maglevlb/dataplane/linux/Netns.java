package io.maglevlb.dataplane.linux;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One throwaway network namespace for a test, named {@code mlb-<pid>-<tag>} so parallel runs never collide;
 * {@link #close()} (and a shutdown hook, if the JVM exits first) deletes it and everything in it.
 */
final class Netns implements AutoCloseable {
    final String name;
    private final Thread cleanupHook;

    Netns(String tag) throws IOException {
        name = "mlb-" + ProcessHandle.current().pid() + "-" + tag;
        run("ip", "netns", "add", name);
        cleanupHook = new Thread(this::delete, "netns-cleanup-" + tag);
        Runtime.getRuntime().addShutdownHook(cleanupHook);
        ip("link", "set", "lo", "up");
    }

    /** Whether this process can run network-namespace tests (root, iproute2 installed). */
    static boolean available() {
        return "root".equals(System.getProperty("user.name"))
                && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"))
                        || Files.isExecutable(Path.of("/usr/bin/ip")));
    }

    /** Runs {@code ip -n <this> args...}; returns its stdout. */
    String ip(String... args) throws IOException {
        String[] command = new String[args.length + 3];
        command[0] = "ip";
        command[1] = "-n";
        command[2] = name;
        System.arraycopy(args, 0, command, 3, args.length);
        return run(command);
    }

    /** Runs {@code body} on a fresh platform thread inside this namespace (its sockets belong here). */
    <T> T inside(Callable<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("in-" + name).start(() -> {
            try (LinuxNative sys = new LinuxNative()) {
                if (sys.setNetworkNamespace("/run/netns/" + name) < 0) {
                    throw new IOException("setns " + name + ": " + LinuxNative.describe(sys.errno()));
                }
                result.complete(body.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        } finally {
            t.join(1000);
        }
    }

    /** Runs a command, waits up to 20 s, and returns its stdout; fails with its stderr on a non-zero exit. */
    static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.PIPE).start();
        try {
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": "
                        + new String(err.get(), StandardCharsets.UTF_8).trim());
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", command), e);
        } catch (ExecutionException e) {
            throw new IOException(e.getCause());
        }
    }

    private static byte[] readAll(java.io.InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }

    private void delete() {
        try {
            run("ip", "netns", "del", name);
        } catch (IOException ignored) {
            // already gone
        }
    }

    @Override
    public void close() {
        delete();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException ignored) {
            // shutting down
        }
    }
}
