package io.maglevlb.control.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.List;

/**
 * Coverage-guided fuzzing of the configuration loader (YAML parse, bind, validate): a configuration file is
 * text an operator (or whoever can write it) controls, so any text must end in a valid configuration or in
 * errors that name where they are — never an exception, a hang or an error without a message.
 *
 * <p>Inputs start from the shipped configurations and splice fuzzer-chosen text (keys, values, YAML syntax
 * from the dictionary below) into them, so the fuzzer explores the binder's validation rather than only the
 * YAML scanner; every tenth input or so is raw text.
 */
class ConfigFuzzTest {
    private static final List<String> SHIPPED = shipped();
    private static final String[] TOKENS = {
        "\n", "\n  ", "\n    - ", ": ", "- ", "{", "}", "[", "]", "&a ", "*a", "!!binary ", "<<: *a", "'", "\"",
        "#", "---\n", "...\n", "~", "null", "0", "-1", "65537", "7", "1e9", "0x10", "2s", "500ms", "1h", "yes",
        "vips:", "name: ", "listen: ", "127.0.0.1:0", "[::1]:53", "198.18.0.1:80", "protocol: udp", "protocol: tcp",
        "mode: dsr", "mode: proxy", "backends:", "address: ", "weight: ", "table_size: ", "health_check:",
        "type: http", "type: none", "interval: ", "timeout: ", "rise: ", "fall: ", "expect: ", "path: ",
        "admin:", "token_file: ", "workers: ", "flow_table:", "capacity: ", "hash: ", "dsr:", "interface: ",
        "method: ", "max_connections: ", "proxy_protocol: v2", "\u0000", "\uFEFF", "\t",
    };

    private static List<String> shipped() {
        try (var files = Files.list(ShippedConfigsTest.configDir())) {
            return files.filter(p -> p.toString().endsWith(".yaml")).sorted().map(p -> {
                try {
                    return Files.readString(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private final YamlConfigLoader loader = new YamlConfigLoader(64 * 1024);

    @FuzzTest
    void anyTextGivesAConfigOrLocatedErrors(FuzzedDataProvider data) {
        String text;
        if (data.consumeInt(0, 9) == 0) {
            text = data.consumeRemainingAsString();
        } else {
            StringBuilder b = new StringBuilder(SHIPPED.get(data.consumeInt(0, SHIPPED.size() - 1)));
            int edits = data.consumeInt(1, 6);
            for (int i = 0; i < edits; i++) {
                int at = data.consumeInt(0, b.length());
                int remove = Math.min(b.length() - at, data.consumeInt(0, 40));
                String insert = data.consumeBoolean() ? TOKENS[data.consumeInt(0, TOKENS.length - 1)]
                        : data.consumeString(24);
                b.replace(at, at + remove, insert);
            }
            text = b.toString();
        }
        ConfigLoadResult r = loader.parse(text, "fuzz.yaml");
        assertEquals(r.isValid(), r.config().isPresent(), "valid exactly when a configuration came out");
        if (!r.isValid()) {
            assertFalse(r.errors().isEmpty(), "an invalid result lists its errors");
        }
        for (String line : r.formattedProblems()) {
            assertTrue(line.startsWith("fuzz.yaml"), "every problem names its source: " + line);
            assertFalse(line.isBlank());
        }
    }
}
