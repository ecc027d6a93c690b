package io.maglevlb.core.config;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The bytes of a {@code udp} health check's datagram ({@code send}) or of the reply it expects
 * ({@code expect}), immutable and compared by content (so a reload that keeps them keeps the watch).
 *
 * <p>Written in the configuration as text, sent as its UTF-8 bytes ({@code send: "ping\n"}), or, for
 * arbitrary bytes, as {@value #HEX_PREFIX} followed by hex digits, two per byte, with optional spaces between
 * them ({@code send: "hex: 00 01 ff"}). A text that itself starts with {@value #HEX_PREFIX} must be written in
 * the hex form. Between 1 and {@value #MAX_BYTES} bytes: an empty datagram cannot be sent through Netty's
 * epoll transport, and {@value #MAX_BYTES} bytes fill an Ethernet frame (1500-byte MTU less the IPv4 and
 * UDP headers), so a check never depends on IP fragmentation.
 */
public final class UdpPayload {
    /** Marks the hex form of a payload. */
    public static final String HEX_PREFIX = "hex:";
    /** Longest payload: one unfragmented datagram on a 1500-byte MTU (1500 - 20 IPv4 - 8 UDP). */
    public static final int MAX_BYTES = 1472;

    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;

    private UdpPayload(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A payload of {@code bytes} (copied). */
    public static UdpPayload of(byte[] bytes) {
        check(bytes.length);
        return new UdpPayload(bytes.clone());
    }

    /**
     * Parses the configuration form: {@value #HEX_PREFIX} and hex digits, or text taken as UTF-8.
     *
     * @throws IllegalArgumentException with a message fit for a configuration error
     */
    public static UdpPayload parse(String text) {
        byte[] b;
        if (text.startsWith(HEX_PREFIX)) {
            String digits = text.substring(HEX_PREFIX.length()).replaceAll("\\s+", "");
            if (digits.isEmpty()) {
                throw new IllegalArgumentException("no hex digits after '" + HEX_PREFIX + "'");
            }
            if (digits.length() % 2 != 0) {
                throw new IllegalArgumentException("odd number of hex digits (" + digits.length()
                        + "): write two per byte, e.g. 'hex: 0a 00 ff'");
            }
            try {
                b = HEX.parseHex(digits);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("not hex digits after '" + HEX_PREFIX + "': '" + digits
                        + "' (use 0-9 and a-f, two per byte)");
            }
        } else {
            b = text.getBytes(StandardCharsets.UTF_8);
        }
        check(b.length);
        return new UdpPayload(b);
    }

    private static void check(int length) {
        if (length == 0) {
            throw new IllegalArgumentException("must not be empty (an empty datagram cannot be sent)");
        }
        if (length > MAX_BYTES) {
            throw new IllegalArgumentException("must be at most " + MAX_BYTES + " bytes (one unfragmented "
                    + "datagram), was " + length);
        }
    }

    public int length() {
        return bytes.length;
    }

    /** The byte at {@code index}. */
    public byte byteAt(int index) {
        return bytes[index];
    }

    /** A copy of the bytes. */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    /** The configuration form: the text when it is printable ASCII (and not hex-like), else the hex form. */
    @Override
    public String toString() {
        String text = new String(bytes, StandardCharsets.US_ASCII);
        boolean printable = true;
        for (byte x : bytes) {
            if (x < 0x20 || x > 0x7e) {
                printable = false;
                break;
            }
        }
        return printable && !text.startsWith(HEX_PREFIX) ? text : HEX_PREFIX + " " + HEX.withDelimiter(" ")
                .formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UdpPayload p && Arrays.equals(bytes, p.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }
}
