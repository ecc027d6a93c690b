package io.maglevlb.core.config;

import java.util.List;
import java.util.Objects;

/**
 * A configuration document as a neutral tree: maps, lists and scalars, each with the 1-based line and column
 * where it starts in its source (0 when unknown). The YAML loader in lb-control produces it; {@link ConfigBinder}
 * validates it into a {@link MaglevConfig}. Keeping the tree free of any YAML library keeps lb-core pure and
 * lets tests build documents directly.
 */
public sealed interface ConfigNode permits ConfigNode.MapNode, ConfigNode.ListNode, ConfigNode.ScalarNode {

    int line();

    int column();

    /** What the node is, for messages: "a map", "a list" or "a value". */
    String kind();

    /**
     * A mapping in source order. Keys may repeat (the binder reports duplicates), so this is a list of entries
     * rather than a {@link java.util.Map}.
     */
    record MapNode(List<Entry> entries, int line, int column) implements ConfigNode {
        public MapNode {
            entries = List.copyOf(entries);
        }

        @Override
        public String kind() {
            return "a map";
        }
    }

    /** One key of a {@link MapNode} with the position of the key itself. */
    record Entry(String key, int line, int column, ConfigNode value) {
        public Entry {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(value, "value");
        }
    }

    /** A sequence in source order. */
    record ListNode(List<ConfigNode> items, int line, int column) implements ConfigNode {
        public ListNode {
            items = List.copyOf(items);
        }

        @Override
        public String kind() {
            return "a list";
        }
    }

    /**
     * A scalar as written (the binder parses numbers, durations and addresses itself).
     *
     * @param value the text; empty when {@code wasNull}
     * @param wasNull the source spelled "no value" ({@code ~}, {@code null} or nothing), as opposed to a
     *     quoted empty string
     */
    record ScalarNode(String value, boolean wasNull, int line, int column) implements ConfigNode {
        public ScalarNode {
            Objects.requireNonNull(value, "value");
        }

        /** A non-null scalar. */
        public static ScalarNode of(String value, int line, int column) {
            return new ScalarNode(value, false, line, column);
        }

        /** A null scalar. */
        public static ScalarNode ofNull(int line, int column) {
            return new ScalarNode("", true, line, column);
        }

        @Override
        public String kind() {
            return wasNull ? "no value" : "a value";
        }
    }
}
