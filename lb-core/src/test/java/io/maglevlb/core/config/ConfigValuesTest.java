package io.maglevlb.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigValuesTest {

    @ParameterizedTest
    @CsvSource({"500ms,500ms", "1000ms,1s", "1.5s,1.5s", "90s,90s", "60s,1m", "120m,2h", "0.25ms,0.25ms"})
    void formatsDurationsInWholeHoursOrMinutesElseSecondsOrMillis(String in, String out) {
        assertEquals(out, ConfigValues.formatDuration(ConfigValues.parseDuration(in)));
    }

    @Test
    void formattedDurationsParseBackToTheSameValue() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 10_000; i++) {
            Duration d = Duration.ofNanos(1 + random.nextLong(100L * 3_600_000_000_000L));
            assertEquals(d, ConfigValues.parseDuration(ConfigValues.formatDuration(d)), d::toString);
        }
    }

    @Test
    void hugeDurationsAreRejectedNotWrapped() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigValues.parseDuration("999999999999999h"));
        assertEquals("'999999999999999h' is too long a duration", e.getMessage());
    }

    @Test
    void ipv6IsPrintedCompressed() {
        assertEquals("[::1]:80", ConfigValues.formatSocketAddress(ConfigValues.parseSocketAddress("[::1]:80")));
        assertEquals("[2001:db8::1:0:0:1]:443",
                ConfigValues.formatSocketAddress(ConfigValues.parseSocketAddress("[2001:db8:0:0:1:0:0:1]:443")));
        assertEquals("[::]:80", ConfigValues.formatSocketAddress(ConfigValues.parseSocketAddress("[::]:80")));
        assertEquals("[1:0:2:0:3:0:4:0]:1",
                ConfigValues.formatSocketAddress(ConfigValues.parseSocketAddress("[1:0:2:0:3:0:4:0]:1")));
        assertEquals("127.0.0.1:8080",
                ConfigValues.formatSocketAddress(ConfigValues.parseSocketAddress(" 127.0.0.1:8080 ")));
    }

    @Test
    void parsedAddressesAreNeverUnresolved() {
        for (String s : List.of("127.0.0.1:1", "[::1]:2", "[::ffff:198.18.0.1]:3")) {
            InetSocketAddress a = ConfigValues.parseSocketAddress(s);
            assertEquals(false, a.isUnresolved(), s);
        }
    }

    @Test
    void suggestionsUseEditDistanceWithSwaps() {
        assertEquals(1, Suggestions.distance("wieght", "weight"));
        assertEquals(3, Suggestions.distance("kitten", "sitting"));
        assertEquals(java.util.Optional.of("weight"), Suggestions.closest("wieght", List.of("name", "address", "weight")));
        assertEquals(java.util.Optional.empty(), Suggestions.closest("colour", List.of("name", "address", "weight")));
    }
}
