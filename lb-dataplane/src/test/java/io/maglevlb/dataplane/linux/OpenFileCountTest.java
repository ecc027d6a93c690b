package io.maglevlb.dataplane.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenFileCountTest {
    @Test
    void countsDescriptorsAsTheyOpenAndClose(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("f"), "x");
        try (OpenFileCount count = OpenFileCount.open()) {
            assertNotNull(count, "Linux with /proc: the counter must open");
            long before = count.count();
            assertTrue(before > 3, "stdin, stdout, stderr and the counter's own directory at least: " + before);
            List<FileInputStream> opened = new ArrayList<>();
            try {
                for (int i = 0; i < 40; i++) {
                    opened.add(new FileInputStream(file.toFile()));
                }
                long during = count.count();
                // other threads of the test JVM may open or close a descriptor meanwhile: a little slack
                assertTrue(during - before >= 38 && during - before <= 42, before + " -> " + during);
            } finally {
                for (FileInputStream in : opened) {
                    in.close();
                }
            }
            long after = count.count();
            assertTrue(Math.abs(after - before) <= 2, before + " -> " + after);
        }
    }

    @Test
    void aClosedCounterReadsMinusOne() {
        OpenFileCount count = OpenFileCount.open();
        assertNotNull(count);
        count.close();
        assertEquals(-1, count.count());
        count.close(); // idempotent
    }
}
