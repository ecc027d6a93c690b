package io.maglevlb.control.cli;

import io.maglevlb.control.demo.DemoBackendCommand;
import io.maglevlb.control.logging.LogLevelDefiner;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code maglevd} command line: {@code maglevd <command> [options]}. scripts/maglevd runs this class.
 *
 * <p>Exit codes: 0 success, 1 failure (invalid configuration, unknown VIP, runtime error), 2 usage error.
 * Commands write results to {@link CommandLine#getOut()} and diagnostics to {@link CommandLine#getErr()} so
 * tests can run them in-process with captured output.
 *
 * <p>To add a command, write a {@code @Command} class in this package (see {@link CheckCommand}) and list it
 * in {@code subcommands} below; help and version handling come with {@code mixinStandardHelpOptions}.
 */
@Command(name = "maglevd",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Maglev consistent-hashing L4 load balancer for TCP and UDP.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {
            RunCommand.class,
            CheckCommand.class,
            TableCommand.class,
            ExplainCommand.class,
            CtlCommand.class,
            DemoBackendCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class MaglevdMain implements Callable<Integer> {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;
    /**
     * {@code run}: the configuration file is missing, unreadable or invalid. Its own code (sysexits.h's
     * {@code EX_CONFIG}) so that a supervisor can tell it from a failure a restart may cure (an address still
     * in use): the systemd unit stops restarting on it ({@code RestartPreventExitStatus=}).
     */
    public static final int EXIT_CONFIG = 78;

    @Spec
    CommandSpec spec;

    /** {@code maglevd} without a command: a usage error. */
    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        err.println("Missing command: use one of " + String.join(", ", spec.subcommands().keySet()));
        spec.commandLine().usage(err);
        return EXIT_USAGE;
    }

    public static void main(String[] args) {
        disableLeakSamplingUnlessAsked();
        LogLevelDefiner.warnIfRejected();
        System.exit(newCommandLine().execute(args));
    }

    /**
     * Netty's default leak detection samples one buffer allocation in 128 and records a stack trace for it,
     * on the forwarding threads. The relay's buffers are released on fixed paths the tests run with detection
     * on, so the daemon turns it off unless the operator sets {@code -Dio.netty.leakDetection.level} (for
     * example {@code simple} or {@code paranoid} in {@code MAGLEVD_JAVA_OPTS} to hunt a suspected leak).
     * Runs before any Netty class loads, since the level is read once.
     */
    static void disableLeakSamplingUnlessAsked() {
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) {
            System.setProperty("io.netty.leakDetection.level", "disabled");
        }
    }

    /** A configured command line writing to the process's stdout and stderr. */
    public static CommandLine newCommandLine() {
        // picocli's defaults give the documented exit codes: 2 for usage errors, 1 for an exception a command
        // throws (printed with its stack trace: commands report expected failures themselves).
        return new CommandLine(new MaglevdMain());
    }

    /** Runs {@code args} with output captured in {@code out} and {@code err}; returns the exit code. */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = newCommandLine();
        cl.setOut(out);
        cl.setErr(err);
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }
}
