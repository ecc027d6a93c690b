package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code ./mvnw} run with a JDK 17 as JAVA_HOME and on PATH (Debian's default) picks the JDK 25 itself instead
 * of failing on .mvn/jvm.config's JDK 25 flag, and says so.
 */
class MavenWrapperTest {
    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("mvnw")) && Files.isDirectory(p.resolve(".mvn"))) {
                return p;
            }
        }
        throw new IllegalStateException("mvnw not found above " + Path.of("").toAbsolutePath());
    }

    @Test
    void aJdk17JavaHomeIsReplacedByAJdk25() throws Exception {
        Path jdk17;
        try (Stream<Path> jdks = Files.list(Path.of("/usr/lib/jvm"))) {
            jdk17 = jdks.filter(p -> p.getFileName().toString().matches("java-17-openjdk.*"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/javac"))).findFirst().orElse(null);
        }
        Assumptions.assumeTrue(jdk17 != null, "no JDK 17 under /usr/lib/jvm: the wrapper's JDK choice NOT tested");
        Path root = root();
        ProcessBuilder pb = new ProcessBuilder("./mvnw", "-v").directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", jdk17.toString());
        pb.environment().put("PATH", jdk17.resolve("bin") + ":/usr/bin:/bin");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "mvnw -v did not finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("mvnw: building with the JDK at ") && out.contains("is not a JDK 25+"), out);
        assertTrue(out.matches("(?s).*Java version: (2[5-9]|[3-9]\\d)\\..*"), out);
    }
}
