package io.maglevlb.dataplane.linux;

/**
 * A netlink request failed. {@link #errno()} is the kernel's error number when the kernel refused the request
 * (e.g. {@link LinuxNative#EEXIST}, {@link LinuxNative#EPERM}), 0 when the failure was local (no answer, a
 * malformed reply).
 */
public final class NetlinkException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public NetlinkException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public NetlinkException(String message) {
        this(message, 0);
    }

    /** The kernel's error number, or 0 when the failure was not the kernel's answer. */
    public int errno() {
        return errno;
    }
}
