package io.maglevlb.control.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class AdminAddressTest {
    @Test
    void theOptionWinsOverTheEnvironmentWhichWinsOverTheFile() {
        assertEquals(new AdminAddress(new InetSocketAddress("127.0.0.1", 9290), "--admin"),
                AdminAddress.override("127.0.0.1:9290", "127.0.0.1:9390"));
        assertEquals(new AdminAddress(new InetSocketAddress("127.0.0.1", 9390), "MAGLEVD_ADMIN"),
                AdminAddress.override(null, "127.0.0.1:9390"));
        assertNull(AdminAddress.override(null, null), "admin.listen of the file");
        assertNull(AdminAddress.override(null, " "), "an empty variable is no override");
    }

    @Test
    void aBadAddressNamesWhereItCameFrom() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AdminAddress.override(null, "localhost:9190"));
        assertEquals("MAGLEVD_ADMIN: ", e.getMessage().substring(0, "MAGLEVD_ADMIN: ".length()));
        e = assertThrows(IllegalArgumentException.class, () -> AdminAddress.override("9190", null));
        assertEquals("--admin: ", e.getMessage().substring(0, "--admin: ".length()));
    }
}
