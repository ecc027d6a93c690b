package io.maglevlb.control.health;

/**
 * Receives backend state changes. Called on the executor given to {@link HealthChecker}, never on the
 * health event loop or a forwarding loop, so it may rebuild a Maglev table.
 */
@FunctionalInterface
public interface HealthListener {
    void onTransition(HealthTransition transition);
}
