package io.maglevlb.bench.e2e;

import java.util.Arrays;

/**
 * Entry point of the end-to-end benchmark tools that scripts/bench runs next to wrk and iperf3:
 * <pre>
 *   java -cp lb-bench/target/benchmarks.jar io.maglevlb.bench.e2e.E2e TOOL [--option value]...
 * </pre>
 * Every tool talks to loopback addresses only and is bounded in time; see each class for its options.
 */
public final class E2e {

    private E2e() {
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length == 0 || argv[0].equals("-h") || argv[0].equals("--help")) {
            System.out.println("""
                    usage: E2e TOOL [--option value]...
                      free-ports   --count N [--from P --to P]          print N ports free for TCP and UDP
                      backends     [--hold ADDRS] [--udp-echo ADDRS] --max-seconds S
                                                                      TCP hold servers (1-byte greeting, then
                                                                      discard) and UDP echo servers
                      probe        [--tcp ADDRS] [--udp ADDRS] --timeout-ms T
                                                                      wait until every address answers
                      idle-client  --target ADDR --count N [--concurrency C] --timeout-ms T --hold-ms H
                                                                      open N idle proxied connections, print READY
                      udp-load     --targets ADDRS [--sockets N --size B --window W] --duration-ms D
                                                                      datagram round trips per second
                      report       --raw FILE --out DIR [--facts FILE --configs DIR --docs FILE --png FILE]
                                                                      medians, ratios, goals, markdown, JSON, chart
                    ADDRS = ip:port[,ip:port...], loopback only""");
            return;
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        try {
            switch (argv[0]) {
                case "free-ports" -> FreePorts.run(new Args("free-ports", rest, 0));
                case "backends" -> Backends.run(new Args("backends", rest, 0));
                case "probe" -> Probe.run(new Args("probe", rest, 0));
                case "idle-client" -> System.exit(IdleClient.run(new Args("idle-client", rest, 0)));
                case "udp-load" -> UdpLoad.run(new Args("udp-load", rest, 0));
                case "report" -> Report.run(new Args("report", rest, 0));
                default -> throw new IllegalArgumentException("unknown tool '" + argv[0] + "' (try --help)");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("e2e: " + e.getMessage());
            System.exit(64);
        }
    }
}
