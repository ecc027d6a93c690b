package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The JVM options that {@code scripts/maglevd} and {@code config/maglevd.service} start the daemon with:
 * what a real JVM makes of them (-XX:+PrintFlagsFinal), with and without operator overrides; and the options the
 * daemon always needs on JDK 25 (native access, Netty's Unsafe), the same in the launcher, the unit and the tests'
 * JVMs, with what a JVM started with them prints.
 */
class JvmDefaultsTest {
    private static final long MIB = 1024 * 1024;
    private static final Path ROOT = root();

    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("scripts/lib/jvm-opts.sh"))) {
                return p;
            }
        }
        throw new IllegalStateException("scripts/lib/jvm-opts.sh not found above " + Path.of("").toAbsolutePath());
    }

    /** The launcher's default options under the given environment (bash sources scripts/lib/jvm-opts.sh). */
    private static String launcherDefaults(Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", ". scripts/lib/jvm-opts.sh && printf %s \"$maglevd_default_jvm_opts\"")
                .directory(ROOT.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("MAGLEVD_"));
        pb.environment().putAll(env);
        return run(pb);
    }

    /** The launcher's required options (bash sources scripts/lib/jvm-opts.sh). */
    private static List<String> launcherRequired() throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c",
                ". scripts/lib/jvm-opts.sh && printf %s \"$maglevd_required_jvm_opts\"").directory(ROOT.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("MAGLEVD_"));
        return words(run(pb));
    }

    /** What {@link NettyJvmProbe} prints (stdout and stderr) in a JVM started with {@code options}. */
    private static String probe(List<String> options) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(options);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), NettyJvmProbe.class.getName()));
        return run(new ProcessBuilder(cmd));
    }

    /** Final flag values of a JVM started as the launcher would start it. */
    private static Map<String, String> finalFlags(String defaults, String javaOpts) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(words(defaults));
        cmd.addAll(words(javaOpts));
        cmd.add("-XX:+PrintFlagsFinal");
        cmd.add("-version");
        String out = run(new ProcessBuilder(cmd));
        Map<String, String> flags = new HashMap<>();
        Matcher m = Pattern.compile("^\\s*\\S+\\s+(\\w+)\\s+:?=\\s+(\\S+)", Pattern.MULTILINE).matcher(out);
        while (m.find()) {
            flags.put(m.group(1), m.group(2));
        }
        return flags;
    }

    private static List<String> words(String s) {
        return s.isBlank() ? List.of() : List.of(s.strip().split("\\s+"));
    }

    private static String run(ProcessBuilder pb) throws Exception {
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish: " + pb.command());
        assertEquals(0, p.exitValue(), pb.command() + " failed:\n" + out);
        return out;
    }

    @Test
    void defaultsAreTheSerialCollectorAndABoundedHeap() throws Exception {
        Map<String, String> f = finalFlags(launcherDefaults(Map.of()), "");
        assertEquals("true", f.get("UseSerialGC"));
        assertEquals(256 * MIB, Long.parseLong(f.get("MaxHeapSize")));
        assertEquals(32 * MIB, Long.parseLong(f.get("InitialHeapSize")));
        assertEquals(256 * MIB, Long.parseLong(f.get("MaxDirectMemorySize")));
        assertEquals(128 * MIB, Long.parseLong(f.get("MaxMetaspaceSize")));
    }

    @Test
    void anExplicitHeapSizeInJavaOptsWinsAlsoBelowTheDefaultInitialHeap() throws Exception {
        String opts = "-Xmx16m";
        Map<String, String> f = finalFlags(launcherDefaults(Map.of("MAGLEVD_JAVA_OPTS", opts)), opts);
        assertEquals(16 * MIB, Long.parseLong(f.get("MaxHeapSize")));
        assertEquals("true", f.get("UseSerialGC"));

        opts = "-Xmx512m";
        f = finalFlags(launcherDefaults(Map.of("MAGLEVD_JAVA_OPTS", opts)), opts);
        assertEquals(512 * MIB, Long.parseLong(f.get("MaxHeapSize")));

        opts = "-XX:MaxRAMPercentage=1";
        f = finalFlags(launcherDefaults(Map.of("MAGLEVD_JAVA_OPTS", opts)), opts);
        assertTrue(Long.parseLong(f.get("MaxHeapSize")) != 256 * MIB, "MaxRAMPercentage must not lose to -Xmx256m");
    }

    @Test
    void aCollectorChosenInJavaOptsReplacesTheDefaultOne() throws Exception {
        String opts = "-XX:+UseZGC";
        Map<String, String> f = finalFlags(launcherDefaults(Map.of("MAGLEVD_JAVA_OPTS", opts)), opts);
        assertEquals("true", f.get("UseZGC"));
        assertEquals("false", f.get("UseSerialGC"));
        assertEquals(256 * MIB, Long.parseLong(f.get("MaxHeapSize")), "the heap default stays");
    }

    @Test
    void theSystemdUnitShipsTheLauncherDefaults() throws Exception {
        String unit = Files.readString(ROOT.resolve("config/maglevd.service"));
        Map<String, String> env = new HashMap<>();
        Matcher m = Pattern.compile("^Environment=\"(MAGLEVD_\\w+)=([^\"]*)\"", Pattern.MULTILINE).matcher(unit);
        while (m.find()) {
            env.put(m.group(1), m.group(2));
        }
        assertEquals(launcherDefaults(Map.of()).strip(),
                (env.get("MAGLEVD_GC_OPTS") + " " + env.get("MAGLEVD_HEAP_OPTS")).strip());
        assertEquals("", env.get("MAGLEVD_JAVA_OPTS"));
        assertTrue(unit.contains("$MAGLEVD_GC_OPTS $MAGLEVD_HEAP_OPTS $MAGLEVD_JAVA_OPTS -cp"),
                "MAGLEVD_JAVA_OPTS must come last so that its options win");
    }

    @Test
    void theLauncherPassesNativeAccessAndNettysUnsafe() throws Exception {
        assertEquals(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"),
                launcherRequired());
        String launcher = Files.readString(ROOT.resolve("scripts/maglevd"));
        assertTrue(launcher.contains("$maglevd_required_jvm_opts $maglevd_default_jvm_opts"), launcher);
    }

    @Test
    void theUnitAndTheTestJvmsPassTheSameRequiredOptions() throws Exception {
        List<String> required = launcherRequired();
        String unit = Files.readString(ROOT.resolve("config/maglevd.service"));
        Matcher m = Pattern.compile("^(ExecStart|ExecStartPre)=\\S+/bin/java (.*?) \\$MAGLEVD_GC_OPTS",
                Pattern.MULTILINE).matcher(unit);
        int lines = 0;
        while (m.find()) {
            assertEquals(required, words(m.group(2)), m.group(1));
            lines++;
        }
        assertEquals(1, lines, "ExecStart (no ExecStartPre: one JVM at start)");
        Matcher pom = Pattern.compile("<surefire.jvm.args>([^<]*)</surefire.jvm.args>")
                .matcher(Files.readString(ROOT.resolve("pom.xml")));
        assertTrue(pom.find());
        assertTrue(words(pom.group(1)).containsAll(required), pom.group(1));
    }

    /**
     * JDK 25 warns when a library calls System.loadLibrary or sun.misc.Unsafe's memory methods without
     * permission, and Netty 4.2 switches Unsafe off by itself there unless told "allow". With the launcher's
     * options: no warning, epoll and Unsafe both in use, FFM calls work. Without them, the warnings and the
     * switched-off Unsafe this guards against.
     */
    @Test
    void aJvmWithTheRequiredOptionsStartsNettyWithoutWarnings() throws Exception {
        List<String> options = new ArrayList<>(launcherRequired());
        options.addAll(words(launcherDefaults(Map.of())));
        String out = probe(options);
        assertFalse(out.contains("WARNING"), out);
        assertTrue(out.contains("epoll=true unsafe=true ffm=true"), out);

        String bare = probe(List.of());
        assertTrue(bare.contains("WARNING: A restricted method"), bare);
        assertTrue(bare.contains("unsafe=false"), "Netty 4.2 on JDK 25 without allow: " + bare);
    }

    @Test
    void theSystemdUnitStartsOneJvmFromThePackagedLayout() throws Exception {
        String unit = Files.readString(ROOT.resolve("config/maglevd.service"));
        String packager = Files.readString(ROOT.resolve("scripts/package"));
        assertTrue(!Pattern.compile("(?m)^ExecStartPre=.*java").matcher(unit).find(),
                "no second JVM at start: `run` validates the configuration itself");
        Matcher start = Pattern.compile("(?m)^ExecStart=(/opt/maglevd/runtime/bin/java) .* -cp /opt/maglevd/lib/\\* ")
                .matcher(unit);
        assertTrue(start.find(), "ExecStart runs the packaged runtime on the packaged jars");
        assertTrue(packager.contains("--output \"$tree/runtime\"") && packager.contains("\"$tree/lib/\""),
                "scripts/package puts the runtime and the jars where the unit looks");
        Matcher doc = Pattern.compile("(?m)^Documentation=file:/opt/maglevd/(\\S+)$").matcher(unit);
        assertTrue(doc.find(), "Documentation= points into the package");
        assertTrue(Files.isRegularFile(ROOT.resolve(doc.group(1))), doc.group(1) + " exists");
        assertTrue(packager.contains("docs/*.md \"$tree/docs/\""), "scripts/package ships the docs");
    }

    @Test
    void replacingTheGroupsAsAWholeWorks() throws Exception {
        Map<String, String> f = finalFlags(launcherDefaults(Map.of("MAGLEVD_GC_OPTS", "-XX:+UseG1GC",
                "MAGLEVD_HEAP_OPTS", "-Xmx64m")), "");
        assertEquals("true", f.get("UseG1GC"));
        assertEquals(64 * MIB, Long.parseLong(f.get("MaxHeapSize")));
    }
}
