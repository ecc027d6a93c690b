package io.maglevlb.dataplane.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The operator's switch for the UDP pass pause: {@code -Dmaglevd.udp.pass_pause_us=N}. */
class UdpTuningPropertyTest {

    @AfterEach
    void clearProperty() {
        System.clearProperty(UdpTuning.PASS_PAUSE_PROPERTY);
    }

    @Test
    void withoutThePropertyTheDefaultsApply() {
        assertEquals(UdpTuning.defaults(), UdpTuning.fromSystemProperties());
        assertEquals(30_000, UdpTuning.defaults().passPauseNanos());
    }

    @Test
    void zeroTurnsThePauseOffAndOtherValuesAreMicroseconds() {
        System.setProperty(UdpTuning.PASS_PAUSE_PROPERTY, "0");
        assertEquals(0, UdpTuning.fromSystemProperties().passPauseNanos());
        System.setProperty(UdpTuning.PASS_PAUSE_PROPERTY, "250");
        assertEquals(250_000, UdpTuning.fromSystemProperties().passPauseNanos());
        assertEquals(UdpTuning.defaults().withPassPauseNanos(250_000), UdpTuning.fromSystemProperties());
    }

    @ParameterizedTest
    @ValueSource(strings = {"-1", "1001", "30us", "off", ""})
    void anythingElseIsRefusedNamingThePropertyAndItsRange(String value) {
        System.setProperty(UdpTuning.PASS_PAUSE_PROPERTY, value);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, UdpTuning::fromSystemProperties);
        assertEquals("system property maglevd.udp.pass_pause_us must be whole microseconds from 0 (off) to 1000, was '"
                + value + "'", e.getMessage());
    }
}
