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
    void withoutPropertiesTheDefaultsApply() {
        assertEquals(TcpProxyOptions.defaults(), TcpProxyOptions.fromSystemProperties());
    }

    @Test
    void theRemovedEnginePropertyIsAcceptedWhenItAsksForTheRawRelay() {
        System.setProperty(TcpProxyOptions.ENGINE_PROPERTY, "raw");
        assertEquals(TcpProxyOptions.defaults(), TcpProxyOptions.fromSystemProperties());
    }

    @Test
    void spliceIsOnByDefaultAndCanBeTurnedOff() {
        assertTrue(TcpProxyOptions.defaults().splice());
        System.setProperty(TcpProxyOptions.SPLICE_PROPERTY, "false");
        assertFalse(TcpProxyOptions.fromSystemProperties().splice());
        System.setProperty(TcpProxyOptions.SPLICE_PROPERTY, "true");
        assertTrue(TcpProxyOptions.fromSystemProperties().splice());
    }

    @Test
    void spliceTakesOnlyTrueOrFalse() {
        System.setProperty(TcpProxyOptions.SPLICE_PROPERTY, "on");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                TcpProxyOptions::fromSystemProperties);
        assertEquals("system property maglevd.tcp.splice must be true or false, was 'on'", e.getMessage());
    }

    @Test
    void theChannelEngineOnEpollIsRefusedWithTheAlternative() {
        System.setProperty(TcpProxyOptions.ENGINE_PROPERTY, "channels");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                TcpProxyOptions::fromSystemProperties);
        assertEquals("system property maglevd.tcp.engine is no longer supported (was 'channels'): with epoll the raw "
                + "relay is the one TCP engine; -Dmaglevd.transport=nio selects the portable one", e.getMessage());
    }

    @Test
    void waterMarksMustBeOrdered() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TcpProxyOptions(10, 5, true));
        assertEquals("write buffer water marks must satisfy 0 <= low <= high, were 10 and 5", e.getMessage());
    }
}
