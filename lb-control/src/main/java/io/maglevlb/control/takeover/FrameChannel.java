package io.maglevlb.control.takeover;

import io.maglevlb.dataplane.linux.UnixSocket;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * Frames over a {@link UnixSocket}: the takeover protocol's transport ({@link TakeoverProtocol} says what the
 * frames mean). A frame is an 8-byte header, then its body:
 *
 * <pre>
 *   u8  type        (TakeoverProtocol.HELLO, ...)
 *   u8  reserved    (0)
 *   u16 fdCount     descriptors that belong to this frame (SCM_RIGHTS, sent with the frame's first byte)
 *   u32 bodyLength  at most MAX_BODY_BYTES
 *   ... body
 * </pre>
 * All numbers big-endian. Descriptors are counted, not located: the receiver queues every descriptor that
 * arrives and a complete frame takes the first {@code fdCount} of them, so it does not matter where the kernel
 * ends a read. Descriptors left over at {@link #close()} are closed.
 *
 * <p>Threading: one thread at a time (the takeover's control thread on each side).
 */
final class FrameChannel implements AutoCloseable {
    static final int HEADER_BYTES = 8;
    /** Largest body accepted: ample for an inventory of thousands of VIPs or a flow table section. */
    static final int MAX_BODY_BYTES = 64 << 20;

    /** A received frame; its descriptors are the receiver's to adopt or close. */
    record Frame(int type, byte[] body, int[] fds) {
    }

    private final UnixSocket socket;
    private final Deque<Integer> pendingFds = new ArrayDeque<>();

    FrameChannel(UnixSocket socket) {
        this.socket = socket;
    }

    void send(int type, byte[] body, int[] fds) throws IOException {
        if (fds.length > UnixSocket.MAX_FDS_PER_SEND) {
            throw new IOException("frame " + type + " has " + fds.length + " descriptors, at most "
                    + UnixSocket.MAX_FDS_PER_SEND);
        }
        byte[] frame = new byte[HEADER_BYTES + body.length];
        frame[0] = (byte) type;
        frame[2] = (byte) (fds.length >>> 8);
        frame[3] = (byte) fds.length;
        frame[4] = (byte) (body.length >>> 24);
        frame[5] = (byte) (body.length >>> 16);
        frame[6] = (byte) (body.length >>> 8);
        frame[7] = (byte) body.length;
        System.arraycopy(body, 0, frame, HEADER_BYTES, body.length);
        socket.send(frame, fds);
    }

    /** Reads the next frame (waits up to the socket's timeout for each part). */
    Frame receive() throws IOException {
        byte[] header = new byte[HEADER_BYTES];
        readFully(header);
        int type = header[0] & 0xff;
        int fdCount = ((header[2] & 0xff) << 8) | (header[3] & 0xff);
        long bodyLength = ((long) (header[4] & 0xff) << 24) | ((header[5] & 0xff) << 16) | ((header[6] & 0xff) << 8)
                | (header[7] & 0xff);
        if (bodyLength > MAX_BODY_BYTES) {
            throw new IOException("frame " + type + " of " + bodyLength + " bytes, more than " + MAX_BODY_BYTES
                    + ": not a maglevd takeover peer, or a broken one");
        }
        byte[] body = new byte[(int) bodyLength];
        readFully(body);
        if (pendingFds.size() < fdCount) {
            throw new IOException("frame " + type + " announces " + fdCount + " descriptors, " + pendingFds.size()
                    + " arrived");
        }
        int[] fds = new int[fdCount];
        for (int i = 0; i < fdCount; i++) {
            fds[i] = pendingFds.removeFirst();
        }
        return new Frame(type, body, fds);
    }

    private void readFully(byte[] into) throws IOException {
        int at = 0;
        while (at < into.length) {
            UnixSocket.Received r = socket.receive(into, at, UnixSocket.MAX_FDS_PER_SEND);
            at += r.bytes();
            for (int fd : r.fds()) {
                pendingFds.addLast(fd);
            }
        }
    }

    UnixSocket socket() {
        return socket;
    }

    @Override
    public void close() {
        while (!pendingFds.isEmpty()) {
            UnixSocket.closeQuietly(pendingFds.removeFirst());
        }
        socket.close();
    }

    /** Closes descriptors nobody adopted. */
    static void closeAll(int[] fds) {
        Arrays.stream(fds).forEach(UnixSocket::closeQuietly);
    }
}
