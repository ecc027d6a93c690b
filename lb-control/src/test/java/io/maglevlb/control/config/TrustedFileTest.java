package io.maglevlb.control.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.maglevlb.control.config.TrustedFile.Kind;
import io.maglevlb.control.config.TrustedFile.RefusedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may change a file maglevd trusts (sshd StrictModes rules): real files with real modes and owners. The
 * cases that need another owner use the real user {@code nobody} and run only as root (as in CI).
 */
class TrustedFileTest {
    private static final String VALID = """
            vips:
              - name: web
                listen: 127.0.0.1:8080
                backends:
                  - name: web-1
                    address: 127.0.0.1:9001
            """;

    @TempDir
    Path dir;

    private Path file(String name, String text, String mode) throws IOException {
        Path p = Files.writeString(dir.resolve(name), text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private static String refusal(Path p, Kind kind) {
        return assertThrows(RefusedException.class, () -> TrustedFile.read(p, 1 << 20, kind)).getMessage();
    }

    private static boolean root() throws IOException {
        return TrustedFile.ownUid() == 0;
    }

    private static UserPrincipal nobody() throws IOException {
        return dirOwnerLookup().lookupPrincipalByName("nobody");
    }

    private static java.nio.file.attribute.UserPrincipalLookupService dirOwnerLookup() {
        return java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService();
    }

    private static void chmod(String mode, Path p) throws Exception {
        Process c = new ProcessBuilder("chmod", mode, p.toString()).redirectErrorStream(true).start();
        c.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        assertEquals(0, c.waitFor(), "chmod " + mode + " " + p);
    }

    @Test
    void aFileOnlyItsOwnerCanWriteIsRead() throws Exception {
        for (String mode : List.of("rw-------", "rw-r--r--", "r--r--r--", "rw-r-----")) {
            Path p = file("ok-" + mode + ".yaml", VALID, mode);
            assertArrayEquals(VALID.getBytes(StandardCharsets.UTF_8),
                    TrustedFile.read(p, 1 << 20, Kind.CONFIGURATION).bytes(), mode);
        }
    }

    @Test
    void aFileWritableByGroupOrOthersIsRefusedWithTheFix() throws Exception {
        Path both = file("666.yaml", VALID, "rw-rw-rw-");
        assertEquals("is writable by group and others (mode 0666): maglevd refuses a configuration file that others"
                + " can change. Fix: chmod go-w " + both, refusal(both, Kind.CONFIGURATION));
        Path group = file("620.yaml", VALID, "rw--w----");
        assertTrue(refusal(group, Kind.CONFIGURATION).startsWith("is writable by its group (mode 0620)"));
        Path others = file("602.yaml", VALID, "rw-----w-");
        assertTrue(refusal(others, Kind.CONFIGURATION).startsWith("is writable by others (mode 0602)"));
        Path token = file("token", "secret\n", "rw-rw----");
        assertEquals("is writable by its group (mode 0660): maglevd refuses an admin token file that others can"
                + " change. Fix: chmod go-w " + token, refusal(token, Kind.ADMIN_TOKEN));
    }

    @Test
    void aSecretReadableByOthersIsReadWithAWarning() throws Exception {
        Path token = file("token", "secret\n", "rw-r--r--");
        TrustedFile.Content c = TrustedFile.read(token, 4096, Kind.ADMIN_TOKEN);
        assertEquals(List.of("is readable by every user of this host (mode 0644), so anyone here can use the admin API"
                + " with it. Fix: chmod o-r " + token), c.warnings());
        assertEquals(List.of(), TrustedFile.read(file("token2", "secret\n", "rw-r-----"), 4096, Kind.ADMIN_TOKEN)
                .warnings(), "group-readable is the usual root:maglevd 0640");
        assertEquals(List.of(), TrustedFile.read(file("c.yaml", VALID, "rw-r--r--"), 4096, Kind.CONFIGURATION)
                .warnings(), "a configuration file is no secret");
    }

    @Test
    void aFileOwnedByAnotherUserIsRefused() throws Exception {
        assumeTrue(root(), "needs root to give a file to user nobody: skipped");
        Path p = file("nobody.yaml", VALID, "rw-r--r--");
        Files.setOwner(p, nobody());
        String message = refusal(p, Kind.CONFIGURATION);
        assertTrue(message.startsWith("is owned by nobody (uid "), message);
        assertTrue(message.contains("not by root or maglevd's user (root)"), message);
        assertTrue(message.endsWith("Fix: chown root " + p + " (or run maglevd as its owner)"), message);
    }

    @Test
    void aDirectoryOthersCanWriteWithoutTheStickyBitIsRefused() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("conf"));
        Path p = Files.writeString(sub.resolve("maglevd.yaml"), VALID);
        chmod("0777", sub);
        assertEquals("directory " + sub.toRealPath() + " is writable by group and others (mode 0777) without the"
                + " sticky bit, so others can replace the configuration file. Fix: chmod go-w " + sub.toRealPath()
                + " (or move the file)", refusal(p, Kind.CONFIGURATION));
        chmod("0775", sub);
        assertTrue(refusal(p, Kind.CONFIGURATION).contains("is writable by its group (mode 0775)"));
        // With the sticky bit (as /tmp) only an entry's owner may rename or delete it: accepted.
        chmod("1777", sub);
        assertEquals(List.of(), TrustedFile.read(p, 1 << 20, Kind.CONFIGURATION).warnings());
        chmod("0755", sub);
        TrustedFile.read(p, 1 << 20, Kind.CONFIGURATION);
    }

