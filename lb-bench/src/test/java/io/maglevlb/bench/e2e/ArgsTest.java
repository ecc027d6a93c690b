package io.maglevlb.bench.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ArgsTest {

    @Test
    void addressesAreLoopbackIpLiteralsOnly() {
        Args args = new Args("t", new String[] {"--to", "127.0.0.2:80,127.0.1.3:81", "--bad", "198.51.100.1:80",
            "--name", "localhost:80"}, 0);

        assertEquals(2, args.addresses("to").size());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> args.addresses("bad")).getMessage()
                .contains("not a loopback address"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> args.addresses("name")).getMessage()
                .contains("not an IP literal"));
    }

    @Test
    void unknownAndValuelessOptionsAreErrors() {
        Args args = new Args("t", new String[] {"--count", "3", "--typo", "x"}, 0);
        assertEquals(3, args.intValue("count", 1));
        assertTrue(assertThrows(IllegalArgumentException.class, args::rejectUnknown).getMessage()
                .contains("unknown option --typo"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Args("t", new String[] {"--count"}, 0))
                .getMessage().contains("needs a value"));
    }
}
