package io.maglevlb.control.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HangupSignalTest {

    @Test
    void sighupRunsTheReloadOnTheControlExecutor() throws Exception {
        ExecutorService control = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-control"));
        LinkedBlockingQueue<String> ran = new LinkedBlockingQueue<>();
        try {
            assertTrue(HangupSignal.install(control, () -> ran.add(Thread.currentThread().getName())));
            HangupSignal.raise();
            assertEquals("test-control", ran.poll(10, TimeUnit.SECONDS));
            HangupSignal.raise();
            assertEquals("test-control", ran.poll(10, TimeUnit.SECONDS));
        } finally {
            // Leave SIGHUP handled (as a no-op) rather than default (terminate) for the rest of this test JVM.
            HangupSignal.handle(() -> { });
            control.shutdown();
            assertTrue(control.awaitTermination(5, TimeUnit.SECONDS));
        }
    }
}
