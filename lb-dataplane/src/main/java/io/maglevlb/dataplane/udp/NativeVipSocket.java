package io.maglevlb.dataplane.udp;

import io.maglevlb.dataplane.linux.DatagramBatch;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.maglevlb.dataplane.linux.UnixSocket;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SO_REUSEPORT socket of a UDP VIP on one event loop, for {@link NativeUdpVipLoop}: opened and bound with plain
 * system calls, registered with the loop's epoll level-triggered for reading, and read by its owner with
 * recvmmsg. Replies to clients leave through it too (sendmmsg).
 *
 * <p><b>Hand-over.</b> A reload that gives the VIP a new forwarder on the same address hands the socket to the new
 * forwarder's loop ({@link NativeUdpVipLoop#takeOver}): it stays open and registered, only {@link #owner} changes,
 * so no datagram is refused meanwhile. The old loop's sessions still send their backends' replies through it;
 * everyone reads {@link #fd} before each send, and it is -1 once the socket is closed, so nothing is ever sent to
 * a descriptor number the kernel has since given to another file.
 *
 * <p><b>Threading.</b> {@link #open} runs on any thread; everything else on the loop the socket is registered with.
 */
final class NativeVipSocket implements EpollIoHandle {
    private static final Logger log = LoggerFactory.getLogger(NativeVipSocket.class);

    /** The descriptor, or -1 once closed. */
    volatile int fd;
    private final FileDescriptor descriptor;
    final InetSocketAddress localAddress;
    /** The loop that reads the socket: changes only on the loop, at a hand-over. */
    NativeUdpVipLoop owner;
    private IoRegistration registration;
    private boolean closed;

    private NativeVipSocket(int fd, InetSocketAddress localAddress) {
        this.fd = fd;
        this.descriptor = new FileDescriptor(fd);
        this.localAddress = localAddress;
    }

    /**
     * A non-blocking UDP socket bound to {@code address} with SO_REUSEPORT and the tuning's buffer sizes.
     *
     * @throws IOException when it cannot be opened or bound (nothing stays open then)
     */
    static NativeVipSocket open(InetSocketAddress address, UdpTuning tuning) throws IOException {
        // Native memory: the scratch sockaddr and option values of this call, freed when the binding closes here.
        try (LinuxNative sys = new LinuxNative()) {
            int family = address.getAddress() instanceof Inet6Address ? LinuxNative.AF_INET6 : LinuxNative.AF_INET;
            int fd = sys.socket(family, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC,
                    0);
            if (fd < 0) {
                throw new IOException("socket: " + LinuxNative.describe(sys.errno()));
            }
            try {
                check(sys, fd, sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_REUSEPORT, 1),
                        "SO_REUSEPORT");
                if (tuning.vipReceiveBufferBytes() > 0) {
                    check(sys, fd, sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_RCVBUF,
                            tuning.vipReceiveBufferBytes()), "SO_RCVBUF");
                }
                if (tuning.vipSendBufferBytes() > 0) {
                    check(sys, fd, sys.setsockoptInt(fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUF,
                            tuning.vipSendBufferBytes()), "SO_SNDBUF");
                }
                byte[] encoded = DatagramBatch.encode(address);
                MemorySegment sockaddr = sys.allocate(DatagramBatch.NAME_BYTES);
                MemorySegment.copy(encoded, 0, sockaddr, ValueLayout.JAVA_BYTE, 0, encoded.length);
                check(sys, fd, sys.bind(fd, sockaddr, encoded.length), "bind");
                MemorySegment length = sys.allocate(4);
                length.set(ValueLayout.JAVA_INT, 0, DatagramBatch.NAME_BYTES);
                check(sys, fd, sys.getsockname(fd, sockaddr, length), "getsockname");
                return new NativeVipSocket(fd, DatagramBatch.decode(sockaddr));
            } catch (IOException | RuntimeException e) {
                sys.closeFd(fd);
                throw e;
            }
        }
    }

    /**
     * Takeover: the VIP socket {@code fd} another process bound (and still holds). This object owns {@code fd}
     * from then on.
     */
    static NativeVipSocket adopt(int fd) throws IOException {
        return new NativeVipSocket(fd, UnixSocket.localAddress(fd));
    }

    /**
     * On the loop: stops reading (takes the socket out of the loop's epoll) but keeps it open, so the loop's
     * tracked flows still send their replies through it. Takeover, old process: the successor reads it now.
     */
    void stopReading() {
        if (registration != null && !closed) {
            registration.cancel();
            registration = null;
        }
    }

    private static void check(LinuxNative sys, int fd, int result, String what) throws IOException {
        if (result != 0) {
            throw new IOException(what + ": " + LinuxNative.describe(sys.errno()));
        }
    }

    /** On {@code loop}: registers the socket with the loop's epoll for reading. */
    void register(IoEventLoop loop) throws Exception {
        registration = loop.register(this).sync().getNow();
        registration.submit(EpollIoOps.EPOLLIN);
    }

    @Override
    public FileDescriptor fd() {
        return descriptor;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        NativeUdpVipLoop o = owner;
        if (!closed && o != null) {
            o.vipReadable(this);
        }
    }

    /** Closes the socket (the kernel stops delivering to it at once). On the loop; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        fd = -1;
        // Out of epoll first, while the descriptor is open: after a takeover the successor process holds the same
        // socket, and epoll drops a file only when its last descriptor closes.
        if (registration != null) {
            registration.cancel();
        }
        try {
            descriptor.close();
        } catch (IOException e) {
            log.debug("closing a udp vip socket failed", e);
        }
    }
}
