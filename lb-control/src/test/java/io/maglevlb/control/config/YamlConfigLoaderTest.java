package io.maglevlb.control.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.core.config.ConfigError;
import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.VipConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class YamlConfigLoaderTest {
    private static final String VALID = """
            # a comment
            vips:
              - name: web
                listen: 127.0.0.1:8080
                backends:
                  - name: web-1
                    address: 127.0.0.1:9001
                  - name: web-2
                    address: "[::1]:9002"
            """;

    private final YamlConfigLoader loader = new YamlConfigLoader();

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    private ConfigError onlyError(ConfigLoadResult r) {
        assertEquals(1, r.errors().size(), () -> "expected one error, got " + r.formattedErrors());
        return r.errors().getFirst();
    }

    @Test
    void loadsAValidFile() throws Exception {
        MaglevConfig c = loader.loadOrThrow(write("ok.yaml", VALID));
        assertEquals(List.of("web"), c.vips().stream().map(VipConfig::name).toList());
        assertEquals(2, c.vips().getFirst().backends().size());
    }

    /** Found by ConfigFuzzTest: SnakeYAML refuses this tag with an IllegalArgumentException, not a YAMLException. */
    @Test
    void aTagWithSurroundingSpacesIsAYamlErrorNotACrash() {
        ConfigLoadResult r = loader.parse("workers: !<%20x> 1\n", "tag.yaml");
        assertFalse(r.isValid());
        assertTrue(onlyError(r).message().startsWith("YAML error: "), r.formattedErrors()::toString);
    }

    @Test
    void validationErrorsCarryTheFilesLinesAndColumns() throws Exception {
        Path file = write("bad.yaml", VALID.replace("address: 127.0.0.1:9001", "adress: 127.0.0.1:9001"));
        ConfigLoadResult r = loader.load(file);
        assertFalse(r.isValid());
        assertEquals(List.of(
                file + ":6:9: vips[0].backends[0].address: required key 'address' is missing (the backend's IP:port)",
                file + ":7:9: vips[0].backends[0].adress: unknown key 'adress' (did you mean 'address'?)"),
                r.formattedErrors());
    }

    @Test
    void loadOrThrowListsEveryErrorInTheMessage() throws Exception {
        Path file = write("bad.yaml", VALID.replace("127.0.0.1:8080", "localhost:8080").replace("web-2", "web-1"));
        ConfigException e = assertThrows(ConfigException.class, () -> loader.loadOrThrow(file));
        assertEquals(2, e.errors().size());
        String[] lines = e.getMessage().split("\n");
        assertEquals(2, lines.length);
        assertTrue(lines[0].startsWith(file + ":4:13: vips[0].listen: 'localhost' is a host name"), lines[0]);
        assertTrue(lines[1].startsWith(file + ":8:15: vips[0].backends[1].name: duplicate backend name 'web-1'"),
                lines[1]);
    }

    @Test
    void syntaxErrorReportsLineAndColumn() throws Exception {
        Path file = write("syntax.yaml", """
                vips:
                  - name: web
                    listen: 127.0.0.1:8080: 9
                """);
        ConfigError e = onlyError(loader.load(file));
        assertEquals(3, e.line());
        assertEquals(27, e.column()); // the second ':'
        assertEquals("", e.path());
        assertTrue(e.message().startsWith("YAML syntax error: mapping values are not allowed here"), e.message());
    }

    @Test
    void unclosedFlowListIsASyntaxError() {
        ConfigError e = onlyError(loader.parse("vips: [a, b\nworkers: 1\n", "t.yaml"));
        assertTrue(e.message().startsWith("YAML syntax error:"), e.message());
        assertTrue(e.line() >= 2, e::toString);
    }

    @Test
    void duplicateKeysAreErrors() {
        ConfigError e = onlyError(loader.parse(VALID.replace("    listen: 127.0.0.1:8080\n",
                "    listen: 127.0.0.1:8080\n    listen: 127.0.0.1:8081\n"), "dup.yaml"));
        assertEquals("dup.yaml:5:5: vips[0].listen: duplicate key 'listen' (first at line 4)", e.format("dup.yaml"));
    }

    @Test
    void emptyFileAndCommentOnlyFileAreClearErrors() throws Exception {
        for (String text : List.of("", "\n\n", "# nothing here\n", "---\n", "\uFEFF")) {
            ConfigError e = onlyError(loader.load(write("empty.yaml", text)));
            assertTrue(e.message().startsWith("the configuration is empty"), e::toString);
            assertTrue(e.line() >= 1, e::toString);
        }
    }

    @Test
    void fileThatIsNotAMapIsAnError() {
        ConfigError e = onlyError(loader.parse("- a\n- b\n", "list.yaml"));
        assertEquals("list.yaml:1:1: the configuration must be a map with keys such as 'admin' and 'vips', got a list",
                e.format("list.yaml"));
    }

    @Test
    void missingFileIsAnErrorNotAnException() {
        Path missing = dir.resolve("nope.yaml");
        ConfigLoadResult r = loader.load(missing);
        assertEquals(List.of(missing + ": no such file"), r.formattedErrors());
    }

    @Test
    void directoryIsAnError() {
        assertEquals(List.of(dir + ": is a directory, not a configuration file"), loader.load(dir).formattedErrors());
    }

    @Test
    void oversizedFileIsRejectedBeforeParsing() throws Exception {
        Path file = write("big.yaml", VALID);
        ConfigLoadResult r = new YamlConfigLoader(64).load(file);
        assertTrue(onlyError(r).message().contains("the limit is 64"), r::toString);
    }

    /** Hang guard only (a FIFO used to block for ever): generous, never a performance threshold. */
    private static final Duration HANG_GUARD = Duration.ofSeconds(60);

    @Test
    void aCharacterDeviceIsRefusedWithoutReadingIt() {
        // /dev/zero never ends: it used to be read until the heap was gone.
        ConfigLoadResult r = assertTimeoutPreemptively(HANG_GUARD, () -> loader.load(Path.of("/dev/zero")));
        assertEquals(List.of("/dev/zero: is a character device, not a regular file: a configuration file must be a"
                + " regular file (or a symbolic link to one)"), r.formattedErrors());
    }

    @Test
    void aFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("config.fifo");
        assumeTrue(mkfifo(fifo), "mkfifo is not available: skipping the FIFO case");
        // Opening a FIFO for reading blocks until a writer comes: the loader must not open it at all.
        ConfigLoadResult r = assertTimeoutPreemptively(HANG_GUARD, () -> loader.load(fifo));
        assertEquals(List.of(fifo + ": is a FIFO (named pipe), not a regular file: a configuration file must be a"
                + " regular file (or a symbolic link to one)"), r.formattedErrors());
    }

    @Test
    void aSymbolicLinkToARegularFileIsRead() throws Exception {
        Path target = write("real.yaml", VALID);
        Path link = Files.createSymbolicLink(dir.resolve("link.yaml"), target);
        assertEquals(List.of("web"), loader.loadOrThrow(link).vips().stream().map(VipConfig::name).toList());
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling.yaml"), dir.resolve("gone.yaml"));
        assertEquals(List.of(dangling + ": no such file (a symbolic link to a missing file)"),
                loader.load(dangling).formattedErrors());
        Path toDevice = Files.createSymbolicLink(dir.resolve("zero.yaml"), Path.of("/dev/zero"));
        assertTrue(onlyError(loader.load(toDevice)).message().startsWith("is a character device"));
    }

    @Test
    void theSizeLimitHoldsWhileReadingNotOnlyByTheReportedSize() {
        // /proc files report a size of 0 but have content: only a limit on the read itself catches them.
        Path status = Path.of("/proc/self/status");
        assumeTrue(Files.isRegularFile(status), "no /proc: skipping");
        ConfigLoadResult r = new YamlConfigLoader(64).load(status);
        assertEquals("the file is over the limit of 64 bytes (it grew while it was read, or its size is not what"
                + " stat says)", onlyError(r).message());
    }

    static boolean mkfifo(Path path) throws InterruptedException {
        try {
            Process p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            return p.waitFor() == 0 && Files.exists(path);
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void invalidUtf8IsAnError() throws Exception {
        Path file = Files.write(dir.resolve("latin1.yaml"), "name: caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals("the file is not valid UTF-8", onlyError(loader.load(file)).message());
    }

    @Test
    void javaTypeTagsAreRejectedNeverConstructed() {
        ConfigLoadResult r = loader.parse("""
                vips: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL ["http://127.0.0.1:1/"]]]]
                """, "evil.yaml");
        // SnakeYAML's tag inspector refuses global tags while parsing; compose would not construct them anyway.
        ConfigError e = onlyError(r);
        assertEquals(1, e.line());
        assertTrue(e.message().contains("Global tag is not allowed: tag:yaml.org,2002:javax.script.ScriptEngineManager"),
                e::toString);
    }

    @Test
    void localTagsAreRejected() {
        ConfigError e = onlyError(loader.parse(VALID.replace("name: web\n", "name: !secret web\n"), "t.yaml"));
        assertEquals(3, e.line());
        assertTrue(e.message().contains("YAML tag '!secret' is not supported"), e::toString);
    }

    @Test
    void anchorsAliasesAndMergeKeysWork() throws Exception {
        MaglevConfig c = loader.loadOrThrow(write("anchors.yaml", """
                vips:
                  - name: a
                    listen: 127.0.0.1:8080
                    health_check: &check
                      type: http
                      interval: 5s
                      path: /healthz
                    backends: &pool
                      - name: b1
                        address: 127.0.0.1:9001
                  - name: b
                    listen: 127.0.0.1:8081
                    health_check:
                      <<: *check
                      interval: 1s
                    backends: *pool
                """));
        HealthCheckConfig a = c.vip("a").orElseThrow().healthCheck();
        HealthCheckConfig b = c.vip("b").orElseThrow().healthCheck();
        assertEquals(Duration.ofSeconds(5), a.interval());
        assertEquals(HealthCheckType.HTTP, b.type());
        assertEquals("/healthz", b.path());
        assertEquals(Duration.ofSeconds(1), b.interval(), "the explicit key wins over the merged one");
        assertEquals(c.vip("a").orElseThrow().backends(), c.vip("b").orElseThrow().backends());
    }

    @Test
    void mergeFromAnAnchorKeepsExplicitKeysFirst() throws Exception {
        ConfigLoadResult r = loader.parse("""
                vips:
                  - &base
                    name: a
                    listen: 127.0.0.1:8080
                    backends:
                      - name: b1
                        address: 127.0.0.1:9001
                  - <<: *base
                    name: b
                    listen: 127.0.0.1:8081
                """, "merge.yaml");
        assertTrue(r.isValid(), r::toString);
        VipConfig b = r.config().orElseThrow().vip("b").orElseThrow();
        assertEquals(8081, b.listen().getPort());
        assertEquals("b1", b.backends().getFirst().name());
    }

    @Test
    void aliasBombIsAnErrorNotAnOutOfMemory() {
        StringBuilder yaml = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i <= 9; i++) {
            yaml.append("a").append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 10; j++) {
                yaml.append(j == 0 ? "" : ", ").append("*a").append(i - 1);
            }
            yaml.append("]\n");
        }
        ConfigError e = onlyError(loader.parse(yaml.toString(), "bomb.yaml"));
        assertTrue(e.message().contains("aliases"), e::toString);
    }

    @Test
    void selfReferencingAliasIsAnError() {
        for (String yaml : List.of("vips: &v\n  - *v\n", "vips: &v [*v, *v, *v]\n")) {
            ConfigError e = onlyError(loader.parse(yaml, "loop.yaml"));
            assertTrue(e.message().startsWith("nesting deeper than 32 levels"), e::toString);
        }
    }

    @Test
    void severalDocumentsAreAnError() {
        ConfigError e = onlyError(loader.parse(VALID + "---\n" + VALID, "two.yaml"));
        assertTrue(e.message().contains("expected a single document"), e::toString);
    }

    @Test
    void quotedNullIsTextButBareNullIsNoValue() {
        ConfigLoadResult quoted = loader.parse(VALID.replace("name: web\n", "name: \"null\"\n"), "q.yaml");
        assertTrue(quoted.isValid(), quoted::toString);
        assertEquals("null", quoted.config().orElseThrow().vips().getFirst().name());
        ConfigError e = onlyError(loader.parse(VALID.replace("name: web\n", "name: null\n"), "n.yaml"));
        assertEquals("expected a name, got no value", e.message());
    }

    @Test
    void unquotedIpv6AddressSaysToQuoteIt() {
        for (String bare : List.of("[::1]", "[::1]:9002")) {
            ConfigLoadResult r = loader.parse(VALID.replace("\"[::1]:9002\"", bare), "v6.yaml");
            ConfigError e = onlyError(r);
            assertTrue(e.message().contains("quote IPv6 addresses"), e::toString);
            assertEquals(9, e.line(), e::toString);
        }
    }

    @Test
    void warningsAreReportedWithValidConfigs() {
        ConfigLoadResult r = loader.parse(VALID.replace("    backends:", "    table_size: 101\n    backends:"),
                "w.yaml");
        assertTrue(r.isValid());
        assertEquals(1, r.formattedWarnings().size());
        assertTrue(r.formattedWarnings().getFirst().startsWith("w.yaml:5:17: vips[0].table_size: warning: "),
                r.formattedWarnings()::toString);
    }
}
