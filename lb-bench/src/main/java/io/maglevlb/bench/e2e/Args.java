package io.maglevlb.bench.e2e;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --name value} options of one e2e tool. Every option takes a value; unknown or missing ones are errors that
 * name the option, so a typo in scripts/bench fails loudly instead of running with a default.
 */
final class Args {

    private final String tool;
    private final Map<String, String> values = new HashMap<>();
    private final Set<String> used = new HashSet<>();

    Args(String tool, String[] argv, int from) {
        this.tool = tool;
        for (int i = from; i < argv.length; i++) {
            String arg = argv[i];
            if (!arg.startsWith("--") || arg.length() < 3) {
                throw new IllegalArgumentException(tool + ": expected --option, got '" + arg + "'");
            }
            if (i + 1 >= argv.length) {
                throw new IllegalArgumentException(tool + ": option " + arg + " needs a value");
            }
            values.put(arg.substring(2), argv[++i]);
        }
    }

    String string(String name) {
        String value = values.get(name);
        if (value == null) {
            throw new IllegalArgumentException(tool + ": missing required option --" + name);
        }
        used.add(name);
        return value;
    }

    String string(String name, String fallback) {
        return values.containsKey(name) ? string(name) : fallback;
    }

    long longValue(String name, long fallback) {
        if (!values.containsKey(name)) {
            return fallback;
        }
        String raw = string(name);
        try {
            return Long.parseLong(raw);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(tool + ": --" + name + " must be an integer, got '" + raw + "'", e);
        }
    }

    int intValue(String name, int fallback) {
        long value = longValue(name, fallback);
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(tool + ": --" + name + " out of range: " + value);
        }
        return (int) value;
    }

    /** A comma-separated list of {@code ip:port}; IP literals only, so nothing is ever resolved by DNS. */
    List<InetSocketAddress> addresses(String name) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String part : string(name).split(",")) {
            if (!part.isBlank()) {
                out.add(address(name, part.strip()));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(tool + ": --" + name + " lists no address");
        }
        return out;
    }

    /** Fails on options that no tool code asked for (typos); call after reading all options. */
    void rejectUnknown() {
        for (String name : values.keySet()) {
            if (!used.contains(name)) {
                throw new IllegalArgumentException(tool + ": unknown option --" + name);
            }
        }
    }

    private InetSocketAddress address(String name, String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException(tool + ": --" + name + ": expected ip:port, got '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            throw new IllegalArgumentException(tool + ": --" + name + ": '" + host + "' is not an IP literal");
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(tool + ": --" + name + ": bad port in '" + text + "'", e);
        }
        InetAddress ip;
        try {
            ip = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(tool + ": --" + name + ": bad address '" + text + "'", e);
        }
        if (!ip.isLoopbackAddress()) {
            throw new IllegalArgumentException(tool + ": --" + name + ": " + text
                    + " is not a loopback address; the e2e tools only talk to 127.0.0.0/8 and ::1");
        }
        return new InetSocketAddress(ip, port);
    }
}
