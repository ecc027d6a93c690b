package io.maglevlb.control.demo;

import io.maglevlb.control.daemon.TerminationSignals;
import io.maglevlb.core.config.ConfigValues;
import io.maglevlb.dataplane.Transport;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code maglevd demo-backend --listen ADDR --name NAME [--udp]}: one {@link DemoHttpServer} (or, with
 * {@code --udp}, one {@link UdpEchoBackend}) in its own process, until SIGTERM or Ctrl-C (exit 0). Exit 1 when
 * the address cannot be bound, 2 for a malformed address.
 */
@Command(name = "demo-backend", mixinStandardHelpOptions = true,
        description = {
            "Run a tiny HTTP/1.1 server that answers every request with NAME (with --udp: a UDP echo server "
                    + "answering every datagram with 'NAME: payload', and TCP connections on the same port with "
                    + "NAME).",
            "A stand-in backend for trying maglevd: each answer is NAME and a newline. Runs until SIGTERM or "
                    + "Ctrl-C."
        })
public final class DemoBackendCommand implements Callable<Integer> {
    @Option(names = "--listen", required = true, paramLabel = "ADDR",
            description = "IP:port to listen on, e.g. 127.0.0.1:9001 or [::1]:9001.")
    String listen;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "What every answer says.")
    String name;

    @Option(names = "--udp", description = "Serve UDP (and TCP for health checks) instead of HTTP.")
    boolean udp;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        InetSocketAddress address;
        try {
            address = ConfigValues.parseSocketAddress(listen);
        } catch (IllegalArgumentException e) {
            err.println("--listen: " + e.getMessage());
            err.flush();
            return 2;
        }
        if (udp) {
            return runUdp(address, out, err);
        }
        Transport transport = Transport.detect();
        MultiThreadIoEventLoopGroup group = transport.newEventLoopGroup(1, "maglev-demo");
        try (DemoHttpServer server = DemoHttpServer.start(group, transport, address, name)) {
            CountDownLatch stop = onTermination();
            out.println("demo backend " + name + " answering HTTP on "
                    + ConfigValues.formatSocketAddress(server.address()));
            out.flush();
            stop.await();
            return 0;
        } catch (IOException e) {
            err.println(e.getMessage());
            err.flush();
            return 1;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    private Integer runUdp(InetSocketAddress address, PrintWriter out, PrintWriter err) throws InterruptedException {
        try (UdpEchoBackend server = UdpEchoBackend.start(name, address)) {
            CountDownLatch stop = onTermination();
            out.println("demo backend " + name + " answering UDP (and TCP) on "
                    + ConfigValues.formatSocketAddress(server.address()));
            out.flush();
            stop.await();
            return 0;
        } catch (IOException e) {
            err.println(e.getMessage());
            err.flush();
            return 1;
        }
    }

    /**
     * A latch that SIGTERM/SIGINT opens; where signals cannot be caught, the JVM's own shutdown ends the process.
     * Installed before the ready line is printed: a signal sent as soon as that line appears must find it.
     */
    private static CountDownLatch onTermination() {
        CountDownLatch stop = new CountDownLatch(1);
        if (!TerminationSignals.install(signal -> stop.countDown())) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0)));
        }
        return stop;
    }
}
