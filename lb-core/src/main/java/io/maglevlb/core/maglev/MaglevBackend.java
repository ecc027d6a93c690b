package io.maglevlb.core.maglev;

import static com.google.common.base.Preconditions.checkArgument;

import java.util.Objects;

/**
 * One entry of a Maglev table build: the backend's configured {@code name} (the hash key, stable across
 * re-addressing) and its {@code weight} (0 = no slots).
 */
public record MaglevBackend(String name, int weight) implements Comparable<MaglevBackend> {

    public MaglevBackend {
        Objects.requireNonNull(name, "name");
        checkArgument(!name.isEmpty(), "backend name must not be empty");
        checkArgument(weight >= 0, "backend %s: weight must be >= 0, was %s", name, weight);
    }

    /** Orders by name as UTF-16 code units: a total, locale-free order, the same on every JVM. */
    @Override
    public int compareTo(MaglevBackend other) {
        return name.compareTo(other.name);
    }
}
