package io.maglevlb.control.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * Reads a file maglevd acts on (the configuration, the admin token) safely: regular files only, size-limited
 * while reading.
 *
 * <p><b>Regular files only.</b> The path is examined before it is opened ({@code stat}, following symbolic
 * links): a directory, FIFO, socket or device is refused without opening it, so {@code /dev/zero} cannot fill
 * the heap and a FIFO cannot block the caller waiting for a writer. A symbolic link to a regular file is read.
 * The size limit is enforced by the read itself (at most {@code maxBytes + 1} bytes are ever read), so a file
 * that grows after it was examined, or a {@code /proc} file whose reported size is 0, cannot exceed it. After
 * the read the path must still name the same file (device and inode); otherwise the read is refused as a file
 * that changed meanwhile.
 *
 * <p>Stateless and thread-safe.
 */
public final class TrustedFile {
    private static final int S_IFMT = 0170000;
    private static final int S_IFIFO = 0010000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFSOCK = 0140000;

    private TrustedFile() {}

    /** A file that was not read; the message completes "FILE: ..." and says how to fix it where it can. */
    public static final class RefusedException extends IOException {
        private static final long serialVersionUID = 1L;

        RefusedException(String message) {
            super(message);
        }
    }

    /**
     * The content of {@code file}, at most {@code maxBytes} bytes.
     *
     * @param kind what the file is, for messages: "configuration file", "token file"
     * @throws RefusedException when the file is missing, unreadable, not a regular file or over the limit
     */
    public static byte[] read(Path file, long maxBytes, String kind) throws RefusedException {
        Objects.requireNonNull(file, "file");
        if (maxBytes <= 0 || maxBytes >= Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("maxBytes must be between 1 and 2 GiB, was " + maxBytes);
        }
        BasicFileAttributes before = regularFile(file, kind);
        if (before.size() > maxBytes) {
            throw new RefusedException("the file is " + before.size() + " bytes; the limit is " + maxBytes
                    + " (is this the right file?)");
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes((int) maxBytes + 1);
        } catch (NoSuchFileException e) {
            throw new RefusedException("no such file");
        } catch (AccessDeniedException e) {
            throw new RefusedException("permission denied (the " + kind + " must be readable by maglevd's user)");
        } catch (IOException e) {
            throw new RefusedException("cannot read: " + e.getMessage());
        }
        if (bytes.length > maxBytes) {
            throw new RefusedException("the file is over the limit of " + maxBytes + " bytes (it grew while it was"
                    + " read, or its size is not what stat says)");
        }
        BasicFileAttributes after = regularFile(file, kind);
        if (before.fileKey() != null && !before.fileKey().equals(after.fileKey())) {
            throw new RefusedException("the file was replaced while it was read; try again");
        }
        return bytes;
    }

    /** The attributes of {@code file} (links followed) if it is a regular file; never opens it. */
    static BasicFileAttributes regularFile(Path file, String kind) throws RefusedException {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new RefusedException(Files.isSymbolicLink(file) ? "no such file (a symbolic link to a missing file)"
                    : "no such file");
        } catch (AccessDeniedException e) {
            throw new RefusedException("permission denied (a directory on the path is not searchable by maglevd's"
                    + " user)");
        } catch (IOException e) {
            throw new RefusedException("cannot examine: " + e.getMessage());
        }
        if (attributes.isDirectory()) {
            throw new RefusedException("is a directory, not a " + kind);
        }
        if (!attributes.isRegularFile()) {
            throw new RefusedException("is a " + typeName(file) + ", not a regular file: a " + kind
                    + " must be a regular file (or a symbolic link to one)");
        }
        return attributes;
    }

    /** What kind of special file {@code file} is, from its mode bits. */
    private static String typeName(Path file) {
        try {
            int mode = (Integer) Files.getAttribute(file, "unix:mode");
            return switch (mode & S_IFMT) {
                case S_IFIFO -> "FIFO (named pipe)";
                case S_IFCHR -> "character device";
                case S_IFBLK -> "block device";
                case S_IFSOCK -> "socket";
                default -> "special file";
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            return "special file";
        }
    }
}
