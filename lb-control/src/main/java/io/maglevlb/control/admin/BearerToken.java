package io.maglevlb.control.admin;

import io.maglevlb.control.config.AdminTokenFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;

/**
 * The admin API's bearer token, read once from a file at start. Requests are compared in constant time:
 * both sides are hashed with SHA-256 first, so neither the content nor the length of the expected token
 * shows in how long a comparison takes.
 */
final class BearerToken {
    private final byte[] expectedDigest;

    private BearerToken(byte[] token) {
        this.expectedDigest = sha256(token);
    }

    /**
     * Reads the token: the file's content without surrounding whitespace (a trailing newline is usual), checked
     * by {@link AdminTokenFile#read} (a regular file only root and maglevd's user can change).
     *
     * @throws IOException saying why the file cannot be used, as "admin token file FILE: reason"
     */
    static BearerToken fromFile(Path file) throws IOException {
        return new BearerToken(AdminTokenFile.read(file).token().getBytes(StandardCharsets.UTF_8));
    }

    /** Whether an {@code Authorization} header value carries this token. */
    boolean matches(String authorizationHeader) {
        if (authorizationHeader == null) {
            return false;
        }
        String value = authorizationHeader.strip();
        if (value.length() < 7 || !value.substring(0, 7).toLowerCase(Locale.ROOT).equals("bearer ")) {
            return false;
        }
        byte[] presented = value.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(expectedDigest, sha256(presented));
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
