package io.maglevlb.control.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.config.BackendConfig;
import io.maglevlb.core.config.HealthCheckType;
import io.maglevlb.core.config.MaglevConfig;
import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.config.VipConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Every configuration shipped in config/ must validate cleanly: they are what newcomers run first. */
class ShippedConfigsTest {

    /** The checkout's config/ directory, found from the module directory Maven runs tests in. */
    static Path configDir() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.isDirectory(dir.resolve("config")) && Files.isRegularFile(dir.resolve("mvnw"))) {
                return dir.resolve("config");
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("no config/ directory above " + Path.of("").toAbsolutePath());
    }

    static Stream<Path> shippedConfigs() throws IOException {
        try (Stream<Path> files = Files.list(configDir())) {
            List<Path> yaml = files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml"))
                    .sorted().toList();
            assertTrue(yaml.size() >= 2, "expected config/demo.yaml and config/example-full.yaml, found " + yaml);
            return yaml.stream();
        }
    }

    @ParameterizedTest
    @MethodSource("shippedConfigs")
    void validatesWithoutErrorsOrWarnings(Path file) throws IOException {
        // The content is what is shipped; who owns the checkout, and whether this host has the files the
        // configuration names (example-full.yaml's /etc/maglevd/admin-token), belong to the host: parse the text.
        ConfigLoadResult r = new YamlConfigLoader().parse(Files.readString(file), file.toString());
        assertEquals(List.of(), r.formattedErrors());
        assertEquals(List.of(), r.formattedWarnings());
    }

    @Test
    void demoIsWhatTheReadmeDescribes() throws Exception {
        Path demo = configDir().resolve("demo.yaml");
        MaglevConfig c = new YamlConfigLoader().parse(Files.readString(demo), demo.toString()).orThrow();
        VipConfig web = c.vip("web").orElseThrow();
        assertEquals(Protocol.TCP, web.protocol());
        assertEquals(new InetSocketAddress("127.0.0.1", 8080), web.listen());
        assertEquals(List.of("web-1", "web-2", "web-3"), web.backends().stream().map(BackendConfig::name).toList());
        assertEquals(List.of(9001, 9002, 9003), web.backends().stream().map(b -> b.address().getPort()).toList());
        VipConfig dns = c.vip("dns").orElseThrow();
        assertEquals(Protocol.UDP, dns.protocol());
        assertEquals(new InetSocketAddress("127.0.0.1", 8053), dns.listen());
        assertEquals(List.of(9101, 9102, 9103), dns.backends().stream().map(b -> b.address().getPort()).toList());
        assertEquals(HealthCheckType.TCP, web.healthCheck().type());
        assertEquals(HealthCheckType.UDP, dns.healthCheck().type(), "the demo UDP backends are checked over UDP");
        for (VipConfig v : c.vips()) {
            assertTrue(v.backends().stream().allMatch(b -> b.address().getAddress().isLoopbackAddress()));
        }
    }
}
