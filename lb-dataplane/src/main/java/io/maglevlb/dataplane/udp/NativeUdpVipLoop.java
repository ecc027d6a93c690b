package io.maglevlb.dataplane.udp;

import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import io.maglevlb.dataplane.IoPassEnd;
import io.maglevlb.dataplane.LocalError;
import io.maglevlb.dataplane.SnapshotHolder;
import io.maglevlb.dataplane.linux.DatagramBatch;
import io.maglevlb.dataplane.linux.LinuxNative;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP VIP on one epoll event loop, without an object per datagram: the loop's SO_REUSEPORT socket of the VIP
 * ({@link NativeVipSocket}), its flow table, and the sessions of the flows the kernel steered to that socket, each
 * with a connected socket toward its backend. Every socket is registered with the loop's epoll directly (Netty's
 * {@code EpollIoHandler}, as the raw TCP relay does) and read and written with recvmmsg and sendmmsg through FFM
 * ({@link DatagramBatch}); datagrams stay in native memory from the kernel's copy in to its copy out.
 *
 * <p>The forwarding decisions and the counters are {@link UdpFlowLoop}'s, shared with {@link UdpVipLoop} (the Netty
 * engine, kept as the fallback on NIO); see its design notes. What this class adds is the I/O:
 * <ul>
 *   <li>Client datagrams: one recvmmsg of up to {@link UdpTuning#recvBatch()} datagrams on the VIP socket; each
 *       is resolved in turn, then runs of consecutive datagrams to one backend socket leave in one sendmmsg
 *       (with {@link UdpTuning#deferFlush()}; else one datagram per call).</li>
 *   <li>Backend datagrams: one recvmmsg on the session's socket into the free part of the reply batch. The
 *       replies of every session socket the loop finds readable in one pass over epoll's events gather there and
 *       leave through the VIP socket in one sendmmsg at the end of the pass ({@link IoPassEnd}; each run of one
 *       session's replies addressed to its client), or earlier when the batch fills. Without an
 *       {@link IoPassEnd} (a loop whose I/O handler has none) each read's replies leave at once.</li>
 *   <li>Nothing is queued in user space: a send the kernel refuses with EAGAIN (the socket buffer is full) is a
 *       {@link UdpDropReason#SEND_BUFFER_FULL} drop, any other failure a {@link UdpDropReason#SEND_ERROR}.</li>
 * </ul>
 *
 * <p><b>Native memory.</b> The four batches (client datagrams in, to backends, backend datagrams in, to clients)
 * and a scratch sockaddr are allocated in the constructor from {@link #sys}'s arena: per VIP forwarder and event
 * loop, about 2 x {@code recvBatch} x 64 KiB, freed by {@link #close()} once every socket of this loop is closed.
 * No native memory is allocated per flow or per datagram.
 *
 * <p><b>Threading.</b> Everything runs on {@link #loop}; other threads only read {@link #counters} and the flow
 * table's statistics, racily (see {@link UdpLoopCounters}).
 */
final class NativeUdpVipLoop extends UdpFlowLoop<NativeUdpVipLoop.FlowSocket, NativeUdpVipLoop.NativeUdpSession>
        implements IoPassEnd.Listener {
    private static final Logger log = LoggerFactory.getLogger(NativeUdpVipLoop.class);
    /** Datagrams one readiness event of the VIP socket takes at most before the loop serves its other sockets. */
    private static final int VIP_DATAGRAMS_PER_EVENT = 64;
    /**
     * Readiness events' worth of datagrams (64 each) a retiring VIP socket is read for at most before it stops
     * accepting: 65,536 datagrams, more than a receive buffer of a few MB holds (each queued datagram costs the
     * buffer about 1 KB, whatever its length).
     */
    private static final int DRAIN_EVENTS_MAX = 1024;
    /** The same for a backend socket (level-triggered: what is left is reported again at once). */
    private static final int BACKEND_DATAGRAMS_PER_EVENT = 16;
    /** Each receive slot holds the largest datagram (IPv6 without jumbograms: 65527 bytes), so none is cut. */
    private static final int SLOT_BYTES = 65536;
    /**
     * Largest datagram sent with UDP GSO: one that fits a 1500-byte MTU over IPv6 (1500 - 40 - 8). Larger ones go
     * one per message, as the kernel refuses segments above the route's MTU.
     */
    private static final int GSO_MAX_SEGMENT_BYTES = 1452;
    /** Most payload bytes in one GSO message: below the 64 KiB an IP packet can carry before it is segmented. */
    private static final int GSO_MAX_BYTES = 65000;
    private static final int EIO = 5;
    /** A pass that moved fewer datagrams of this VIP than this is small (see {@link UdpTuning#passPauseNanos}). */
    private static final int SMALL_PASS_DATAGRAMS = 8;
    /**
     * Datagrams arrive back to back when a pass that moves some begins within this of the end of the previous one
     * (its pause included): only then does a small pass pause the loop, so a VIP with little traffic never waits.
     */
    private static final long BACK_TO_BACK_NS = 100_000;
    /**
     * After a pause that did not pay (the next pass moved fewer than twice the datagrams of the pass before it, or
     * fewer than 4: a client that waits for each answer before it sends again, where a pause only adds latency),
     * the loop does not pause for this long, doubling up to {@link #PAUSE_BACKOFF_MAX_NS} while pauses keep not
     * paying; one that pays resets it.
     */
    private static final long PAUSE_BACKOFF_MIN_NS = 1_000_000;
    private static final long PAUSE_BACKOFF_MAX_NS = 128_000_000;
    private static final int EHOSTUNREACH = 113;
    private static final int ENETUNREACH = 101;

    private final int vipRounds;
    private final int backendRounds;

    // Native memory: allocated here from sys's arena, owned by this loop, freed by close().
    private final LinuxNative sys = new LinuxNative();
    private final DatagramBatch fromClients;
    private final DatagramBatch toBackends;
    private final DatagramBatch fromBackend;
    private final DatagramBatch toClients;
    private final MemorySegment connectTarget;

    // Decisions of the current client batch, by slot (heap, allocated once).
    private final FlowSocket[] targetSocket;
    private final int[] targetBackend;
    private final boolean[] targetTracked;
    // The messages send() packed, by message index: the first payload of each and how many it carries.
    private final int[] messageFirst;
    private final int[] messageCount;
    /** The slot of {@link #fromClients} that {@link #route} is deciding: {@link #newSession} copies its sender. */
    private int routingSlot;

    // Replies gathered for the VIP socket: slots 0 .. pendingReplies - 1 of fromBackend (and of toClients' payloads)
    // hold backend datagrams not sent yet, replySession[i] the session of slot i (heap, allocated once).
    private final NativeUdpSession[] replySession;
    private int pendingReplies;
    /** The loop's end of pass ({@link #attach}, {@link #takeOver}); null: replies leave as soon as they are read. */
    private IoPassEnd passEnd;
    /** {@link #ioPassEnded} is requested for the end of the current pass. */
    private boolean passEndRequested;
    // The current pass (datagrams this loop moved in it, when it moved the first) and when the previous one ended.
    private int passDatagrams;
    private long passStartNs;
    private long lastPassEndNs;
    /** Datagrams of the pass that paused the loop last, if the pass after it has not ended yet; else 0. */
    private int pausedAfter;
    private long noPauseUntilNs;
    private long pauseBackoffNs = PAUSE_BACKOFF_MIN_NS;

    private NativeVipSocket vipSocket;
    /** The VIP socket went to a successor ({@link #takeOver}): this loop only replies through it, never closes it. */
    private boolean vipSocketHandedOver;

    NativeUdpVipLoop(String vipName, EventLoop loop, SnapshotHolder snapshots, HashMode hashMode, int tableCapacity,
            int flowLimit, long idleTimeoutNs, int floodThreshold, UdpTuning tuning, LongSupplier descriptorCeiling) {
        super(vipName, loop, snapshots, hashMode, tableCapacity, flowLimit, idleTimeoutNs, floodThreshold, tuning,
                descriptorCeiling);
        int batch = tuning.recvBatch();
        this.vipRounds = Math.max(1, VIP_DATAGRAMS_PER_EVENT / batch);
        this.backendRounds = Math.max(1, BACKEND_DATAGRAMS_PER_EVENT / batch);
        try {
            this.fromClients = new DatagramBatch(sys, batch, SLOT_BYTES, true);
            this.toBackends = new DatagramBatch(sys, batch, 0, false);
            this.fromBackend = new DatagramBatch(sys, batch, SLOT_BYTES, false);
            this.toClients = new DatagramBatch(sys, batch, 0, true);
            this.connectTarget = sys.allocate(DatagramBatch.NAME_BYTES);
        } catch (RuntimeException | Error e) {
            sys.close();
            throw e;
        }
        this.targetSocket = new FlowSocket[batch];
        this.messageFirst = new int[batch];
        this.messageCount = new int[batch];
        this.targetBackend = new int[batch];
        this.targetTracked = new boolean[batch];
        this.replySession = new NativeUdpSession[batch];
        this.lastPassEndNs = System.nanoTime() - 2 * BACK_TO_BACK_NS; // no pass before the first
        this.noPauseUntilNs = lastPassEndNs;
    }

    /** On {@link #loop}: starts reading {@code socket} (bound, not registered yet) and sweeping. */
    void attach(NativeVipSocket socket) throws Exception {
        socket.register((IoEventLoop) loop);
        passEnd = IoPassEnd.current();
        active(socket);
    }

    private void active(NativeVipSocket socket) {
        this.vipSocket = socket;
        socket.owner = this;
        active(socket.localAddress);
    }

    /**
     * On {@link #loop}: takes over {@code predecessor}'s VIP socket (a reload changed the VIP's settings, not its
     * address). The socket stays open and registered; from the next readiness event on it is read by this loop.
     * The predecessor takes no new flows; its tracked flows' replies still leave through the socket.
     */
    void takeOver(NativeUdpVipLoop predecessor) {
        predecessor.accepting = false;
        predecessor.vipSocketHandedOver = true;
        passEnd = IoPassEnd.current();
        active(predecessor.vipSocket);
    }

    /** The VIP socket, once attached. */
    NativeVipSocket vipSocket() {
        return vipSocket;
    }

    /**
     * Reads the VIP socket until it is empty (bounded by {@link #DRAIN_EVENTS_MAX} events' worth, in case clients
     * keep it full), forwarding as usual, then stops accepting. Nothing when the socket was handed over.
     */
    @Override
    public void stopAcceptingAfterQueue() {
        NativeVipSocket socket = vipSocket;
        if (socket != null && !vipSocketHandedOver && accepting) {
            for (int i = 0; i < DRAIN_EVENTS_MAX && socket.fd >= 0; i++) {
                if (vipReadable(socket)) { // one readiness event's share per call
                    break;
                }
            }
        }
        stopAccepting();
    }

    /**
     * On the loop. Takeover, old process: stops reading the VIP socket (the successor process reads it now) and
     * takes no new flows; tracked flows' replies still leave through it until they go idle.
     */
    void releaseVipSocket() {
        accepting = false;
        if (vipSocket != null && !vipSocketHandedOver) {
            vipSocket.stopReading();
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        flushReplies(); // what this pass read from backends still goes out
        if (!closeFlows()) {
            return;
        }
        if (vipSocket != null && !vipSocketHandedOver) {
            vipSocket.close();
        }
        sys.close(); // every socket that could read into the batches is closed
    }

    // ------------------------------------------------------------------ client -> backend

    /**
     * The VIP socket is readable: reads batches until it is empty or this event's share is used up.
     *
     * @return true when the socket was found empty (or failed, or this loop is closed): nothing more to read now
     */
    boolean vipReadable(NativeVipSocket socket) {
        if (closed) {
            return true;
        }
        for (int round = 0; round < vipRounds; round++) {
            int n = fromClients.receive(sys, socket.fd);
            if (n < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EINTR) {
                    continue;
                }
                if (errno != LinuxNative.EAGAIN) {
                    counters.vipSocketErrors++;
                    log.debug("vip {}: error on udp socket: {}", vipName, LinuxNative.describe(errno));
                }
                return true;
            }
            clientBatch(n);
            if (n < fromClients.slots() || closed) {
                return true;
            }
        }
        return false;
    }

    private void clientBatch(int n) {
        batchNowNs = System.nanoTime();
        moved(n, batchNowNs);
        ForwardingSnapshot snapshot = snapshots.current();
        for (int i = 0; i < n; i++) {
            routingSlot = i;
            FlowSocket socket = route(snapshot, fromClients.length(i), fromClients.nameHi(i), fromClients.nameLo(i),
                    fromClients.namePort(i));
            targetSocket[i] = socket;
            if (socket != null) {
                targetBackend[i] = routedBackend;
                targetTracked[i] = routedSession != null;
            }
        }
        boolean runs = tuning.deferFlush();
        UdpLoopCounters c = counters;
        for (int i = 0; i < n;) {
            FlowSocket socket = targetSocket[i];
            if (socket == null) {
                i++;
                continue;
            }
            int end = i + 1;
            while (runs && end < n && targetSocket[end] == socket) {
                end++;
            }
            for (int k = i; k < end; k++) {
                // Counted as sent before the call, as a datagram a peer may already have answered must be; a
                // failed send is counted as a drop too.
                int bytes = fromClients.length(k);
                c.datagramsToBackends++;
                c.bytesToBackends += bytes;
                UdpLoopCounters.PerBackend b = c.backend(targetBackend[k]);
                b.datagramsToBackend++;
                b.bytesToBackend += bytes;
                toBackends.setPayload(k, fromClients.bufferAddress(k), bytes);
            }
            if (send(toBackends, socket.fd, i, end, !socket.noSegmentOffload)) {
                socket.noSegmentOffload = true;
            }
            i = end;
        }
        Arrays.fill(targetSocket, 0, n, null); // nothing of this batch stays reachable from here
    }

    @Override
    NativeUdpSession newSession(int entry) {
        return new NativeUdpSession(entry, fromClients.copyName(routingSlot));
    }

    /**
     * Sends payloads {@code from} .. {@code end - 1} of {@code batch} (set with {@link DatagramBatch#setPayload}) on
     * {@code fd}, a backend's connected socket. Nothing is queued in user space: what the kernel refuses for a full
     * send buffer is a {@link UdpDropReason#SEND_BUFFER_FULL} drop, any other failure a
     * {@link UdpDropReason#SEND_ERROR} (and an ICMP error surfacing here counts as unreachable).
     *
     * <p>With {@code segmentOffload} (and the tuning's), consecutive datagrams of one size leave as one UDP GSO
     * message ({@link #pack}). Where the kernel refuses that ({@code EINVAL}: the segment does not fit the route's
     * MTU; {@code EIO}: no checksum offload on the way), the rest go one datagram per message and this returns
     * true: the caller stops asking for it toward that peer.
     */
    private boolean send(DatagramBatch batch, int fd, int from, int end, boolean segmentOffload) {
        UdpLoopCounters c = counters;
        boolean gso = segmentOffload && tuning.segmentOffload() && tuning.deferFlush();
        boolean refused = false;
        int next = from; // the first datagram not sent nor dropped yet
        while (next < end) {
            int last = pack(batch, next, end, null, gso, next);
            int m = next;
            boolean repack = false;
            while (m < last && !repack) {
                int sent = batch.send(sys, fd, m, tuning.deferFlush() ? last - m : 1);
                if (sent > 0) {
                    m += sent;
                    continue;
                }
                int errno = sys.errno();
                if (errno == LinuxNative.EINTR) {
                    continue;
                }
                int first = messageFirst[m];
                if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                    // The socket's send buffer is full: drop what is left rather than queue it (see UdpDropReason).
                    for (int k = first; k < end; k++) {
                        c.drop(UdpDropReason.SEND_BUFFER_FULL);
                    }
                    return refused;
                }
                if (messageCount[m] > 1 && (errno == LinuxNative.EINVAL || errno == EIO)) {
                    refused = true; // the kernel cannot segment toward this peer: one datagram per message
                    gso = false;
                } else {
                    // The kernel failed this datagram (ECONNREFUSED after an ICMP port unreachable, ...): the rest
                    // go on. In a GSO message that is its first datagram: the error is reported once.
                    c.drop(UdpDropReason.SEND_ERROR);
                    if (isUnreachable(errno)) {
                        c.backendUnreachable++;
                        if (targetTracked[first]) {
                            c.backend(targetBackend[first]).unreachable++;
                        }
                    }
                    first++;
                }
                next = first;
                repack = true;
            }
            if (!repack) {
                return refused;
            }
        }
        return refused;
    }

    /**
     * Packs payloads {@code from} .. {@code end - 1} of {@code batch} into messages from {@code firstMessage} on
     * ({@code <= from}), recording
     * each message's first payload and payload count; returns the index after the last message. With {@code gso},
     * a message takes consecutive payloads of one size up to {@link #GSO_MAX_SEGMENT_BYTES} (and one shorter last
     * one), at most {@link DatagramBatch#MAX_SEGMENTS} and {@link #GSO_MAX_BYTES} in all; else one payload each.
     */
    private int pack(DatagramBatch batch, int from, int end, byte[] client, boolean gso, int firstMessage) {
        int m = firstMessage;
        int a = from;
        while (a < end) {
            int size = batch.payloadLength(a);
            int b = a + 1;
            if (gso && size > 0 && size <= GSO_MAX_SEGMENT_BYTES) {
                int total = size;
                while (b < end && b - a < DatagramBatch.MAX_SEGMENTS && total + size <= GSO_MAX_BYTES
                        && batch.payloadLength(b) == size) {
                    total += size;
                    b++;
                }
                if (b < end && b - a < DatagramBatch.MAX_SEGMENTS) {
                    int shorter = batch.payloadLength(b);
                    if (shorter > 0 && shorter < size && total + shorter <= GSO_MAX_BYTES) {
                        b++;
                    }
                }
            }
            int count = b - a;
            batch.setMessage(m, a, count, count > 1 ? size : 0);
            if (client != null) {
                batch.setName(m, client);
            }
            messageFirst[m] = a;
            messageCount[m] = count;
            m++;
            a = b;
        }
        return m;
    }

    private static boolean isUnreachable(int errno) {
        return errno == LinuxNative.ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH;
    }

    // ------------------------------------------------------------------ backend -> client

    /**
     * A backend socket is readable: a session's datagrams are read into the reply batch, to leave through the VIP
     * socket at the end of the pass ({@link #flushReplies}).
     */
    void backendReadable(FlowSocket socket) {
        NativeUdpSession session = socket.session;
        if (closed || socket.closed) {
            return;
        }
        UdpLoopCounters c = counters;
        int slots = fromBackend.slots();
        for (int round = 0; round < backendRounds; round++) {
            if (pendingReplies > slots / 2) {
                flushReplies(); // room for a whole read again, rather than many short ones
            }
            int from = pendingReplies;
            int room = slots - from;
            int n = fromBackend.receive(sys, socket.fd, from, room);
            if (n < 0) {
                int errno = sys.errno();
                if (errno == LinuxNative.EAGAIN) {
                    return;
                }
                if (errno != LinuxNative.EINTR) {
                    backendUnreachable(session); // an ICMP error the kernel reported for the backend
                }
                continue;
            }
            if (session == null) {
                // A stateless socket's replies cannot be matched to a client: read and counted, never forwarded.
                c.datagramsFromBackends += n;
                c.dropped[UdpDropReason.STATELESS_REPLY.ordinal()] += n;
            } else {
                toClient(session, from, n);
            }
            if (n < room || socket.closed) {
                return;
            }
        }
    }

    /**
     * The {@code n} datagrams just read into slots {@code from} .. of the reply batch on {@code session}'s socket
     * join the replies for the VIP socket: sent at the end of this pass, or at once without an {@link IoPassEnd}.
     */
    private void toClient(NativeUdpSession session, int from, int n) {
        UdpLoopCounters c = counters;
        // A reply is traffic too: the flow is not idle while the backend talks.
        long nowNs = System.nanoTime();
        flowTable.touch(session.entryId, nowNs);
        UdpLoopCounters.PerBackend b = c.backend(session.backendId);
        for (int i = from; i < from + n; i++) {
            int bytes = fromBackend.length(i);
            c.datagramsFromBackends++;
            c.bytesFromBackends += bytes;
            b.datagramsFromBackend++;
            b.bytesFromBackend += bytes;
            c.datagramsToClients++; // before the send, as for backends
            c.bytesToClients += bytes;
            toClients.setPayload(i, fromBackend.bufferAddress(i), bytes);
            replySession[i] = session;
        }
        pendingReplies = from + n;
        moved(n, nowNs);
        if (passEnd == null || !tuning.deferFlush()) {
            flushReplies();
        }
    }

    /** {@code n} datagrams were read in this pass, at {@code nowNs}: {@link #ioPassEnded} runs at its end. */
    private void moved(int n, long nowNs) {
        if (passDatagrams == 0) {
            passStartNs = nowNs;
        }
        passDatagrams += n;
        if (passEnd != null && !passEndRequested) {
            passEndRequested = true;
            passEnd.request(this);
        }
    }

    /**
     * The end of a pass in which this loop read datagrams: the gathered replies leave, and when the pass was small
     * although datagrams arrive back to back, the loop pauses ({@link UdpTuning#passPauseNanos}).
     */
    @Override
    public void ioPassEnded() {
        passEndRequested = false;
        flushReplies();
        long nowNs = System.nanoTime();
        if (pausedAfter > 0) { // this pass came after a pause: did the pause gather more?
            if (passDatagrams >= 2 * pausedAfter && passDatagrams >= 4) {
                pauseBackoffNs = PAUSE_BACKOFF_MIN_NS;
            } else {
                noPauseUntilNs = nowNs + pauseBackoffNs;
                pauseBackoffNs = Math.min(2 * pauseBackoffNs, PAUSE_BACKOFF_MAX_NS);
            }
            pausedAfter = 0;
        }
        long pauseNs = tuning.passPauseNanos();
        if (pauseNs > 0 && !closed && passDatagrams < SMALL_PASS_DATAGRAMS
                && passStartNs - lastPassEndNs < BACK_TO_BACK_NS && nowNs - noPauseUntilNs >= 0) {
            passEnd.pauseAfterPass(pauseNs);
            pausedAfter = passDatagrams;
            nowNs += pauseNs;
        }
        lastPassEndNs = nowNs;
        passDatagrams = 0;
    }

    /**
     * Sends the gathered replies through the VIP socket: each run of one session's replies to its client (as UDP
     * GSO messages where it may, see {@link #send}), all runs in one sendmmsg. Nothing is queued in user space: what
     * the kernel refuses for a full send buffer is a {@link UdpDropReason#SEND_BUFFER_FULL} drop, any other failure
     * of a message a {@link UdpDropReason#SEND_ERROR} of its first datagram, after which the message's other
     * datagrams go one per message (a refused GSO message: all of them, and that session asks for no GSO again).
     */
    private void flushReplies() {
        int n = pendingReplies;
        if (n == 0) {
            return;
        }
        pendingReplies = 0;
        UdpLoopCounters c = counters;
        int fd = vipSocket == null ? -1 : vipSocket.fd;
        if (fd < 0) { // the VIP socket closed (its new owner stopped) while this loop's flows still talked
            for (int k = 0; k < n; k++) {
                c.drop(UdpDropReason.SEND_ERROR);
            }
            Arrays.fill(replySession, 0, n, null);
            return;
        }
        boolean gso = tuning.segmentOffload() && tuning.deferFlush();
        int messages = 0;
        for (int a = 0; a < n;) {
            NativeUdpSession session = replySession[a];
            int b = a + 1;
            while (b < n && replySession[b] == session) {
                b++;
            }
            messages = pack(toClients, a, b, session.client, gso && !session.clientNoSegmentOffload, messages);
            a = b;
        }
        int next = 0;
        while (next < messages) {
            int sent = toClients.send(sys, fd, next, tuning.deferFlush() ? messages - next : 1);
            if (sent > 0) {
                next += sent;
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EINTR) {
                continue;
            }
            int first = messageFirst[next];
            int after = first + messageCount[next];
            if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                // The socket's send buffer is full: drop what is left rather than queue it (see UdpDropReason).
                for (int k = first; k < n; k++) {
                    c.drop(UdpDropReason.SEND_BUFFER_FULL);
                }
                break;
            }
            NativeUdpSession session = replySession[first];
            int single = first;
            if (messageCount[next] > 1 && (errno == LinuxNative.EINVAL || errno == EIO)) {
                session.clientNoSegmentOffload = true; // the kernel cannot segment toward this client
            } else {
                c.drop(UdpDropReason.SEND_ERROR); // reported once, for the message's first datagram
                single++;
            }
            if (!sendEach(fd, next, single, after, session.client)) {
                for (int k = after; k < n; k++) {
                    c.drop(UdpDropReason.SEND_BUFFER_FULL);
                }
                break;
            }
            next++;
        }
        Arrays.fill(replySession, 0, n, null);
    }

    /**
     * Sends payloads {@code from} .. {@code end - 1} of {@link #toClients} one datagram per call, reusing message
     * {@code message} (already sent or failed; {@code message <= from}); counts what fails. False when the send
     * buffer is full: the payloads not sent yet are dropped, and the caller drops what comes after them.
     */
    private boolean sendEach(int fd, int message, int from, int end, byte[] client) {
        UdpLoopCounters c = counters;
        for (int k = from; k < end; k++) {
            toClients.setMessage(message, k, 1, 0);
            toClients.setName(message, client);
            int sent;
            while ((sent = toClients.send(sys, fd, message, 1)) < 0 && sys.errno() == LinuxNative.EINTR) {
                // interrupted before anything was sent: again
            }
            if (sent > 0) {
                continue;
            }
            int errno = sys.errno();
            if (errno == LinuxNative.EAGAIN || errno == LinuxNative.ENOBUFS) {
                for (int j = k; j < end; j++) {
                    c.drop(UdpDropReason.SEND_BUFFER_FULL);
                }
                return false;
            }
            c.drop(UdpDropReason.SEND_ERROR);
        }
        return true;
    }

    // ------------------------------------------------------------------ sockets

    /**
     * A non-blocking UDP socket connected to {@code backend} (so the kernel delivers only that backend's datagrams
     * to it and reports its ICMP errors), registered with this loop's epoll; null when that failed (logged at
     * debug: out of descriptors, or the address is unreachable).
     */
    @Override
    FlowSocket openSocket(InetSocketAddress backend, NativeUdpSession session) {
        byte[] sockaddr = DatagramBatch.encode(backend);
        int family = backend.getAddress() instanceof Inet6Address ? LinuxNative.AF_INET6 : LinuxNative.AF_INET;
        int fd = sys.socket(family, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int errno = sys.errno();
            log.debug("vip {}: cannot open udp socket to {}: {}", vipName, backend, LinuxNative.describe(errno));
            if (session != null) {
                connectLocalError = LocalError.ofErrno(errno);
            }
            return null;
        }
        MemorySegment.copy(sockaddr, 0, connectTarget, ValueLayout.JAVA_BYTE, 0, sockaddr.length);
        // A UDP connect is local (no handshake): it completes here.
        if (sys.connect(fd, connectTarget, sockaddr.length) != 0) {
            int errno = sys.errno();
            log.debug("vip {}: cannot connect udp socket to {}: {}", vipName, backend, LinuxNative.describe(errno));
            if (session != null) {
                connectLocalError = LocalError.ofErrno(errno);
            }
            sys.closeFd(fd);
            return null;
        }
        FlowSocket socket = new FlowSocket(this, fd, session);
        Future<IoRegistration> registered = ((IoEventLoop) loop).register(socket); // inline: we are on the loop
        if (!registered.isSuccess()) {
            log.debug("vip {}: cannot register udp socket to {}: {}", vipName, backend, registered.cause());
            socket.close();
            return null;
        }
        socket.registration = registered.getNow();
        socket.registration.submit(EpollIoOps.EPOLLIN);
        return socket;
    }

    @Override
    void closeSocket(FlowSocket socket) {
        socket.close();
    }

    @Override
    int fdOf(FlowSocket socket) {
        return socket.fd;
    }

    /**
     * One tracked flow: the client's socket address (encoded as the kernel wants it, copied once when the flow
     * starts) beside what every session has. On the loop only.
     */
    static final class NativeUdpSession extends UdpFlowLoop.Session<FlowSocket> {
        final byte[] client;
        /** The kernel refused a GSO send toward the client (see {@link #send}): one datagram per message. */
        boolean clientNoSegmentOffload;

        NativeUdpSession(int entryId, byte[] client) {
            super(entryId);
            this.client = client;
        }
    }

    /**
     * A backend-side socket, as epoll's handle for it: a session's (then {@link #session} is set) or a backend's
     * shared stateless socket (null). Registered level-triggered for reading; closed by its loop.
     */
    static final class FlowSocket implements EpollIoHandle {
        private final NativeUdpVipLoop owner;
        final int fd;
        private final FileDescriptor descriptor;
        final NativeUdpSession session;
        IoRegistration registration;
        boolean closed;
        /** The kernel refused a GSO send on this socket (see {@link #send}): one datagram per message. */
        boolean noSegmentOffload;

        FlowSocket(NativeUdpVipLoop owner, int fd, NativeUdpSession session) {
            this.owner = owner;
            this.fd = fd;
            this.descriptor = new FileDescriptor(fd);
            this.session = session;
        }

        @Override
        public FileDescriptor fd() {
            return descriptor;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            owner.backendReadable(this);
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                // Closed before the registration is cancelled: close() already took it out of epoll.
                descriptor.close();
            } catch (IOException e) {
                log.debug("close of udp socket fd {} failed", fd, e);
            }
            if (registration != null) {
                registration.cancel();
            }
        }
    }
}
