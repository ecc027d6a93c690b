package io.maglevlb.dataplane.packet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link DsrEngineProcess} child JVM started under {@code ip netns exec}, so the engine's sockets live in that
 * namespace (AF_PACKET sockets bind to the namespace of the thread that creates them). Its output is kept for
 * failure messages; {@link #close()} asks it to quit and kills it (by its own PID) if it does not.
 */
final class EngineProcess implements AutoCloseable {
    private final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private final List<String> output = java.util.Collections.synchronizedList(new ArrayList<>());
    /** The namespace the engine runs in (its LB host). */
    private final String namespace;
    /** The engine's I/O as it reported it ready: af_xdp or af_packet. */
    private final String io;

    EngineProcess(String namespace, String... args) throws IOException {
        this(namespace, List.of(), args);
    }

    /**
     * @param prefix a command the JVM runs under inside the namespace, e.g. setpriv dropping capabilities or
     *     prlimit lowering a limit (empty: none)
     */
    EngineProcess(String namespace, List<String> prefix, String... args) throws IOException {
        this.namespace = namespace;
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        command.addAll(prefix);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m", "-Xss1m",
                "-D" + XdpRedirect.MODE_PROPERTY + "=" + System.getProperty(XdpRedirect.MODE_PROPERTY, "auto"),
                "-cp", System.getProperty("java.class.path"), DsrEngineProcess.class.getName()));
        command.addAll(List.of(args));
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("engine-output").start(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.add(line);
                    if (line.startsWith("@@ ")) {
                        replies.add(line.substring(3));
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
            replies.add("eof");
        });
        String first = next();
        if (!first.startsWith("ready")) {
            close();
            throw new IOException("engine did not start: " + first + "\n" + output());
        }
        io = first.substring("ready".length()).trim();
    }

    /** Sends one command line and returns the reply line. */
    synchronized String command(String line) throws IOException {
        stdin.write(line + "\n");
        stdin.flush();
        String reply = next();
        if (reply.startsWith("error") || reply.equals("eof")) {
            throw new IOException("engine: " + reply + "\n" + output());
        }
        return reply;
    }

    /** Publishes backends ("b1=198.18.0.11:80:1,...") and returns name -> id. */
    Map<String, Integer> backends(String spec) throws IOException {
        String reply = command("backends " + spec);
        Map<String, Integer> ids = new HashMap<>();
        for (String part : reply.split(" ")) {
            if (part.contains("=")) {
                String[] kv = part.split("=");
                ids.put(kv[0], Integer.parseInt(kv[1]));
            }
        }
        return ids;
    }

    /** The engine's counters as name -> value (see DsrEngineProcess.format). */
    Map<String, Long> stats() throws IOException {
        return stats("stats");
    }

    /** The counters a stats command ({@code stats}, {@code stats2}) replies with. */
    Map<String, Long> stats(String statsCommand) throws IOException {
        String reply = command(statsCommand);
        Map<String, Long> m = new HashMap<>();
        for (String part : reply.substring("stats ".length()).split(" ")) {
            String[] kv = part.split("=");
            m.put(kv[0], Long.parseLong(kv[1]));
        }
        return m;
    }

    private String next() throws IOException {
        try {
            // generous: a JVM starting on a host with a load of 30-40 has taken more than 60 s
            String r = replies.poll(180, TimeUnit.SECONDS);
            if (r == null) {
                throw new IOException("no reply from the engine within 180 s\n" + output());
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    String output() {
        synchronized (output) {
            return String.join("\n", output);
        }
    }

    long pid() {
        return process.pid();
    }

    /** The LB namespace the engine runs in. */
    String namespace() {
        return namespace;
    }

    /** af_xdp or af_packet. */
    String io() {
        return io;
    }

    /** Waits up to 20 s for the process to end (after it was killed). */
    void awaitExit() throws InterruptedException {
        process.waitFor(20, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        try {
            stdin.write("quit\n");
            stdin.flush();
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
