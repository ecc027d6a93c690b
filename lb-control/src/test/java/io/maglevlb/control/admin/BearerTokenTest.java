package io.maglevlb.control.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the token file at start: the error says which file and why (it used to be the bare path). */
class BearerTokenTest {
    @TempDir
    Path dir;

    @Test
    void aMissingTokenFileSaysSo() {
        Path missing = dir.resolve("admin-token");
        IOException e = assertThrows(IOException.class, () -> BearerToken.fromFile(missing));
        assertEquals("admin token file " + missing + ": no such file", e.getMessage());
    }

    @Test
    void aTokenFileOthersCanWriteIsRefusedWithTheFix() throws Exception {
        Path token = Files.writeString(dir.resolve("admin-token"), "s3cret\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-rw-rw-"));
        IOException e = assertThrows(IOException.class, () -> BearerToken.fromFile(token));
        assertEquals("admin token file " + token + ": is writable by group and others (mode 0666): maglevd refuses an"
                + " admin token file that others can change. Fix: chmod go-w " + token, e.getMessage());
    }

    @Test
    void aSafeTokenFileGivesItsStrippedContent() throws Exception {
        Path token = Files.writeString(dir.resolve("admin-token"), "  s3cret\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        BearerToken t = BearerToken.fromFile(token);
        assertTrue(t.matches("Bearer s3cret"));
        assertFalse(t.matches("Bearer s3cret2"));
        Path directory = Files.createDirectory(dir.resolve("token-dir"));
        assertEquals("admin token file " + directory + ": is a directory, not an admin token file",
                assertThrows(IOException.class, () -> BearerToken.fromFile(directory)).getMessage());
    }
}
