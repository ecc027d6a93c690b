package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TcpProxyOptionsTest {
    @AfterEach
    void clearProperties() {
        System.clearProperty(TcpProxyOptions.SPLICE_PROPERTY);
        System.clearProperty(TcpProxyOptions.ENGINE_PROPERTY);
    }

    @Test
    void defaultsAreTheRawRelayWithoutSplice() {
        TcpProxyOptions options = TcpProxyOptions.fromSystemProperties();
        assertTrue(options.rawRelay());
        assertFalse(options.splice());
        assertEquals(TcpProxyOptions.defaults(), options);
    }

    @Test
    void propertiesChooseTheEngineAndSplice() {
        System.setProperty(TcpProxyOptions.ENGINE_PROPERTY, "channels");
        System.setProperty(TcpProxyOptions.SPLICE_PROPERTY, "true");
        TcpProxyOptions options = TcpProxyOptions.fromSystemProperties();
        assertFalse(options.rawRelay());
        assertTrue(options.splice());
    }

    @Test
    void anUnknownEngineIsRejectedWithTheValuesItTakes() {
        System.setProperty(TcpProxyOptions.ENGINE_PROPERTY, "fast");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                TcpProxyOptions::fromSystemProperties);
        assertEquals("system property maglevd.tcp.engine must be raw or channels, was 'fast'", e.getMessage());
    }
}
