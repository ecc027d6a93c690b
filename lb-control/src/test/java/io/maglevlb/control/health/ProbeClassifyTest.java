package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.channel.ChannelException;
import io.netty.channel.ConnectTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import org.junit.jupiter.api.Test;

class ProbeClassifyTest {

    private static CheckResult classify(Throwable t) {
        return Probe.classify(t, System.nanoTime()).result();
    }

    @Test
    void descriptorExhaustionIsALocalErrorNotABackendFailure() {
        assertEquals(CheckResult.LOCAL_ERROR,
                classify(new ChannelException("Failed to open a socket.", new SocketException("Too many open files"))));
        assertEquals(CheckResult.LOCAL_ERROR, classify(new IOException("newSocketStream(..) failed: Too many open files")));
    }

    @Test
    void ephemeralPortExhaustionIsALocalError() {
        assertEquals(CheckResult.LOCAL_ERROR,
                classify(new ConnectException("connect(..) failed: Cannot assign requested address")));
    }

    @Test
    void refusedIsAFailure() {
        CheckOutcome o = Probe.classify(new ConnectException("Connection refused"), System.nanoTime());
        assertEquals(CheckResult.FAILURE, o.result());
        assertEquals("connection refused", o.detail());
    }

    @Test
    void connectTimeoutIsATimeout() {
        assertEquals(CheckResult.TIMEOUT, classify(new ConnectTimeoutException("connection timed out")));
    }

    @Test
    void resetIsAFailure() {
        assertEquals(CheckResult.FAILURE, classify(new IOException("Connection reset by peer")));
    }

    /** Netty annotates a message-less EHOSTUNREACH with the address: the log said "last: null: /addr". */
    @Test
    void noRouteToHostIsSaidInWords() {
        CheckOutcome o = Probe.classify(new NoRouteToHostException("null: /198.18.0.23:80"), System.nanoTime());
        assertEquals(CheckResult.FAILURE, o.result());
        assertEquals("no route to host: /198.18.0.23:80", o.detail());
        assertEquals("no route to host", Probe.classify(new NoRouteToHostException(), System.nanoTime()).detail());
    }
}
