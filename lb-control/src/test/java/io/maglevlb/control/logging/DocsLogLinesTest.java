package io.maglevlb.control.logging;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Log lines quoted in the docs look like the lines maglevd writes (the text format of logback.xml:
 * {@code 2026-12-07T21:03:31.577Z INFO  [main] io.maglevlb.control.daemon.Maglevd - message}), so that what a
 * reader greps for is what the journal shows.
 */
class DocsLogLinesTest {
    private static final Pattern LEVEL_FIRST = Pattern.compile("^\\s*(TRACE|DEBUG|INFO|WARN|ERROR)\\s+\\[");
    private static final Pattern REAL = Pattern.compile(
            "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR) \\[[^\\]]+] "
                    + "[a-z][\\w.]*\\.[A-Z]\\w* - \\S.*");

    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("docs")) && Files.isRegularFile(p.resolve("README.md"))) {
                return p;
            }
        }
        throw new IllegalStateException("docs/ not found");
    }

    @Test
    void quotedLogLinesHaveTheRealFormat() throws Exception {
        Path root = root();
        List<Path> files = new ArrayList<>(List.of(root.resolve("README.md")));
        try (Stream<Path> docs = Files.list(root.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).forEach(files::add);
        }
        List<String> wrong = new ArrayList<>();
        int real = 0;
        for (Path f : files) {
            List<String> lines = Files.readAllLines(f);
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                boolean looksLikeLog = LEVEL_FIRST.matcher(line).find()
                        || line.matches("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d.*(INFO|WARN|ERROR|DEBUG).*");
                if (!looksLikeLog) {
                    continue;
                }
                if (REAL.matcher(line).matches()) {
                    real++;
                } else {
                    wrong.add(root.relativize(f) + ":" + (i + 1) + ": " + line);
                }
            }
        }
        assertTrue(wrong.isEmpty(), "log lines in the docs that maglevd does not write that way:\n"
                + String.join("\n", wrong));
        assertTrue(real >= 5, "the docs quote log lines: " + real);
    }
}
