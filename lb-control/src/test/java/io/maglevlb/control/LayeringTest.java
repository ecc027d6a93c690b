package io.maglevlb.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layering rules of the developers' guide, checked on the sources of the three shipped modules (comments
 * removed, so a {@code {@link}} in prose does not count):
 * <ul>
 *   <li>system-call bindings ({@code java.lang.foreign.Linker}, downcall handles) live in
 *       {@code io.maglevlb.dataplane.linux} only;
 *   <li>lb-core is pure: no Netty, no FFM, no channels;
 *   <li>the control plane names the forwarder classes only where it creates them ({@code daemon/Maglevd}) and
 *       never tests a forwarder's type: it reads {@code VipForwarder} and its {@code stats()};
 *   <li>{@code control.daemon} does not import {@code control.reload} (reload drives the daemon, not back).
 * </ul>
 */
class LayeringTest {
    private static final Path ROOT = root();
    private static final Path LINUX = Path.of("lb-dataplane/src/main/java/io/maglevlb/dataplane/linux");

    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("lb-dataplane/src/main/java"))) {
                return p;
            }
        }
        throw new IllegalStateException("lb-dataplane/src/main/java not found above " + Path.of("").toAbsolutePath());
    }

    /** Main sources of {@code module} (relative to the repository root) whose code matches {@code code}. */
    private static List<Path> matching(String module, Pattern code) {
        Path dir = ROOT.resolve(module).resolve("src/main/java");
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> code.matcher(withoutComments(read(p))).find())
                    .map(ROOT::relativize)
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The source without its comments (string literals are left as they are: none of the rules is in one). */
    static String withoutComments(String source) {
        return source.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    }

    private static List<Path> outside(List<Path> files, Predicate<Path> allowed) {
        return files.stream().filter(allowed.negate()).toList();
    }

    @Test
    void systemCallBindingsLiveInDataplaneLinuxOnly() {
        Pattern binding = Pattern.compile("\\bjava\\.lang\\.foreign\\.Linker\\b|\\bLinker\\.nativeLinker\\b"
                + "|\\bdowncallHandle\\b|\\bSymbolLookup\\b");
        for (String module : List.of("lb-core", "lb-dataplane", "lb-control")) {
            assertEquals(List.of(), outside(matching(module, binding), p -> p.startsWith(LINUX)),
                    "FFM bindings outside " + LINUX + ": bind the call in LinuxNative and use it from there");
        }
        assertTrue(matching("lb-dataplane", binding).contains(LINUX.resolve("LinuxNative.java")),
                "the check must see LinuxNative's own bindings, or it checks nothing");
    }

    @Test
    void coreIsPure() {
        assertEquals(List.of(), matching("lb-core", Pattern.compile(
                "\\bimport\\s+(static\\s+)?(io\\.netty|java\\.lang\\.foreign|java\\.nio\\.channels)\\.")));
    }

    @Test
    void theControlPlaneNamesForwarderClassesOnlyWhereItCreatesThem() {
        Pattern forwarderClass = Pattern.compile("\\b(TcpProxyVip|UdpForwarder|DsrVip|DsrForwarder)\\b");
        Path factory = Path.of("lb-control/src/main/java/io/maglevlb/control/daemon/Maglevd.java");
        assertEquals(List.of(), outside(matching("lb-control", forwarderClass), factory::equals));
        assertTrue(matching("lb-control", forwarderClass).contains(factory), "the factory must be seen by the check");
        Pattern typeTest = Pattern.compile("instanceof\\s+(TcpProxyVip|UdpForwarder|DsrVip|DsrForwarder)\\b"
                + "|\\((TcpProxyVip|UdpForwarder|DsrVip|DsrForwarder)\\)|(TcpProxyVip|UdpForwarder|DsrVip)\\.class");
        assertEquals(List.of(), matching("lb-control", typeTest));
    }

    @Test
    void daemonDoesNotImportReload() {
        Path daemon = Path.of("lb-control/src/main/java/io/maglevlb/control/daemon");
        List<Path> files = matching("lb-control", Pattern.compile("\\bio\\.maglevlb\\.control\\.reload\\b"));
        assertEquals(List.of(), files.stream().filter(p -> p.startsWith(daemon)).toList());
    }

    @Test
    void commentsAreRemovedBeforeMatching() {
        assertEquals("int a; \nint b;  int c;",
                withoutComments("int a; // Linker.nativeLinker()\nint b; /* downcallHandle\n */ int c;"));
    }
}
