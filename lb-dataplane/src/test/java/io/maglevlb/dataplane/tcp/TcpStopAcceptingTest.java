package io.maglevlb.dataplane.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import org.junit.jupiter.api.Test;

/** The shutdown building blocks: stop accepting, let open connections finish, then close the rest. */
class TcpStopAcceptingTest {

    @Test
    void openConnectionsOutliveTheListenersAndAreClosedOnDemand() throws Exception {
        try (TestBackend echo = TestBackend.start("echo", TestBackend.echoes());
             ProxyFixture proxy = ProxyFixture.spec("stop").backend(echo).start();
             Socket finishing = new Socket();
             Socket lingering = new Socket()) {
            finishing.setSoTimeout(Clients.TIMEOUT_MS);
            finishing.connect(proxy.address());
            lingering.setSoTimeout(Clients.TIMEOUT_MS);
            lingering.connect(proxy.address());
            finishing.getOutputStream().write(1);
            assertEquals(1, finishing.getInputStream().read());
            lingering.getOutputStream().write(1);
            assertEquals(1, lingering.getInputStream().read());

            proxy.vip.stopAccepting();
            assertEquals(0, proxy.vip.listenerCount());
            assertThrows(ConnectException.class, () -> new Socket().connect(proxy.address(), 2000));

            // An open connection keeps working and ends normally.
            finishing.getOutputStream().write(2);
            assertEquals(2, finishing.getInputStream().read());
            finishing.shutdownOutput();
            assertEquals(-1, finishing.getInputStream().read());
            ProxyFixture.awaitTrue("one connection left", () -> proxy.vip.activeConnections() == 1);

            // The deadline: whatever is still open is closed.
            proxy.vip.closeConnections();
            InputStream in = lingering.getInputStream();
            assertEquals(-1, in.read());
            proxy.awaitNoConnections();
        }
    }
}
