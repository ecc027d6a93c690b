package io.maglevlb.control.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RiseFallTest {

    @Test
    void markDownTakesAnUpBackendDownWhateverTheStreakAndRiseStillAppliesToComeBack() {
        RiseFall rf = new RiseFall(2, 3, InitialState.UP);
        assertFalse(rf.record(false));
        assertTrue(rf.markDown());
        assertFalse(rf.isUp());
        assertEquals(0, rf.streak());
        assertFalse(rf.markDown(), "already down");
        assertFalse(rf.record(true));
        assertTrue(rf.record(true), "rise successes bring it back");
        assertTrue(rf.isUp());
    }

    @Test
    void provisionalStartGoesDownOnTheFirstFailure() {
        RiseFall rf = new RiseFall(2, 3, InitialState.PROVISIONALLY_UP);
        assertTrue(rf.isUp());
        assertTrue(rf.record(false));
        assertFalse(rf.isUp());
    }

    @Test
    void provisionalStartSettlesAfterOneSuccessAndThenNeedsFallFailures() {
        RiseFall rf = new RiseFall(2, 3, InitialState.PROVISIONALLY_UP);
        assertFalse(rf.record(true));
        assertFalse(rf.isProvisional());
        assertFalse(rf.record(false));
        assertFalse(rf.record(false));
        assertTrue(rf.isUp());
        assertTrue(rf.record(false));
        assertFalse(rf.isUp());
    }

    @Test
    void downNeedsRiseConsecutiveSuccesses() {
        RiseFall rf = new RiseFall(3, 2, InitialState.DOWN);
        assertFalse(rf.record(true));
        assertFalse(rf.record(true));
        assertFalse(rf.record(false)); // streak broken
        assertFalse(rf.record(true));
        assertFalse(rf.record(true));
        assertFalse(rf.isUp());
        assertTrue(rf.record(true));
        assertTrue(rf.isUp());
    }

    @Test
    void aSuccessBetweenFailuresResetsTheFallStreak() {
        RiseFall rf = new RiseFall(1, 2, InitialState.UP);
        assertFalse(rf.record(false));
        assertFalse(rf.record(true));
        assertFalse(rf.record(false));
        assertTrue(rf.isUp());
        assertTrue(rf.record(false));
        assertFalse(rf.isUp());
    }

    /** Against a reference model over seeded random result sequences. */
    @Test
    void matchesAReferenceModelOnRandomSequences() {
        SplittableRandom random = new SplittableRandom(20240611L);
        for (int run = 0; run < 500; run++) {
            int rise = 1 + random.nextInt(5);
            int fall = 1 + random.nextInt(5);
            RiseFall rf = new RiseFall(rise, fall, InitialState.UP);
            boolean up = true;
            int successes = 0;
            int failures = 0;
            for (int i = 0; i < 200; i++) {
                boolean ok = random.nextInt(100) < 60;
                if (ok) {
                    successes++;
                    failures = 0;
                } else {
                    failures++;
                    successes = 0;
                }
                boolean expectedChange = false;
                if (up && failures >= fall) {
                    up = false;
                    expectedChange = true;
                    failures = 0;
                } else if (!up && successes >= rise) {
                    up = true;
                    expectedChange = true;
                    successes = 0;
                }
                assertEquals(expectedChange, rf.record(ok), "run " + run + " step " + i);
                assertEquals(up, rf.isUp());
            }
        }
    }

    @Test
    void rejectsNonPositiveThresholds() {
        assertThrows(IllegalArgumentException.class, () -> new RiseFall(0, 1, InitialState.UP));
        assertThrows(IllegalArgumentException.class, () -> new RiseFall(1, 0, InitialState.UP));
    }
}
