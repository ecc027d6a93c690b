package io.maglevlb.control.cli;

import io.netty.channel.epoll.Epoll;
import io.netty.util.internal.PlatformDependent;

/**
 * Child-JVM main of {@link JvmDefaultsTest}: loads what the daemon loads at startup (Netty's epoll library, its
 * buffer platform checks, an FFM system call) and prints what Netty decided, so the test can read it and every
 * warning the JDK printed on the way.
 */
public final class NettyJvmProbe {
    private NettyJvmProbe() {}

    public static void main(String[] args) {
        boolean epoll = Epoll.isAvailable();
        boolean unsafe = PlatformDependent.hasUnsafe();
        try (io.maglevlb.dataplane.linux.OpenFileCount files = io.maglevlb.dataplane.linux.OpenFileCount.open()) {
            System.out.println("epoll=" + epoll + " unsafe=" + unsafe + " ffm=" + (files != null && files.count() > 0));
        }
    }
}
