package io.maglevlb.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link IoPassEnd} on a real epoll event loop ({@link Transport#epoll()}): found from the loop's thread, its
 * requests run once after the pass that made them, in order, and one that throws does not keep the others from
 * running. Every wait here is on an event (a future), never on the clock.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IoPassEndTest {

    @Test
    void requestsRunOnceAfterThePassInOrderAndAFailureDoesNotStopTheOthers() throws Exception {
        MultiThreadIoEventLoopGroup group = Transport.epoll().newEventLoopGroup(1, "pass-end-test");
        try {
            EventLoop loop = group.next();
            List<String> ran = new ArrayList<>(); // loop thread only
            CompletableFuture<Boolean> requested = new CompletableFuture<>();
            loop.execute(() -> {
                IoPassEnd passEnd = IoPassEnd.current();
                if (passEnd == null) {
                    requested.complete(false);
                    return;
                }
                for (int i = 0; i < 6; i++) { // more than the initial room of the request array
                    String name = "l" + i;
                    passEnd.request(new IoPassEnd.Listener() {
                        @Override
                        public void ioPassEnded() {
                            ran.add(name);
                            if (name.equals("l2")) {
                                throw new IllegalStateException("a failing listener (expected by the test)");
                            }
                        }

                        @Override
                        public String toString() {
                            return name;
                        }
                    });
                }
                requested.complete(ran.isEmpty()); // nothing ran while the requests were made
            });
            assertTrue(requested.get(30, TimeUnit.SECONDS), "the epoll loop has a pass end; nothing runs at once");
            // Tasks run after the loop's pass; a scheduled one in a later iteration, after at least one more pass.
            assertEquals(List.of("l0", "l1", "l2", "l3", "l4", "l5"), afterAPass(loop, ran));
            assertEquals(List.of("l0", "l1", "l2", "l3", "l4", "l5"), afterAPass(loop, ran), "each ran once");
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static List<String> afterAPass(EventLoop loop, List<String> ran) throws Exception {
        CompletableFuture<List<String>> seen = new CompletableFuture<>();
        loop.schedule(() -> seen.complete(List.copyOf(ran)), 1, TimeUnit.MILLISECONDS);
        return seen.get(30, TimeUnit.SECONDS);
    }

    @Test
    void otherThreadsHaveNone() {
        assertNull(IoPassEnd.current(), "the test's own thread is no epoll loop");
    }
}
