package io.maglevlb.control.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code maglevd} JVM started from the test class path, its stdout and stderr going to one log file.
 * {@link #close()} always kills it if it is still running.
 */
final class DaemonProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts {@code maglevd ARGS...}, logging to {@code log}. */
    static DaemonProcess start(Path log, String... args) throws IOException {
        return start(log, List.of(), args);
    }

    /** Starts {@code maglevd ARGS...} in a JVM with {@code jvmOptions} added (e.g. system properties). */
    static DaemonProcess start(Path log, List<String> jvmOptions, String... args) throws IOException {
        return startUnder(List.of(), log, jvmOptions, args);
    }

    /**
     * Starts {@code PREFIX... java ... maglevd ARGS...}: the prefix is a command that execs the rest, e.g.
     * {@code prlimit --nofile=256:256 --}, so the daemon keeps its pid.
     */
    static DaemonProcess startUnder(List<String> prefix, Path log, List<String> jvmOptions, String... args)
            throws IOException {
        return startUnder(prefix, log, jvmOptions, java.util.Map.of(), args);
    }

    /** As {@link #startUnder(List, Path, List, String...)}, with {@code env} added to the environment. */
    static DaemonProcess startUnder(List<String> prefix, Path log, List<String> jvmOptions,
            java.util.Map<String, String> env, String... args) throws IOException {
        List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--enable-native-access=ALL-UNNAMED"); // the launcher's required options (jvm-opts.sh)
        command.add("--sun-misc-unsafe-memory-access=allow");
        command.add("-Xmx256m");
        command.add("-XX:TieredStopAtLevel=1"); // starts faster; these tests check behaviour, not speed
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("io.maglevlb.control.cli.MaglevdMain");
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process p = builder.start();
        return new DaemonProcess(p, log);
    }

    /**
     * Starts {@code maglevd ARGS...} in network namespace {@code netns} ({@code ip netns exec}, which execs the
     * JVM: the process is maglevd itself, so signals reach it), logging to {@code log}; null = this namespace.
     */
    static DaemonProcess startIn(String netns, Path log, String... args) throws IOException {
        return startUnder(netns == null ? List.of() : List.of("ip", "netns", "exec", netns), log, List.of(), args);
    }

    /** Waits until a line containing {@code text} was printed; fails with everything printed so far. */
    String awaitLine(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean ended = !process.isAlive();
            for (String line : output().lines().toList()) {
                if (line.contains(text)) {
                    return line;
                }
            }
            if (ended || System.nanoTime() > deadline) {
                throw new AssertionError("maglevd never printed '" + text + "' ("
                        + (ended ? "exited with " + process.exitValue() : "still running") + "); output:\n"
                        + output());
            }
            Thread.sleep(50);
        }
    }

    String output() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError("cannot read maglevd's log " + log, e);
        }
    }

    /** The process started: maglevd itself, or the command it was started under (see {@link #startUnder}). */
    ProcessHandle handle() {
        return process.toHandle();
    }

    /** SIGTERM. */
    void terminate() {
        process.destroy();
    }

    /** SIGKILL. */
    void kill() {
        process.destroyForcibly();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Waits for the exit code; fails (after killing it) when the process is still running. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("maglevd did not exit within " + timeout + "; output:\n" + output());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
