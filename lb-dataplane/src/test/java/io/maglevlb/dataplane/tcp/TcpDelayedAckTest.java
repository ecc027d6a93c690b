package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.DelayedAck;
import io.maglevlb.dataplane.Transport;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code delayed_ack} really reaches the sockets, seen the way a peer feels it: a sender with Nagle's algorithm on
 * (Java's default) may not send a second small segment before the first is acknowledged. Against a delaying proxy
 * socket that second segment waits for the kernel's delayed-ACK timer (40 ms at least); against a quick-ACK socket
 * it follows at once. Only the lower bound is asserted (a slow machine can only make the wait longer), so the test
 * fails when the option is not applied, never because the machine is busy.
 */
class TcpDelayedAckTest {
    /** Linux's shortest delayed-ACK timeout is 40 ms (TCP_DELACK_MIN); leave room for clock granularity. */
    private static final long DELAYED_MS = 30;

    @BeforeAll
    static void epollOnly() {
        Assumptions.assumeTrue(Transport.epoll().isEpoll(), "delayed_ack needs the epoll transport");
    }

    /** The client greets, then sends "ab" in two writes; the backend answers once it has both bytes. */
    @Test
    void aClientsSecondSmallWriteWaitsForTheDelayedAck() throws Exception {
        TestBackend.Behaviour greetsThenAnswersTwoBytes = (socket, backend) -> {
            OutputStream out = socket.getOutputStream();
            out.write('+');
            InputStream in = socket.getInputStream();
            in.read();
            in.read();
            out.write('!');
        };
        try (TestBackend a = TestBackend.start("a", greetsThenAnswersTwoBytes);
             ProxyFixture quick = ProxyFixture.spec("quick").backend(a).transport(Transport.epoll()).start();
             ProxyFixture delaying = ProxyFixture.spec("delaying").backend(a).transport(Transport.epoll())
                     .delayedAck(DelayedAck.CLIENT).start()) {
            long quickMs = clientTwoWritesMs(quick);
            long delayedMs = clientTwoWritesMs(delaying);
            assertTrue(delayedMs >= DELAYED_MS, "with delayed_ack client the second write waited only " + delayedMs
                    + " ms (quick ACKs: " + quickMs + " ms)");
        }
    }

    /** The backend sends "ab" in two writes with Nagle on; the client reads both through the proxy. */
    @Test
    void aBackendsSecondSmallWriteWaitsForTheDelayedAck() throws Exception {
        TestBackend.Behaviour answersInTwoWrites = (socket, backend) -> {
            socket.setTcpNoDelay(false);
            InputStream in = socket.getInputStream();
            in.read(); // the client's go
            OutputStream out = socket.getOutputStream();
            out.write('a');
            out.write('b');
            in.read(); // until the client closes
        };
        try (TestBackend a = TestBackend.start("a", answersInTwoWrites);
             ProxyFixture quick = ProxyFixture.spec("quick").backend(a).transport(Transport.epoll()).start();
             ProxyFixture delaying = ProxyFixture.spec("delaying").backend(a).transport(Transport.epoll())
                     .delayedAck(DelayedAck.BACKEND).start()) {
            long quickMs = backendTwoWritesMs(quick);
            long delayedMs = backendTwoWritesMs(delaying);
            assertTrue(delayedMs >= DELAYED_MS, "with delayed_ack backend the second write waited only " + delayedMs
                    + " ms (quick ACKs: " + quickMs + " ms)");
        }
    }

    private static long clientTwoWritesMs(ProxyFixture proxy) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(Clients.TIMEOUT_MS);
            s.setTcpNoDelay(false);
            s.connect(proxy.address());
            InputStream in = s.getInputStream();
            assertEquals('+', in.read(), "greeting: the backend connection is up, options are set");
            OutputStream out = s.getOutputStream();
            long start = System.nanoTime();
            out.write('a');
            out.write('b');
            assertEquals('!', in.read());
            return (System.nanoTime() - start) / 1_000_000;
        }
    }

    private static long backendTwoWritesMs(ProxyFixture proxy) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(Clients.TIMEOUT_MS);
            s.connect(proxy.address());
            InputStream in = s.getInputStream();
            long start = System.nanoTime();
            s.getOutputStream().write("g".getBytes(StandardCharsets.US_ASCII));
            assertEquals('a', in.read());
            assertEquals('b', in.read());
            return (System.nanoTime() - start) / 1_000_000;
        }
    }
}
