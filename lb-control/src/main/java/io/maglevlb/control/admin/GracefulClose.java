package io.maglevlb.control.admin;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Ends an admin connection after its last answer so that the client reads that answer: flush, send FIN
 * ({@code shutdownOutput}), keep reading and discarding until the client closes, and close at the latest
 * {@link #LINGER_MS} later. A plain {@code close()} with request bytes still unread (pipelined requests,
 * the rest of an oversized header or body) makes the kernel send a reset, and a client that gets the reset
 * before it read the answer loses the answer (the reason for Apache httpd's "lingering close").
 *
 * <p>Threading: call on the channel's event loop (the handlers do).
 */
final class GracefulClose {
    /** Longest wait for the client to close after the last answer. */
    static final long LINGER_MS = 2000;

    private GracefulClose() {}

    /** True when this side has sent its FIN: the last answer is out, only the client's FIN was awaited. */
    static boolean outputDone(Channel ch) {
        return !(ch instanceof DuplexChannel duplex) || duplex.isOutputShutdown();
    }

    /** Closes {@code written}'s channel gracefully once the write is done (at once when it failed). */
    static void afterWrite(ChannelFuture written) {
        written.addListener(f -> {
            Channel ch = written.channel();
            if (!f.isSuccess() || !(ch instanceof DuplexChannel duplex) || !ch.isActive() || duplex.isInputShutdown()) {
                ch.close(); // nothing to linger for: failed, or the client has half-closed already
                return;
            }
            ScheduledFuture<?> deadline = ch.eventLoop().schedule(() -> {
                ch.close();
            }, LINGER_MS, TimeUnit.MILLISECONDS);
            ch.closeFuture().addListener(c -> deadline.cancel(false));
            // The client's FIN then closes the channel: the handlers close on ChannelInputShutdownEvent.
            duplex.shutdownOutput().addListener(s -> {
                if (!s.isSuccess()) {
                    ch.close();
                }
            });
        });
    }
}
