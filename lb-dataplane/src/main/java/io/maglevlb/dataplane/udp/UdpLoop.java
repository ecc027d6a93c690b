package io.maglevlb.dataplane.udp;

import io.maglevlb.core.conntrack.FlowRecords;
import io.maglevlb.core.conntrack.FlowTable;
import io.maglevlb.core.flow.HashMode;
import io.netty.channel.EventLoop;

/**
 * One UDP VIP on one event loop, as {@link UdpForwarder} sees it, whichever engine moves the datagrams:
 * {@link NativeUdpVipLoop} (epoll: recvmmsg/sendmmsg through FFM, no object per datagram) or {@link UdpVipLoop}
 * (Netty datagram channels, the portable fallback on NIO).
 *
 * <p>Threading: {@link #stopAccepting()} and {@link #close()} run on {@link #eventLoop()}; the getters may be
 * read from any thread (racy reads, see {@link UdpLoopCounters}).
 */
interface UdpLoop {
    EventLoop eventLoop();

    FlowTable flowTable();

    UdpLoopCounters counters();

    /** Tracked flows now. Racy read from other threads. */
    int flowsActive();

    /** Whether {@link #reconfigure} can apply these settings: same flow key and same table size. Any thread. */
    boolean canReconfigure(HashMode hashMode, int tableCapacity);

    /**
     * On the loop: a settings-only reload changed the VIP's idle timeout or flow limit (see
     * {@link UdpForwarder#startInPlaceOf}); tracked flows stay, with their sessions.
     */
    void reconfigure(long idleTimeoutNs, int flowLimit);

    /**
     * On the loop: the backend id of the tracked flow from {@code srcHi}:{@code srcLo} port {@code srcPort} to
     * this loop's VIP socket, or {@code ForwardingSnapshot.NO_BACKEND}; read-only (explain, not per datagram).
     */
    int trackedBackend(long srcHi, long srcLo, int srcPort);

    /** On the loop: this loop's tracked flows, for a takeover ({@link FlowTable#exportTo}). */
    default FlowRecords exportFlows(long nowNs) {
        FlowRecords records = new FlowRecords();
        flowTable().exportTo(records, nowNs);
        return records;
    }

    /**
     * On the loop, before its VIP socket is read: tracks flows another process handed over
     * ({@link FlowTable#importFrom}). Each gets its session (a new socket toward its backend) at its next datagram,
     * as a tracked flow without a session does.
     *
     * @return flows tracked
     */
    default int importFlows(FlowRecords records, int[] backendMap, long nowNs) {
        return flowTable().importFrom(records, backendMap, nowNs);
    }

    /** On the loop: from now on only tracked flows are forwarded. */
    void stopAccepting();

    /**
     * On the loop: forwards what the VIP socket holds now (datagrams of new flows too: the kernel queued them
     * before the VIP stopped accepting), then {@link #stopAccepting()}. The default, for loops that cannot read on
     * demand (Netty's channels), only stops accepting.
     */
    default void stopAcceptingAfterQueue() {
        stopAccepting();
    }

    /** On the loop: closes the VIP socket (unless handed over), every session and stateless socket. */
    void close();
}
