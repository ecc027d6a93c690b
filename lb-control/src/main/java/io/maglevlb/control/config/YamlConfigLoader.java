package io.maglevlb.control.config;

import io.maglevlb.core.config.BindResult;
import io.maglevlb.core.config.ConfigBinder;
import io.maglevlb.core.config.ConfigError;
import io.maglevlb.core.config.ConfigNode;
import io.maglevlb.core.config.ConfigWarning;
import io.maglevlb.core.config.MaglevConfig;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Loads a maglevd YAML file: reads it ({@link TrustedFile}: a regular file, size-limited while reading; strict
 * UTF-8), composes the YAML node tree with SnakeYAML,
 * converts it to lb-core's {@link ConfigNode} tree with 1-based line/column marks, and binds it with
 * {@link ConfigBinder}. {@link #load} also reads {@code admin.token_file} ({@link AdminTokenFile}) as start would,
 * so that {@code maglevd check} and reloads report a token file the daemon would refuse.
 *
 * <p>Safety: SnakeYAML is only asked to <em>compose</em> (build its node graph); nothing is ever constructed
 * from a tag, and any tag outside YAML's standard scalar, map and list tags is an error, so a config file
 * cannot name a Java type. Aliases and anchors work, including {@code <<} merge keys (explicit keys win); the
 * number of aliases, the nesting depth and the number of converted nodes are bounded, so alias bombs and
 * self-referencing documents fail with an error rather than exhausting memory or the stack.
 *
 * <p>Stateless and thread-safe.
 */
public final class YamlConfigLoader {
    /** Largest file accepted; a real configuration is a few KiB. */
    public static final long DEFAULT_MAX_FILE_BYTES = 4L << 20;
    /** Deepest nesting of maps and lists accepted (the real schema is 5 deep). */
    static final int MAX_DEPTH = 32;
    /** Most nodes the converted tree may have, after aliases are expanded. */
    static final int MAX_NODES = 1_000_000;
    /** Most aliases to collections in one file (SnakeYAML's billion-laughs guard). */
    static final int MAX_ALIASES = 100;
    /** An unquoted IPv6 literal such as {@code [::1]:80}, which YAML reads as the start of a flow list. */
    private static final Pattern BARE_IPV6 = Pattern.compile(":\\s+\\[[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\\]");

    private final long maxFileBytes;

    public YamlConfigLoader() {
        this(DEFAULT_MAX_FILE_BYTES);
    }

    public YamlConfigLoader(long maxFileBytes) {
        if (maxFileBytes <= 0) {
            throw new IllegalArgumentException("maxFileBytes must be > 0, was " + maxFileBytes);
        }
        this.maxFileBytes = maxFileBytes;
    }

    /** Reads, parses and validates {@code file}; never throws for a bad or missing file. */
    public ConfigLoadResult load(Path file) {
        String source = file.toString();
        String text;
        try {
            text = read(file);
        } catch (UnreadableFileException e) {
            return ConfigLoadResult.failed(source, List.of(new ConfigError("", 0, 0, e.getMessage())));
        }
        return checkTokenFile(parse(text, source));
    }

    /**
     * A valid result whose {@code admin.token_file} fails {@link AdminTokenFile#read} becomes invalid; its
     * warnings join the result's. So {@code check}, start and every reload judge the token file alike.
     */
    private static ConfigLoadResult checkTokenFile(ConfigLoadResult result) {
        if (!result.isValid()) {
            return result;
        }
        MaglevConfig config = result.config().orElseThrow();
        if (config.admin().tokenFile().isEmpty()) {
            return result;
        }
        Path tokenFile = config.admin().tokenFile().get();
        String path = "admin.token_file";
        List<ConfigWarning> warnings = new ArrayList<>(result.warnings());
        try {
            AdminTokenFile token = AdminTokenFile.read(tokenFile);
            token.warnings().forEach(w -> warnings.add(new ConfigWarning(path, 0, 0, w)));
            return new ConfigLoadResult(result.source(), result.config(), result.errors(), warnings);
        } catch (TrustedFile.RefusedException e) {
            return new ConfigLoadResult(result.source(), java.util.Optional.empty(),
                    List.of(new ConfigError(path, 0, 0, e.getMessage())), warnings);
        }
    }

    /**
     * The configuration in {@code file}.
     *
     * @throws ConfigException listing every error; warnings are available from {@link ConfigException#result()}
     */
    public MaglevConfig loadOrThrow(Path file) throws ConfigException {
        return load(file).orThrow();
    }

    /** Parses and validates YAML text; {@code source} names it in messages. */
    public ConfigLoadResult parse(String yamlText, String source) {
        if (yamlText.length() > maxFileBytes) {
            return ConfigLoadResult.failed(source, List.of(new ConfigError("", 0, 0,
                    "the text is " + yamlText.length() + " characters; the limit is " + maxFileBytes)));
        }
        String text = yamlText.startsWith("\uFEFF") ? yamlText.substring(1) : yamlText;
        Node root;
        try {
            root = new Yaml(loaderOptions()).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            return ConfigLoadResult.failed(source, List.of(syntaxError(e, text)));
        } catch (YAMLException e) {
            return ConfigLoadResult.failed(source, List.of(new ConfigError("", 0, 0,
                    "YAML error: " + e.getMessage())));
        } catch (IllegalArgumentException e) {
            // SnakeYAML checks some token values (a tag with surrounding spaces, e.g. !<%20x>) outside its own
            // exception type; it is still a YAML error in the file, not a crash of the loader.
            return ConfigLoadResult.failed(source, List.of(new ConfigError("", 0, 0,
                    "YAML error: " + e.getMessage())));
        }
        ConfigNode tree;
        if (root == null) {
            tree = ConfigNode.ScalarNode.ofNull(1, 1);
        } else {
            Converter converter = new Converter();
            tree = converter.convert(root, 0);
            if (!converter.errors.isEmpty()) {
                return ConfigLoadResult.failed(source, converter.errors);
            }
        }
        BindResult bound = ConfigBinder.bind(tree);
        return new ConfigLoadResult(source, bound.config(), bound.errors(), bound.warnings());
    }

    private LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setMaxAliasesForCollections(MAX_ALIASES);
        options.setNestingDepthLimit(MAX_DEPTH);
        options.setCodePointLimit((int) Math.min(Integer.MAX_VALUE, maxFileBytes));
        options.setAllowRecursiveKeys(false);
        options.setProcessComments(false);
        // Duplicates are kept in the tree and reported by the binder with both positions.
        options.setAllowDuplicateKeys(true);
        options.setMergeOnCompose(false);
        return options;
    }

    private String read(Path file) throws UnreadableFileException {
        byte[] bytes;
        try {
            bytes = TrustedFile.read(file, maxFileBytes, TrustedFile.Kind.CONFIGURATION).bytes();
        } catch (TrustedFile.RefusedException e) {
            throw new UnreadableFileException(e.getMessage());
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new UnreadableFileException("the file is not valid UTF-8");
        }
    }

    private static ConfigError syntaxError(MarkedYAMLException e, String text) {
        Mark problem = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
        StringBuilder message = new StringBuilder("YAML syntax error: ");
        message.append(e.getProblem() != null ? e.getProblem() : e.getMessage());
        if (e.getContext() != null) {
            message.append(" (").append(e.getContext());
            if (e.getContextMark() != null && (problem == null
                    || e.getContextMark().getLine() != problem.getLine())) {
                message.append(" at line ").append(e.getContextMark().getLine() + 1);
            }
            message.append(')');
        }
        if (problem != null) {
            String[] lines = text.split("\\R", -1);
            if (problem.getLine() < lines.length && BARE_IPV6.matcher(lines[problem.getLine()]).find()) {
                message.append("; quote IPv6 addresses: \"[::1]:80\"");
            }
        }
        return problem == null
                ? new ConfigError("", 0, 0, message.toString())
                : new ConfigError("", problem.getLine() + 1, problem.getColumn() + 1, message.toString());
    }

    /** SnakeYAML nodes to ConfigNodes; collects structural errors (tags, keys, depth, size) instead of throwing. */
    private static final class Converter {
        private static final Set<Tag> SCALAR_TAGS =
                Set.of(Tag.STR, Tag.INT, Tag.FLOAT, Tag.BOOL, Tag.NULL, Tag.TIMESTAMP);

        final List<ConfigError> errors = new ArrayList<>();
        private int nodes;
        /** Set when a size limit was hit: conversion stops, with one error for the whole document. */
        private boolean abandoned;

        ConfigNode convert(Node node, int depth) {
            int line = node.getStartMark().getLine() + 1;
            int column = node.getStartMark().getColumn() + 1;
            if (abandoned) {
                return ConfigNode.ScalarNode.ofNull(line, column);
            }
            if (++nodes > MAX_NODES) {
                abandoned = true;
                errors.add(new ConfigError("", line, column, "the document expands to more than " + MAX_NODES
                        + " nodes (aliases repeating large parts?)"));
                return ConfigNode.ScalarNode.ofNull(line, column);
            }
            if (depth > MAX_DEPTH) {
                abandoned = true;
                errors.add(new ConfigError("", line, column, "nesting deeper than " + MAX_DEPTH
                        + " levels (an alias that contains itself?)"));
                return ConfigNode.ScalarNode.ofNull(line, column);
            }
            return switch (node) {
                case ScalarNode s -> scalar(s, line, column);
                case SequenceNode seq -> {
                    checkTag(node, Tag.SEQ, line, column);
                    List<ConfigNode> items = new ArrayList<>();
                    for (Node item : seq.getValue()) {
                        items.add(convert(item, depth + 1));
                    }
                    yield new ConfigNode.ListNode(items, line, column);
                }
                case MappingNode map -> {
                    checkTag(node, Tag.MAP, line, column);
                    yield mapping(map, line, column, depth);
                }
                default -> {
                    errors.add(new ConfigError("", line, column, "unsupported YAML node " + node.getNodeId()));
                    yield ConfigNode.ScalarNode.ofNull(line, column);
                }
            };
        }

        private ConfigNode scalar(ScalarNode s, int line, int column) {
            if (!SCALAR_TAGS.contains(s.getTag())) {
                errors.add(new ConfigError("", line, column, "YAML tag '" + s.getTag().getValue()
                        + "' is not supported: write plain values"));
            }
            if (s.getTag().equals(Tag.NULL)) {
                return ConfigNode.ScalarNode.ofNull(line, column);
            }
            return ConfigNode.ScalarNode.of(s.getValue(), line, column);
        }

        private void checkTag(Node node, Tag expected, int line, int column) {
            if (!node.getTag().equals(expected)) {
                errors.add(new ConfigError("", line, column, "YAML tag '" + node.getTag().getValue()
                        + "' is not supported: write plain maps and lists"));
            }
        }

        /**
         * Explicit keys in order, then keys from {@code <<} merges that are not explicit (earlier merge sources
         * win, as in YAML 1.1's merge type). Explicit duplicates stay for the binder to report.
         */
        private ConfigNode mapping(MappingNode map, int line, int column, int depth) {
            List<ConfigNode.Entry> explicit = new ArrayList<>();
            List<Node> mergeSources = new ArrayList<>();
            for (NodeTuple tuple : map.getValue()) {
                Node keyNode = tuple.getKeyNode();
                int keyLine = keyNode.getStartMark().getLine() + 1;
                int keyColumn = keyNode.getStartMark().getColumn() + 1;
                if (keyNode instanceof ScalarNode k && k.getTag().equals(Tag.MERGE)) {
                    Node value = tuple.getValueNode();
                    if (value instanceof SequenceNode seq) {
                        mergeSources.addAll(seq.getValue());
                    } else {
                        mergeSources.add(value);
                    }
                    continue;
                }
                if (!(keyNode instanceof ScalarNode k) || k.getTag().equals(Tag.NULL)) {
                    errors.add(new ConfigError("", keyLine, keyColumn, "map keys must be plain words such as "
                            + "'name', got " + (keyNode instanceof ScalarNode ? "an empty key" : "a "
                            + keyNode.getNodeId().name().toLowerCase(java.util.Locale.ROOT))));
                    continue;
                }
                explicit.add(new ConfigNode.Entry(k.getValue(), keyLine, keyColumn,
                        convert(tuple.getValueNode(), depth + 1)));
            }
            List<ConfigNode.Entry> entries = new ArrayList<>(explicit);
            Set<String> present = new HashSet<>();
            explicit.forEach(e -> present.add(e.key()));
            for (Node source : mergeSources) {
                int sourceLine = source.getStartMark().getLine() + 1;
                int sourceColumn = source.getStartMark().getColumn() + 1;
                if (!(source instanceof MappingNode) || depth + 1 > MAX_DEPTH) {
                    errors.add(new ConfigError("", sourceLine, sourceColumn,
                            "'<<' merges maps only: give it an alias of a map or a list of such aliases"));
                    continue;
                }
                ConfigNode merged = convert(source, depth + 1);
                if (merged instanceof ConfigNode.MapNode m) {
                    for (ConfigNode.Entry e : m.entries()) {
                        if (present.add(e.key())) {
                            entries.add(e);
                        }
                    }
                }
            }
            return new ConfigNode.MapNode(entries, line, column);
        }
    }

    /** A file that cannot be read as text; the message completes "FILE: ...". */
    private static final class UnreadableFileException extends Exception {
        private static final long serialVersionUID = 1L;

        UnreadableFileException(String message) {
            super(message, null, false, false);
        }
    }
}
