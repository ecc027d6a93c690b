package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.maglevlb.core.config.HealthCheckConfig;
import io.maglevlb.core.config.HealthCheckType;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class HttpRequestTest {
    private static HealthTarget target(String ip, int port) {
        HealthCheckConfig http = new HealthCheckConfig(HealthCheckType.HTTP, Duration.ofSeconds(2),
                Duration.ofSeconds(1), 2, 3, "/ready", 200, 299);
        return new HealthTarget("v", "b", new InetSocketAddress(ip, port), http);
    }

    @Test
    void ipv4HostHeader() {
        assertEquals("GET /ready HTTP/1.1\r\nHost: 192.0.2.1:8080\r\nUser-Agent: maglevd-health-check\r\n"
                + "Accept: */*\r\nConnection: close\r\n\r\n", Probe.httpRequest(target("192.0.2.1", 8080)));
    }

    @Test
    void ipv6HostHeaderIsBracketed() {
        String request = Probe.httpRequest(target("2001:db8::1", 443));
        assertEquals("Host: [2001:db8::1]:443", request.lines().skip(1).findFirst().orElseThrow());
    }
}
