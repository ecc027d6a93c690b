package io.maglevlb.core.config;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parsing and printing of the scalar forms the configuration uses: durations ({@code 500ms}, {@code 1.5s})
 * and socket addresses ({@code 127.0.0.1:80}, {@code [::1]:80}). Parsers throw {@link IllegalArgumentException}
 * with a message meant for the operator. Nothing here resolves names or touches the network.
 */
public final class ConfigValues {
    private ConfigValues() {}

    private static final Pattern DURATION = Pattern.compile("(\\d{1,15})(?:\\.(\\d{1,9}))?(ms|s|m|h)");
    private static final Pattern NUMBER_WITHOUT_UNIT = Pattern.compile("-?\\d+(?:\\.\\d+)?");
    private static final Pattern DOTTED_QUAD = Pattern.compile("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    private static final Pattern HOSTNAME_LIKE = Pattern.compile("[A-Za-z0-9.-]*[A-Za-z][A-Za-z0-9.-]*");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");
    private static final Pattern PORT = Pattern.compile("\\d{1,5}");

    static final String DURATION_FORMS = "a number with a unit: 500ms, 1s, 1.5s, 2m or 1h";

    /**
     * Parses a positive duration: a decimal number and one of the units {@code ms}, {@code s}, {@code m},
     * {@code h} ({@code 500ms}, {@code 1.5s}, {@code 2m}). Fractions below a nanosecond are dropped.
     */
    public static Duration parseDuration(String text) {
        String s = text.strip();
        Matcher m = DURATION.matcher(s);
        if (!m.matches()) {
            if (s.startsWith("-")) {
                throw new IllegalArgumentException("must be positive, was '" + text + "'");
            }
            if (NUMBER_WITHOUT_UNIT.matcher(s).matches()) {
                throw new IllegalArgumentException(
                        "'" + text + "' has no unit: write " + DURATION_FORMS);
            }
            throw new IllegalArgumentException("'" + text + "' is not a duration: write " + DURATION_FORMS);
        }
        BigDecimal amount = new BigDecimal(m.group(2) == null ? m.group(1) : m.group(1) + "." + m.group(2));
        long unitNanos = switch (m.group(3)) {
            case "ms" -> 1_000_000L;
            case "s" -> 1_000_000_000L;
            case "m" -> 60_000_000_000L;
            case "h" -> 3_600_000_000_000L;
            default -> throw new AssertionError(m.group(3));
        };
        BigInteger nanos = amount.multiply(BigDecimal.valueOf(unitNanos)).setScale(0, RoundingMode.DOWN)
                .toBigIntegerExact();
        if (nanos.signum() == 0) {
            throw new IllegalArgumentException("must be positive, was '" + text + "'");
        }
        if (nanos.bitLength() >= Long.SIZE) {
            throw new IllegalArgumentException("'" + text + "' is too long a duration");
        }
        return Duration.ofNanos(nanos.longValueExact());
    }

    /** The shortest exact config spelling of a duration: {@code 500ms}, {@code 1.5s}, {@code 2m}, {@code 1h}. */
    public static String formatDuration(Duration d) {
        long nanos = d.toNanos();
        if (nanos % 3_600_000_000_000L == 0) {
            return nanos / 3_600_000_000_000L + "h";
        }
        if (nanos % 60_000_000_000L == 0) {
            return nanos / 60_000_000_000L + "m";
        }
        if (nanos >= 1_000_000_000L) {
            return BigDecimal.valueOf(nanos, 9).stripTrailingZeros().toPlainString() + "s";
        }
        return BigDecimal.valueOf(nanos, 6).stripTrailingZeros().toPlainString() + "ms";
    }

