package io.maglevlb.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.netty.channel.ChannelException;
import io.netty.channel.ConnectTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import org.junit.jupiter.api.Test;

/** Which failures are this host's (counted apart) and which are a backend's (counted against it). */
class LocalErrorTest {

    @Test
    void errnosOfThisHost() {
        assertEquals(LocalError.FD_LIMIT, LocalError.ofErrno(LocalError.EMFILE));
        assertEquals(LocalError.FD_LIMIT, LocalError.ofErrno(LocalError.ENFILE));
        assertEquals(LocalError.EPHEMERAL_PORTS, LocalError.ofErrno(LocalError.EADDRNOTAVAIL));
        assertEquals(LocalError.BUFFERS, LocalError.ofErrno(LocalError.ENOBUFS));
        assertEquals(LocalError.BUFFERS, LocalError.ofErrno(LocalError.ENOMEM));
    }

    @Test
    void errnosOfABackendAreNotLocal() {
        assertNull(LocalError.ofErrno(111)); // ECONNREFUSED
        assertNull(LocalError.ofErrno(110)); // ETIMEDOUT
        assertNull(LocalError.ofErrno(113)); // EHOSTUNREACH
        assertNull(LocalError.ofErrno(101)); // ENETUNREACH
    }

    @Test
    void exceptionsAlongTheCauseChain() {
        assertEquals(LocalError.FD_LIMIT, LocalError.of(new ChannelException("Unable to create Channel",
                new SocketException("Too many open files"))));
        assertEquals(LocalError.EPHEMERAL_PORTS, LocalError.of(new IOException(
                "connect(..) failed: Cannot assign requested address")));
        assertEquals(LocalError.BUFFERS, LocalError.of(new IOException("No buffer space available")));
        assertNull(LocalError.of(new ConnectException("Connection refused")));
        assertNull(LocalError.of(new ConnectTimeoutException("connection timed out")));
        assertNull(LocalError.of(null));
    }
}
