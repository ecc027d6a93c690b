package io.maglevlb.control.reload;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;

class HangupSignalTest {

    @Test
    void sighupRunsTheReloadOnTheControlExecutor() throws Exception {
        ExecutorService control = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-control"));
        LinkedBlockingQueue<String> ran = new LinkedBlockingQueue<>();
        try {
            HangupSignal.install(control, () -> ran.add(Thread.currentThread().getName()));
            Signal.raise(new Signal("HUP"));
            String thread = ran.poll(10, TimeUnit.SECONDS);
            assertTrue("test-control".equals(thread), "reload ran on " + thread);
        } finally {
            // Leave SIGHUP ignored rather than default (terminate) for the rest of this test JVM.
            Signal.handle(new Signal("HUP"), s -> { });
            control.shutdown();
            assertTrue(control.awaitTermination(5, TimeUnit.SECONDS));
        }
    }
}
