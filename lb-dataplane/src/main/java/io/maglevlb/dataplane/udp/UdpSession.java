package io.maglevlb.dataplane.udp;

import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * One tracked UDP flow of the Netty engine ({@link UdpVipLoop}): the client's address beside what every session
 * has, and the handler of its backend socket, which forwards the backend's datagrams to the client from the VIP
 * socket.
 *
 * <p>Threading: created, used and closed on its event loop only. The handler is sharable only in that a session
 * whose backend moved is the handler of its old socket (until that socket's close completes) and of its new one;
 * events of any socket but the current one are dropped.
 */
final class UdpSession extends UdpFlowLoop.Session<DatagramChannel> {
    private final UdpVipLoop owner;
    final InetSocketAddress client;
    /** True while the session is in its loop's list of sockets to flush at the end of the read batch. */
    boolean flushPending;
    final Reader reader = new Reader();

    UdpSession(UdpVipLoop owner, int entryId, InetSocketAddress client) {
        super(entryId);
        this.owner = owner;
        this.client = client;
    }

    @Sharable
    final class Reader extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ctx.channel() != socket || entryId < 0) {
                ReferenceCountUtil.release(msg);
                return;
            }
            owner.fromBackend(UdpSession.this, (DatagramPacket) msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            owner.backendReadComplete();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // ICMP errors (PortUnreachableException) and send failures land here; the socket stays open. A socket
            // this session already left (closed after a move) only reports its queued writes failing: ignored.
            if (ctx.channel() == socket && entryId >= 0) {
                owner.backendSocketError(UdpSession.this);
            }
        }
    }
}