    /**
     * Parses an IP literal and port: {@code 127.0.0.1:80} or {@code [::1]:80}. Host names are rejected, not
     * resolved: a load balancer must not depend on DNS to start.
     */
    public static InetSocketAddress parseSocketAddress(String text) {
        String s = text.strip();
        if (s.isEmpty()) {
            throw new IllegalArgumentException("expected IP:port such as 127.0.0.1:80 or [::1]:80, got an empty value");
        }
        String host;
        String port;
        InetAddress address;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("'" + text + "' has no closing ']': write [::1]:80");
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (rest.isEmpty()) {
                throw new IllegalArgumentException("'" + text + "' has no port: write [" + host + "]:80");
            }
            if (!rest.startsWith(":")) {
                throw new IllegalArgumentException("'" + text + "': expected ':port' after ']'");
            }
            port = rest.substring(1);
            address = parseIpv6(host, text);
        } else {
            int colons = (int) s.chars().filter(c -> c == ':').count();
            if (colons > 1) {
                throw new IllegalArgumentException(
                        "'" + text + "': an IPv6 address needs brackets and a port, e.g. [::1]:80");
            }
            if (colons == 0) {
                if (DOTTED_QUAD.matcher(s).matches()) {
                    throw new IllegalArgumentException("'" + text + "' has no port: write " + s + ":80");
                }
                throw new IllegalArgumentException(
                        "'" + text + "' is not IP:port: write an address such as 127.0.0.1:80 or [::1]:80");
            }
            int colon = s.indexOf(':');
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
            if (DOTTED_QUAD.matcher(host).matches()) {
                address = parseIpv4(host, text);
            } else if (HOSTNAME_LIKE.matcher(host).matches()) {
                throw new IllegalArgumentException("'" + host + "' is a host name; maglevd does not resolve names: "
                        + "write an IP address such as 127.0.0.1:" + port + " or [::1]:" + port);
            } else {
                throw new IllegalArgumentException("'" + host + "' is not an IP address (in '" + text + "')");
            }
        }
        return new InetSocketAddress(address, parsePort(port, text));
    }

    /** Parses a port number in 1..65535. */
    public static int parsePort(String port, String context) {
        if (!PORT.matcher(port).matches()) {
            throw new IllegalArgumentException("port '" + port + "' is not a number (in '" + context + "')");
        }
        int p = Integer.parseInt(port);
        if (p < 1 || p > 65535) {
            throw new IllegalArgumentException("port must be between 1 and 65535, was " + p);
        }
        return p;
    }

    private static InetAddress parseIpv4(String host, String text) {
        String[] parts = host.split("\\.");
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String part = parts[i];
            if (part.length() > 1 && part.charAt(0) == '0') {
                // inet_aton reads 010 as octal 8; refuse the ambiguity.
                throw new IllegalArgumentException(
                        "'" + host + "': leading zeros in an IPv4 address are ambiguous (in '" + text + "')");
            }
            int v = Integer.parseInt(part);
            if (v > 255) {
                throw new IllegalArgumentException(
                        "'" + host + "' is not an IPv4 address: " + v + " is above 255 (in '" + text + "')");
            }
            bytes[i] = (byte) v;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError("4 bytes are always a valid address", e);
        }
    }

    private static InetAddress parseIpv6(String host, String text) {
        if (host.contains("%")) {
            throw new IllegalArgumentException("'" + text + "': IPv6 zone ids (%...) are not supported");
        }
        if (!host.contains(":")) {
            throw new IllegalArgumentException(
                    "'" + text + "': brackets are for IPv6 addresses; write an IPv4 address without them");
        }
        if (!IPV6_CHARS.matcher(host).matches()) {
            throw new IllegalArgumentException("'" + host + "' is not an IPv6 address (in '" + text + "')");
        }
        try {
            // ofLiteral parses only literals: it never performs a lookup.
            return Inet6Address.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + host + "' is not an IPv6 address (in '" + text + "')", e);
        }
    }

    /** The config spelling of an address: {@code 127.0.0.1:80} or {@code [::1]:80}. */
    public static String formatSocketAddress(InetSocketAddress address) {
        InetAddress ip = address.getAddress();
        if (ip instanceof Inet6Address) {
            return "[" + compressIpv6(ip.getHostAddress()) + "]:" + address.getPort();
        }
        return (ip == null ? address.getHostString() : ip.getHostAddress()) + ":" + address.getPort();
    }

    /** RFC 5952 text of the JDK's uncompressed form (0:0:0:0:0:0:0:1 -> ::1): longest run of 2+ zero groups. */
    static String compressIpv6(String full) {
        int scope = full.indexOf('%');
        String suffix = scope < 0 ? "" : full.substring(scope);
        String[] groups = (scope < 0 ? full : full.substring(0, scope)).split(":");
        if (groups.length != 8) {
            return full;
        }
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            if (!groups[i].equals("0")) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && groups[j].equals("0")) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }
        if (bestStart < 0) {
            return String.join(":", groups) + suffix;
        }
        String head = String.join(":", java.util.Arrays.copyOfRange(groups, 0, bestStart));
        String tail = String.join(":", java.util.Arrays.copyOfRange(groups, bestStart + bestLength, 8));
        return head + "::" + tail + suffix;
    }
}
