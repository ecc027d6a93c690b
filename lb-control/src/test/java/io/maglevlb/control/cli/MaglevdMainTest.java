package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** maglevd's command line run in-process: exit codes, stdout and stderr. */
class MaglevdMainTest {
    static final String CONFIG = """
            vips:
              - name: web
                listen: 127.0.0.1:8080
                backends:
                  - name: web-1
                    address: 127.0.0.1:9001
                  - name: web-2
                    address: 127.0.0.1:9002
                  - name: web-3
                    address: 127.0.0.1:9003
              - name: dns
                listen: 127.0.0.1:8053
                protocol: udp
                table_size: 1009
                backends:
                  - name: dns-1
                    address: 127.0.0.1:9101
            """;

    /** What one run printed and returned. */
    record Run(int exitCode, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = MaglevdMain.execute(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @TempDir
    Path dir;

    Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("maglevd.yaml"), text);
    }

    @Test
    void checkPrintsOkWithCounts() throws Exception {
        Path file = write(CONFIG);
        Run r = run("check", "--config", file.toString());
        assertEquals(0, r.exitCode(), r::toString);
        assertEquals(file + ": OK (2 vips, 4 backends)\n", r.out().replace(System.lineSeparator(), "\n"));
        assertEquals("", r.err());
    }

    @Test
    void checkPrintsWarningsOnStderrAndStillSucceeds() throws Exception {
        Path file = write(CONFIG.replace("table_size: 1009", "table_size: 53"));
        Run r = run("check", "-c", file.toString());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.out().startsWith(file + ": OK (2 vips, 4 backends)"), r::toString);
        assertTrue(r.err().startsWith(file + ":14:17: vips[1].table_size: warning: table_size 53 is less than 100 x 1"),
                r::toString);
    }

    @Test
    void checkWarnsWhenAUdpVipHasATcpCheck() throws Exception {
        Path file = write(CONFIG.replace("    table_size: 1009\n", "    table_size: 1009\n    health_check:\n"
                + "      type: tcp\n"));
        Run r = run("check", "--config", file.toString());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.out().startsWith(file + ": OK (2 vips, 4 backends)"), r::toString);
        assertTrue(r.err().startsWith(file + ":16:13: vips[1].health_check.type: warning: a tcp check of a udp VIP: "
                + "backends that serve only UDP are marked down"), r::toString);
    }

    @Test
    void checkPrintsEveryErrorOnePerLineAndFails() throws Exception {
        Path file = write(CONFIG.replace("address: 127.0.0.1:9002", "address: localhost:9002")
                .replace("table_size: 1009", "table_size: 1000")
                .replace("    protocol: udp\n", "    protcol: udp\n"));
        Run r = run("check", "--config", file.toString());
        assertEquals(1, r.exitCode(), r::toString);
        assertEquals("", r.out());
        String[] lines = r.err().split("\\R");
        assertEquals(3, lines.length, r::toString);
        assertTrue(lines[0].startsWith(file + ":8:18: vips[0].backends[1].address: 'localhost' is a host name"),
                lines[0]);
        assertEquals(file + ":13:5: vips[1].protcol: unknown key 'protcol' (did you mean 'protocol'?)", lines[1]);
        assertEquals(file + ":14:17: vips[1].table_size: must be prime, was 1000 (next prime: 1009; default 65537)",
                lines[2]);
    }

    @Test
    void checkOfAMissingFileIsAClearErrorNotAStackTrace() {
        Path missing = dir.resolve("missing.yaml");
        Run r = run("check", "--config", missing.toString());
        assertEquals(1, r.exitCode());
        assertEquals(missing + ": no such file", r.err().strip());
        assertFalse(r.err().contains("Exception"), r::toString);
    }

    @Test
    void checkOfSpecialFilesFailsAtOnceWithAClearError() throws Exception {
        Run zero = run("check", "--config", "/dev/zero");
        assertEquals(1, zero.exitCode(), zero::toString);
        assertEquals("/dev/zero: is a character device, not a regular file: a configuration file must be a regular"
                + " file (or a symbolic link to one)", zero.err().strip());
        Run directory = run("check", "--config", dir.toString());
        assertEquals(dir + ": is a directory, not a configuration file", directory.err().strip());
        Path fifo = dir.resolve("maglevd.fifo");
        assumeTrue(mkfifo(fifo), "mkfifo is not available");
        Run pipe = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> run("check", "--config", fifo.toString()),
                "a FIFO must not block check (hang guard, not a performance threshold)");
        assertEquals(1, pipe.exitCode(), pipe::toString);
        assertTrue(pipe.err().startsWith(fifo + ": is a FIFO (named pipe), not a regular file"), pipe::toString);
    }

    @Test
    void checkAndRunRefuseAConfigurationOthersCanWrite() throws Exception {
        Path file = write(CONFIG);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        String expected = file + ": is writable by group and others (mode 0666): maglevd refuses a configuration"
                + " file that others can change. Fix: chmod go-w " + file;
        Run check = run("check", "--config", file.toString());
        assertEquals(1, check.exitCode(), check::toString);
        assertEquals(expected, check.err().strip());
        Run start = run("run", "--config", file.toString());
        // run: a configuration error has its own code (78), which the systemd unit does not restart on
        assertEquals(MaglevdMain.EXIT_CONFIG, start.exitCode(), start::toString);
        assertEquals(expected, start.err().strip(), "refused before anything starts");
    }

    private static boolean mkfifo(Path path) throws InterruptedException {
        try {
            Process p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            return p.waitFor() == 0 && Files.exists(path);
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void checkOfAYamlSyntaxErrorNamesTheLine() throws Exception {
        Path file = write("vips:\n  - name: web\n   listen: 127.0.0.1:8080\n");
        Run r = run("check", "--config", file.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith(file + ":3:"), r::toString);
        assertTrue(r.err().contains("YAML syntax error"), r::toString);
    }

    @Test
    void usageErrorsExitTwo() {
        Run noConfig = run("check");
        assertEquals(2, noConfig.exitCode());
        assertTrue(noConfig.err().contains("Missing required option: '--config=FILE'"), noConfig::toString);
        assertEquals(2, run().exitCode());
        assertTrue(run().err().contains("Missing command"), run()::toString);
        assertEquals(2, run("frobnicate").exitCode());
        assertEquals(2, run("table", "--config", "x.yaml").exitCode(), "--vip is required");
        assertEquals(2, run("table", "--config", "x.yaml", "--vip", "web", "--format", "xml").exitCode());
    }

    @Test
    void helpAndVersionWork() {
        Run help = run("--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.out().contains("check") && help.out().contains("table"), help::toString);
        Run checkHelp = run("check", "--help");
        assertEquals(0, checkHelp.exitCode());
        assertTrue(checkHelp.out().contains("--config=FILE"), checkHelp::toString);
        Run helpCommand = run("help", "table");
        assertEquals(0, helpCommand.exitCode());
        assertTrue(helpCommand.out().contains("--without"), helpCommand::toString);
        Run version = run("--version");
        assertEquals(0, version.exitCode());
        assertTrue(version.out().startsWith("maglevd "), version::toString);
    }
}