    @Test
    void aDirectoryOwnedByAnotherUserIsRefused() throws Exception {
        assumeTrue(root(), "needs root to give a directory to user nobody: skipped");
        Path sub = Files.createDirectory(dir.resolve("theirs"));
        Path p = Files.writeString(sub.resolve("maglevd.yaml"), VALID);
        Files.setOwner(sub, nobody());
        String message = refusal(p, Kind.CONFIGURATION);
        assertTrue(message.startsWith("directory " + sub.toRealPath() + " is owned by nobody"), message);
        assertTrue(message.contains("Fix: chown root " + sub.toRealPath()), message);
    }

    @Test
    void aSymbolicLinkIsJudgedByItsTargetAndBothDirectories() throws Exception {
        Path target = file("real.yaml", VALID, "rw-r--r--");
        Path links = Files.createDirectory(dir.resolve("links"));
        Path link = Files.createSymbolicLink(links.resolve("maglevd.yaml"), target);
        TrustedFile.read(link, 1 << 20, Kind.CONFIGURATION);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertTrue(refusal(link, Kind.CONFIGURATION).startsWith("is writable by group and others (mode 0666)"));
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-r--r--"));
        chmod("0777", links); // whoever writes the link's directory can point the link elsewhere
        assertTrue(refusal(link, Kind.CONFIGURATION).startsWith("directory " + links.toRealPath()),
                refusal(link, Kind.CONFIGURATION));
    }

    @Test
    void theLoaderRefusesAnUnsafeConfigurationFile() throws Exception {
        Path p = file("maglevd.yaml", VALID, "rw-rw-rw-");
        assertEquals(List.of(p + ": is writable by group and others (mode 0666): maglevd refuses a configuration file"
                + " that others can change. Fix: chmod go-w " + p), new YamlConfigLoader().load(p).formattedErrors());
    }

    @Test
    void theLoaderChecksTheAdminTokenFileAsStartWould() throws Exception {
        Path token = file("admin-token", "s3cret\n", "rw-------");
        Path config = file("maglevd.yaml", "admin:\n  token_file: " + token + "\n" + VALID, "rw-r--r--");
        ConfigLoadResult ok = new YamlConfigLoader().load(config);
        assertTrue(ok.isValid(), ok::toString);
        assertEquals(List.of(), ok.warnings());

        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r--r--"));
        ConfigLoadResult readable = new YamlConfigLoader().load(config);
        assertTrue(readable.isValid(), readable::toString);
        assertEquals(List.of(config + ": admin.token_file: warning: admin token file " + token + ": is readable by every"
                + " user of this host (mode 0644), so anyone here can use the admin API with it. Fix: chmod o-r "
                + token), readable.formattedWarnings());

        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-rw-rw-"));
        ConfigLoadResult writable = new YamlConfigLoader().load(config);
        assertEquals(List.of(config + ": admin.token_file: admin token file " + token + ": is writable by group and"
                + " others (mode 0666): maglevd refuses an admin token file that others can change. Fix: chmod go-w "
                + token), writable.formattedErrors());

        Files.delete(token);
        assertEquals(List.of(config + ": admin.token_file: admin token file " + token + ": no such file"),
                new YamlConfigLoader().load(config).formattedErrors());

        file("admin-token", "\n", "rw-------");
        assertEquals(List.of(config + ": admin.token_file: admin token file " + token + ": is empty (write the token"
                + " into it)"), new YamlConfigLoader().load(config).formattedErrors());
    }

    @Test
    void anUnreadableTokenFileSaysWhy() throws Exception {
        assumeTrue(!root(), "root reads any file: the permission-denied case runs only as another user");
        Path token = file("admin-token", "s3cret\n", "-w-------");
        String message = assertThrows(RefusedException.class, () -> AdminTokenFile.read(token)).getMessage();
        assertTrue(message.startsWith("admin token file " + token + ": permission denied"), message);
    }
}
