package io.maglevlb.core.config;

import io.maglevlb.core.config.ConfigNode.Entry;
import io.maglevlb.core.config.ConfigNode.ListNode;
import io.maglevlb.core.config.ConfigNode.MapNode;
import io.maglevlb.core.config.ConfigNode.ScalarNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the block-YAML subset the binder tests are written in into a {@link ConfigNode} tree with 1-based
 * lines and columns, so tests can state documents as text and assert positions. lb-core has no YAML library;
 * the real loader (SnakeYAML) lives in lb-control and is tested there against the same positions.
 *
 * <p>Supported: {@code key: value}, nested maps by indentation, {@code - } list items (scalars or maps),
 * {@code []} and {@code {}} as empty collections, single or double quotes without escapes, {@code ~}/{@code null}/
 * nothing as null, and {@code #} comments. Anything else is a test-writing mistake and throws.
 */
final class MiniYaml {
    private record Line(int number, int indent, String text) {}

    private final List<Line> lines = new ArrayList<>();
    private int pos;

    private MiniYaml(String text) {
        String[] raw = text.split("\n", -1);
        for (int i = 0; i < raw.length; i++) {
            String s = stripComment(raw[i]);
            if (s.isBlank()) {
                continue;
            }
            int indent = 0;
            while (s.charAt(indent) == ' ') {
                indent++;
            }
            lines.add(new Line(i + 1, indent, s.substring(indent).stripTrailing()));
        }
    }

    static ConfigNode parse(String text) {
        MiniYaml y = new MiniYaml(text);
        if (y.lines.isEmpty()) {
            return ScalarNode.ofNull(1, 1);
        }
        ConfigNode root = y.block(y.lines.get(0).indent());
        if (y.pos != y.lines.size()) {
            throw new IllegalArgumentException("unparsed line " + y.lines.get(y.pos).number());
        }
        return root;
    }

    private static String stripComment(String s) {
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '#' && (i == 0 || s.charAt(i - 1) == ' ')) {
                return s.substring(0, i);
            }
        }
        return s;
    }

    private ConfigNode block(int indent) {
        Line first = lines.get(pos);
        if (isListItem(first)) {
            return list(indent);
        }
        if (keyEnd(first.text()) >= 0) {
            return map(indent);
        }
        pos++;
        return scalar(first.text(), first.number(), first.indent() + 1);
    }

    private static boolean isListItem(Line l) {
        return l.text().equals("-") || l.text().startsWith("- ");
    }

    /** Index of the ':' that ends a key, or -1 when the text is not "key: ..." / "key:". */
    private static int keyEnd(String text) {
        if (text.startsWith("\"") || text.startsWith("'") || text.startsWith("[") || text.startsWith("{")) {
            return -1;
        }
        int i = text.indexOf(": ");
        if (i >= 0) {
            return i;
        }
        return text.endsWith(":") ? text.length() - 1 : -1;
    }

    private MapNode map(int indent) {
        Line first = lines.get(pos);
        List<Entry> entries = new ArrayList<>();
        while (pos < lines.size() && lines.get(pos).indent() == indent && !isListItem(lines.get(pos))) {
            Line l = lines.get(pos);
            int colon = keyEnd(l.text());
            if (colon < 0) {
                throw new IllegalArgumentException("line " + l.number() + ": expected key: value");
            }
            String key = l.text().substring(0, colon);
            String rest = l.text().substring(colon + 1).strip();
            int restColumn = l.indent() + l.text().indexOf(rest, colon + 1) + 1;
            pos++;
            ConfigNode value;
            if (!rest.isEmpty()) {
                value = scalar(rest, l.number(), restColumn);
            } else if (pos < lines.size() && lines.get(pos).indent() > indent) {
                value = block(lines.get(pos).indent());
            } else if (pos < lines.size() && lines.get(pos).indent() == indent && isListItem(lines.get(pos))) {
                value = list(indent);
            } else {
                value = ScalarNode.ofNull(l.number(), l.indent() + colon + 2);
            }
            entries.add(new Entry(key, l.number(), l.indent() + 1, value));
        }
        if (pos < lines.size() && lines.get(pos).indent() > indent) {
            throw new IllegalArgumentException("line " + lines.get(pos).number() + ": unexpected indentation");
        }
        return new MapNode(entries, first.number(), first.indent() + 1);
    }

    private ListNode list(int indent) {
        Line first = lines.get(pos);
        List<ConfigNode> items = new ArrayList<>();
        while (pos < lines.size() && lines.get(pos).indent() == indent && isListItem(lines.get(pos))) {
            Line l = lines.get(pos);
            String content = l.text().length() > 1 ? l.text().substring(2) : "";
            int contentIndent = indent + 2 + (content.length() - content.stripLeading().length());
            content = content.strip();
            if (content.isEmpty()) {
                pos++;
                items.add(block(lines.get(pos).indent()));
            } else if (keyEnd(content) >= 0) {
                // "- key: value": the item is a map whose keys line up with this content.
                lines.set(pos, new Line(l.number(), contentIndent, content));
                items.add(map(contentIndent));
            } else {
                pos++;
                items.add(scalar(content, l.number(), contentIndent + 1));
            }
        }
        return new ListNode(items, first.number(), first.indent() + 1);
    }

    private static ConfigNode scalar(String text, int line, int column) {
        if (text.equals("~") || text.equals("null")) {
            return ScalarNode.ofNull(line, column);
        }
        if (text.equals("[]")) {
            return new ListNode(List.of(), line, column);
        }
        if (text.equals("{}")) {
            return new MapNode(List.of(), line, column);
        }
        if (text.length() >= 2 && (text.startsWith("\"") && text.endsWith("\"")
                || text.startsWith("'") && text.endsWith("'"))) {
            return ScalarNode.of(text.substring(1, text.length() - 1), line, column);
        }
        return ScalarNode.of(text, line, column);
    }
}
