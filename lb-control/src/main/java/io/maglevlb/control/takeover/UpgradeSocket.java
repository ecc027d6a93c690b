package io.maglevlb.control.takeover;

import io.maglevlb.dataplane.linux.UnixSocket;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Setting up {@code upgrade_socket}: its directory (created owner and group only, 0750, when missing) and the
 * socket itself (0600), bound under a name of this process first and then renamed over the path, so the path
 * always names a socket someone listens on: the old process's until the new one's replaces it.
 */
final class UpgradeSocket {
    private UpgradeSocket() {
    }

    /** Creates the socket's directory (0750) when it is missing; refuses one anyone else may write to. */
    static void prepareDirectory(Path socket) throws IOException {
        Path dir = socket.toAbsolutePath().getParent();
        if (!Files.exists(dir)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
            return;
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory");
        }
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
        if (perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new AccessDeniedException(dir.toString(), null,
                    "anyone may write to the directory of upgrade_socket; give it mode 0750 or 0700");
        }
    }

    /**
     * Listens on {@code path}: binds {@code path.<pid>}, makes it 0600 and renames it over {@code path}.
     */
    static UnixSocket listen(Path path) throws IOException {
        Path staging = path.resolveSibling(path.getFileName() + "." + ProcessHandle.current().pid());
        Files.deleteIfExists(staging);
        UnixSocket socket = UnixSocket.listen(staging, 4);
        try {
            Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rw-------"));
            Files.move(staging, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            Files.deleteIfExists(staging);
            throw e;
        }
    }

    /** Whether a process listens on {@code path} now (a connect succeeds). */
    static boolean inUse(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (UnixSocket probe = UnixSocket.connect(path)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The file's identity (device and inode), to tell later whether {@code path} still names our socket. */
    static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }
}
