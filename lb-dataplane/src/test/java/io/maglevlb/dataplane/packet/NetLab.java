package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Network namespaces for tests: a "switch" namespace holding a bridge, and hosts each joined to it by a veth
 * pair whose host end is {@code eth0}. Names are {@code mlb-<pid>-<role>} so parallel runs never collide and a
 * later run can remove what a killed run left ({@link #removeStale()}). Addresses come from 198.18.0.0/15 only.
 *
 * <p>{@link #close()} removes every namespace this lab created (and so every veth and the bridge); tests call it
 * in a finally block / @AfterAll, and a shutdown hook calls it if the JVM exits first.
 */
final class NetLab implements AutoCloseable {
    private static final Path NETNS_DIR = Path.of("/run/netns");
    private final String prefix = "mlb-" + ProcessHandle.current().pid() + "-";
    private final String tag;
    private final List<String> namespaces = new ArrayList<>();
    private final Thread cleanupHook = new Thread(this::removeAll, "netlab-cleanup");
    private final String switchNs;
    private boolean closed;

    /** Creates the switch namespace with bridge br0; {@code tag} keeps several labs of one JVM apart. */
    NetLab(String tag) throws IOException {
        this.tag = tag;
        removeStale();
        Runtime.getRuntime().addShutdownHook(cleanupHook);
        switchNs = add("sw");
        run("ip", "-n", switchNs, "link", "add", "br0", "type", "bridge");
        run("ip", "-n", switchNs, "link", "set", "br0", "up");
        // With br_netfilter loaded the bridge validates IP headers and drops what it dislikes; a real switch
        // does not, and the malformed-frame tests need their frames to reach the LB.
        for (String key : new String[] {"bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"}) {
            try {
                sysctl(switchNs, "net.bridge." + key, "0");
            } catch (IOException notThere) {
                // br_netfilter not loaded: nothing to turn off
            }
        }
    }

    /** Whether this process can run network-namespace tests. */
    static boolean available() {
        return hasCommand("ip") && "root".equals(System.getProperty("user.name"));
    }

    /** Whether an iproute2-style tool ({@code ip}, {@code tc}) is installed in one of the usual places. */
    static boolean hasCommand(String name) {
        return Files.isExecutable(Path.of("/usr/sbin", name)) || Files.isExecutable(Path.of("/sbin", name))
                || Files.isExecutable(Path.of("/usr/bin", name));
    }

    String name(String role) {
        return prefix + tag + role;
    }

    private String add(String role) throws IOException {
        String ns = name(role);
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    /**
     * Adds host {@code role} with eth0 = {@code cidr} (e.g. 198.18.0.2/24) on the bridge.
     *
     * @return the namespace name
     */
    String host(String role, String cidr) throws IOException {
        String ns = add(role);
        String port = "p" + tag + role;
        if (port.length() > 15) {
            throw new IllegalArgumentException("port name too long: " + port);
        }
        run("ip", "-n", switchNs, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", switchNs, "link", "set", port, "master", "br0", "up");
        run("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    /** Runs {@code command} in namespace {@code ns} (ip netns exec). */
    String exec(String ns, String... command) throws IOException {
        String[] full = new String[command.length + 4];
        full[0] = "ip";
        full[1] = "netns";
        full[2] = "exec";
        full[3] = ns;
        System.arraycopy(command, 0, full, 4, command.length);
        return run(full);
    }

    /** Sets sysctl {@code key} = {@code value} in {@code ns} (through /proc/sys: no procps needed). */
    void sysctl(String ns, String key, String value) throws IOException {
        String path = "/proc/sys/" + key.replace('.', '/');
        exec(ns, "sh", "-c", "echo " + value + " > " + path);
    }

    /** Runs a command, waits up to 20 s, and returns its stdout; fails with its stderr on a non-zero exit. */
    static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
        try {
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", command));
            }
            String stdout = new String(out.get(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": "
                        + new String(err.get(), StandardCharsets.UTF_8).trim());
            }
            return stdout;
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

    /**
     * Runs {@code body} on a fresh platform thread that has entered namespace {@code ns}: sockets it creates
     * belong to {@code ns} and keep working from any thread afterwards.
     */
    static <T> T inNamespace(String ns, Callable<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("in-" + ns).start(() -> {
            try (LinuxNative sys = new LinuxNative()) {
                if (sys.setNetworkNamespace(NETNS_DIR.resolve(ns).toString()) < 0) {
                    throw new IOException("setns " + ns + ": " + LinuxNative.describe(sys.errno()));
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

    /** Starts a daemon platform thread that enters {@code ns} and then runs {@code body}. */
    static Thread startInNamespace(String ns, String name, Runnable body) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try (LinuxNative sys = new LinuxNative()) {
                if (sys.setNetworkNamespace(NETNS_DIR.resolve(ns).toString()) < 0) {
                    throw new IllegalStateException("setns " + ns + ": " + LinuxNative.describe(sys.errno()));
                }
            }
            body.run();
        });
    }

    /** Removes namespaces left by test JVMs that no longer run. */
    static void removeStale() {
        try (var entries = Files.list(NETNS_DIR)) {
            for (Path p : entries.toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith("mlb-")) {
                    continue;
                }
                String[] parts = n.split("-");
                if (parts.length < 3) {
                    continue;
                }
                try {
                    long pid = Long.parseLong(parts[1]);
                    if (ProcessHandle.of(pid).isEmpty()) {
                        run("ip", "netns", "del", n);
                    }
                } catch (NumberFormatException | IOException ignored) {
                    // not ours or already gone
                }
            }
        } catch (IOException ignored) {
            // no /run/netns yet
        }
    }

    private synchronized void removeAll() {
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            try {
                run("ip", "netns", "del", namespaces.get(i));
            } catch (IOException ignored) {
                // already gone
            }
        }
        namespaces.clear();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        removeAll();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException ignored) {
            // shutting down
        }
    }
}
