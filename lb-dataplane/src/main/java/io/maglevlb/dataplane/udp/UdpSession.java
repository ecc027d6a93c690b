package io.maglevlb.dataplane.udp;

import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * One tracked UDP flow: the client's address, the backend it is on, and the connected socket toward that
 * backend (ephemeral local port, registered on the flow's event loop). Kept in the loop's session array at the
 * flow table entry id; it is also the handler of its backend socket, forwarding the backend's datagrams to the
 * client from the VIP socket.
 *
 * <p>Threading: created, used and closed on its event loop only. Sharable only in that a session whose
 * backend moved is the handler of its old socket (until that socket's close completes) and of its new one;
 * events of any socket but the current one are dropped.
 */
@Sharable
final class UdpSession extends ChannelInboundHandlerAdapter {
    private final UdpVipLoop owner;
    /** Flow table entry id, or -1 once the session is closed. */
    int entryId;
    final InetSocketAddress client;
    int backendId;
    InetSocketAddress backendAddress;
    DatagramChannel channel;
    /** Generation of the last snapshot this session's backend address was checked against. */
    long checkedGeneration;
    /** True while the session is in its loop's list of sockets to flush at the end of the read batch. */
    boolean flushPending;

    UdpSession(UdpVipLoop owner, int entryId, InetSocketAddress client) {
        this.owner = owner;
        this.entryId = entryId;
        this.client = client;
    }

    boolean isOpen() {
        return entryId >= 0;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (ctx.channel() != channel || entryId < 0) {
            ReferenceCountUtil.release(msg);
            return;
        }
        owner.fromBackend(this, (DatagramPacket) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        owner.backendReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // ICMP errors (PortUnreachableException) and send failures land here; the socket stays open. A socket
        // this session already left (closed after a move) only reports its queued writes failing: ignored.
        if (ctx.channel() == channel && entryId >= 0) {
            owner.backendSocketError(this, cause);
        }
    }
}
