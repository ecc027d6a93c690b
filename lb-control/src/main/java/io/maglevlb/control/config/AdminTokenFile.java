package io.maglevlb.control.config;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The admin API's bearer token as read from {@code admin.token_file}: the file's content without surrounding
 * whitespace (a trailing newline is usual). Read through {@link TrustedFile}, so the file must be a regular file
 * that only root and maglevd's user can change; readable by others is allowed with a warning. The daemon reads it
 * at start; {@code maglevd check} and every reload read it too, so they report what start would.
 *
 * @param token the token; never logged
 * @param warnings what is questionable but not refused; each completes "admin token file FILE: ..."
 */
public record AdminTokenFile(String token, List<String> warnings) {
    /** Largest token file accepted; a token is a few dozen bytes. */
    public static final int MAX_BYTES = 4096;

    public AdminTokenFile {
        Objects.requireNonNull(token, "token");
        warnings = List.copyOf(warnings);
    }

    @Override
    public String toString() {
        return "AdminTokenFile[token=(hidden), warnings=" + warnings + "]";
    }

    /**
     * Reads and checks the token file.
     *
     * @throws TrustedFile.RefusedException saying why, as "admin token file FILE: reason"
     */
    public static AdminTokenFile read(Path file) throws TrustedFile.RefusedException {
        String prefix = "admin token file " + file + ": ";
        TrustedFile.Content content;
        try {
            content = TrustedFile.read(file, MAX_BYTES, TrustedFile.Kind.ADMIN_TOKEN);
        } catch (TrustedFile.RefusedException e) {
            throw new TrustedFile.RefusedException(prefix + e.getMessage());
        }
        String token;
        try {
            token = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content.bytes()))
                    .toString()
                    .strip();
        } catch (CharacterCodingException e) {
            throw new TrustedFile.RefusedException(prefix + "not valid UTF-8");
        }
        if (token.isEmpty()) {
            throw new TrustedFile.RefusedException(prefix + "is empty (write the token into it)");
        }
        if (token.chars().anyMatch(c -> c <= ' ' || c == 127)) {
            throw new TrustedFile.RefusedException(prefix + "holds whitespace or control characters inside the token");
        }
        return new AdminTokenFile(token, content.warnings().stream().map(w -> prefix + w).toList());
    }
}
