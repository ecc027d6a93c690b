package io.maglevlb.control.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Reads a file maglevd acts on (the configuration, the admin token) safely: only if no one but root and
 * maglevd's own user can change it, regular files only, size-limited while reading.
 *
 * <p><b>Who may change it</b> (as sshd's {@code StrictModes}). The file, and every directory above it up to
 * {@code /}, must be owned by root or by the user maglevd runs as (its effective uid), and must not be writable
 * by group or others. Directories are checked because whoever may write a directory may replace the file in
 * it. One exception that sshd does not make: a directory writable by others but with the sticky bit, such as
 * {@code /tmp}, passes, since there only an entry's owner (checked at the next step down) may rename or delete
 * it. For a symbolic link both the directories holding the link and those holding the file it points to are
 * checked; the file's mode and owner are those of the target. A file that holds a secret ({@link Kind#secret})
 * readable by others is read, with a warning. What remains open: a path component that is itself a symbolic
 * link is checked only where it leads.
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

    private static final int S_ISVTX = 01000;
    private static final int GROUP_OR_OTHERS_WRITE = 0022;
    private static final int OTHERS_READ = 0004;

    /** What a file is to maglevd: names it in messages and says whether others may read it. */
    public enum Kind {
        CONFIGURATION("configuration file", false),
        ADMIN_TOKEN("admin token file", true);

        private final String noun;
        private final boolean secret;

        Kind(String noun, boolean secret) {
            this.noun = noun;
            this.secret = secret;
        }

        public String noun() {
            return noun;
        }

        /** The noun with its indefinite article. */
        String withArticle() {
            return TrustedFile.withArticle(noun);
        }

        /** Whether the file holds a secret: readable by others is then worth a warning. */
        public boolean secret() {
            return secret;
        }
    }

    /** A file's content and what was found questionable but not refused (messages complete "FILE: ..."). */
    public record Content(byte[] bytes, List<String> warnings) {
        public Content {
            Objects.requireNonNull(bytes, "bytes");
            warnings = List.copyOf(warnings);
        }
    }

    private TrustedFile() {}

    /** A file that was not read; the message completes "FILE: ..." and says how to fix it where it can. */
    public static final class RefusedException extends IOException {
        private static final long serialVersionUID = 1L;

        RefusedException(String message) {
            super(message);
        }
    }

    /**
     * The content of {@code file}, at most {@code maxBytes} bytes, after checking who may change it.
     *
     * @throws RefusedException when the file is missing, unreadable, not a regular file, over the limit, or
     *     changeable by someone other than root and maglevd's user
     */
    public static Content read(Path file, long maxBytes, Kind kind) throws RefusedException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(kind, "kind");
        if (maxBytes <= 0 || maxBytes >= Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("maxBytes must be between 1 and 2 GiB, was " + maxBytes);
        }
        String noun = kind.noun();
        BasicFileAttributes before = regularFile(file, noun);
        List<String> warnings = new ArrayList<>();
        checkWhoMayChange(file, kind, warnings);
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
            throw new RefusedException("permission denied (the " + noun + " must be readable by maglevd's user, "
                    + ownUserName() + ")");
        } catch (IOException e) {
            throw new RefusedException("cannot read: " + e.getMessage());
        }
        if (bytes.length > maxBytes) {
            throw new RefusedException("the file is over the limit of " + maxBytes + " bytes (it grew while it was"
                    + " read, or its size is not what stat says)");
        }
        BasicFileAttributes after = regularFile(file, noun);
        if (before.fileKey() != null && !before.fileKey().equals(after.fileKey())) {
            throw new RefusedException("the file was replaced while it was read; try again");
        }
        return new Content(bytes, warnings);
    }

    /**
     * Checks the file's and its directories' owners and modes (see the class comment).
     *
     * @param warnings receives what is questionable but not refused
     */
    static void checkWhoMayChange(Path file, Kind kind, List<String> warnings) throws RefusedException {
        int self = ownUid();
        Stat stat = stat(file);
        if (!trustedOwner(stat.uid, self)) {
            throw new RefusedException("is owned by " + ownerName(file, stat.uid) + ", not by root or maglevd's user ("
                    + ownUserName() + "): whoever owns " + kind.withArticle() + " can change it. Fix: chown root "
                    + file + " (or run maglevd as its owner)");
        }
        if ((stat.mode & GROUP_OR_OTHERS_WRITE) != 0) {
            throw new RefusedException("is writable by " + writers(stat.mode) + " (mode " + octal(stat.mode)
                    + "): maglevd refuses " + kind.withArticle() + " that others can change. Fix: chmod go-w " + file);
        }
        if (kind.secret() && (stat.mode & OTHERS_READ) != 0) {
            warnings.add("is readable by every user of this host (mode " + octal(stat.mode)
                    + "), so anyone here can use the admin API with it. Fix: chmod o-r " + file);
        }
        for (Path dir : directoriesAbove(file)) {
            Stat d = stat(dir);
            if (!trustedOwner(d.uid, self)) {
                throw new RefusedException("directory " + dir + " is owned by " + ownerName(dir, d.uid)
                        + ", not by root or maglevd's user (" + ownUserName() + "), so its owner can replace the "
                        + kind.noun() + ". Fix: chown root " + dir + " (or move the file)");
            }
            if ((d.mode & GROUP_OR_OTHERS_WRITE) != 0 && (d.mode & S_ISVTX) == 0) {
                throw new RefusedException("directory " + dir + " is writable by " + writers(d.mode) + " (mode "
                        + octal(d.mode) + ") without the sticky bit, so others can replace the " + kind.noun()
                        + ". Fix: chmod go-w " + dir + " (or move the file)");
            }
        }
    }

    /** Every directory from the one holding {@code file} (and the one holding its target) up to the root. */
    private static Set<Path> directoriesAbove(Path file) throws RefusedException {
        Set<Path> dirs = new LinkedHashSet<>();
        try {
            Path linkDir = file.toAbsolutePath().getParent();
            if (linkDir != null) {
                addWithAncestors(dirs, linkDir.toRealPath());
            }
            Path targetDir = file.toRealPath().getParent();
            if (targetDir != null) {
                addWithAncestors(dirs, targetDir);
            }
        } catch (IOException e) {
            throw new RefusedException("cannot resolve the directories above it: " + e.getMessage());
        }
        return dirs;
    }

    private static void addWithAncestors(Set<Path> dirs, Path dir) {
        for (Path d = dir; d != null; d = d.getParent()) {
            dirs.add(d);
        }
    }

    private static boolean trustedOwner(int uid, int self) {
        return uid == 0 || uid == self;
    }

    private record Stat(int mode, int uid) {}

    /** Mode and owner of {@code path}, links followed. */
    private static Stat stat(Path path) throws RefusedException {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:mode,uid");
            return new Stat((Integer) a.get("mode"), (Integer) a.get("uid"));
        } catch (UnsupportedOperationException e) {
            throw new RefusedException("cannot check its owner and mode: this platform has no unix file attributes");
        } catch (IOException e) {
            throw new RefusedException("cannot check the owner and mode of " + path + ": " + e.getMessage());
        }
    }

    /** The effective uid of this process: the owner of {@code /proc/self}. */
    static int ownUid() throws RefusedException {
        Integer uid = OwnUser.UID;
        if (uid == null) {
            throw new RefusedException("cannot tell which user maglevd runs as (no /proc/self)");
        }
        return uid;
    }

    private static String ownUserName() {
        return OwnUser.UID == null ? "unknown" : OwnUser.UID == 0 ? "root" : OwnUser.NAME + ", uid " + OwnUser.UID;
    }

    private static String ownerName(Path path, int uid) {
        try {
            String name = Files.getOwner(path).getName();
            return name.equals(Integer.toString(uid)) ? "uid " + uid : name + " (uid " + uid + ")";
        } catch (IOException e) {
            return "uid " + uid;
        }
    }

    private static String writers(int mode) {
        boolean group = (mode & 0020) != 0;
        boolean others = (mode & 0002) != 0;
        return group && others ? "group and others" : group ? "its group" : "others";
    }

    private static String octal(int mode) {
        return String.format("%04o", mode & 07777);
    }

    /** Looked up once: the effective uid never changes while maglevd runs. */
    private static final class OwnUser {
        static final Integer UID = lookUpUid();
        static final String NAME = System.getProperty("user.name", "?");

        private static Integer lookUpUid() {
            try {
                return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                return null;
            }
        }
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
            throw new RefusedException("is a directory, not " + withArticle(kind));
        }
        if (!attributes.isRegularFile()) {
            throw new RefusedException("is a " + typeName(file) + ", not a regular file: " + withArticle(kind)
                    + " must be a regular file (or a symbolic link to one)");
        }
        return attributes;
    }

    private static String withArticle(String noun) {
        return ("aeiou".indexOf(noun.charAt(0)) >= 0 ? "an " : "a ") + noun;
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
