package io.maglevlb.control.takeover;

import io.maglevlb.dataplane.handover.HandoverSection;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The takeover protocol between a running maglevd (the old process, which listens on {@code upgrade_socket}) and
 * its successor ({@code maglevd run --takeover}), version {@value #VERSION}. Frames ({@link FrameChannel}) in
 * this order:
 *
 * <pre>
 *   new -> old  HELLO      min and max protocol version it reads, its pid, its maglevd version
 *   old -> new  INVENTORY  the version chosen, its pid, generation, start time, maglevd version, VIP count
 *   old -> new  VIP ...    one per forwarded VIP: name, protocol, mode, address, sections (with descriptors)
 *   old -> new  ADMIN      the admin API's address and listening socket (absent without an admin API)
 *   old -> new  END
 *   new -> old  SERVING    it accepts and reads on every socket it took (or ABORT: it will not serve)
 *   old -> new  ACK        the old process has stopped accepting and reading; it drains, then exits
 * </pre>
 * Either side may send ABORT (a reason) instead of its next frame, or close the connection: the takeover is then
 * off, the old process serves on, the new one exits 1. Every frame type the receiver does not expect at that
 * point is an abort too.
 *
 * <p><b>Why this shape.</b> Each VIP is its own frame, so no frame carries more descriptors than the kernel
 * passes in one message (253), and a VIP's sockets arrive with the description that says what they are.
 * Everything a forwarder hands over is a list of {@link HandoverSection}s (type, version, length-prefixed bytes,
 * descriptors), so flow state (UDP flow entries, the DSR flow table and packet sockets) travels as further
 * sections without a change to the framing; a receiver skips sections it does not know unless they are marked
 * {@link HandoverSection#REQUIRED}. The protocol version changes only when the frames change. The old process
 * stops accepting only after SERVING, so between HELLO and ACK both processes hold every socket and at least one
 * of them accepts on it: the address never goes without a listener and nothing queued is lost.
 *
 * <p>Body layouts (big-endian; str = u16 length + UTF-8; addr = u8 length (4 or 16) + bytes, then u16 port):
 * HELLO u16 min, u16 max, u64 pid, str version. INVENTORY u16 version, u64 pid, u64 generation, u64 start time
 * (ms since the epoch), str version, u32 VIP count. VIP str name, u8 IP protocol (6, 17), u8 mode (0 proxy,
 * 1 dsr), addr, u16 section count, then per section u16 type, u16 version, u16 descriptor count, u32 length,
 * bytes; the frame's descriptors are the sections' in order. ADMIN addr; one descriptor. SERVING u64 pid.
 * ACK, END: empty. ABORT str reason.
 */
public final class TakeoverProtocol {
    /** The protocol version this build writes and reads. */
    public static final int VERSION = 1;
    /** The oldest version this build reads. */
    public static final int MIN_VERSION = 1;

    public static final int HELLO = 1;
    public static final int INVENTORY = 2;
    public static final int VIP = 3;
    public static final int ADMIN = 4;
    public static final int END = 5;
    public static final int SERVING = 6;
    public static final int ACK = 7;
    public static final int ABORT = 8;

    private TakeoverProtocol() {
    }

    static String frameName(int type) {
        return switch (type) {
            case HELLO -> "HELLO";
            case INVENTORY -> "INVENTORY";
            case VIP -> "VIP";
            case ADMIN -> "ADMIN";
            case END -> "END";
            case SERVING -> "SERVING";
            case ACK -> "ACK";
            case ABORT -> "ABORT";
            default -> "frame type " + type;
        };
    }

    record Hello(int minVersion, int maxVersion, long pid, String maglevdVersion) {
        byte[] encode() {
            return write(out -> {
                out.writeShort(minVersion);
                out.writeShort(maxVersion);
                out.writeLong(pid);
                writeString(out, maglevdVersion);
            });
        }

        static Hello decode(byte[] body) throws IOException {
            DataInputStream in = reader(body);
            return new Hello(in.readUnsignedShort(), in.readUnsignedShort(), in.readLong(), readString(in));
        }
    }

    record Inventory(int version, long pid, long generation, long startEpochMillis, String maglevdVersion,
            int vipCount) {
        byte[] encode() {
            return write(out -> {
                out.writeShort(version);
                out.writeLong(pid);
                out.writeLong(generation);
                out.writeLong(startEpochMillis);
                writeString(out, maglevdVersion);
                out.writeInt(vipCount);
            });
        }

        static Inventory decode(byte[] body) throws IOException {
            DataInputStream in = reader(body);
            return new Inventory(in.readUnsignedShort(), in.readLong(), in.readLong(), in.readLong(), readString(in),
                    in.readInt());
        }
    }

    /**
     * A forwarded VIP as the old process serves it.
     *
     * @param ipProtocol 6 (TCP) or 17 (UDP)
     * @param dsr the packet engine (mode dsr) rather than a proxy
     */
    record VipEntry(String name, int ipProtocol, boolean dsr, InetSocketAddress listen, List<HandoverSection> sections) {
        /** The frame's descriptors: every section's, in order. */
        int[] fds() {
            return sections.stream().flatMapToInt(s -> Arrays.stream(s.fds())).toArray();
        }

        byte[] encode() {
            return write(out -> {
                writeString(out, name);
                out.writeByte(ipProtocol);
                out.writeByte(dsr ? 1 : 0);
                writeAddress(out, listen);
                out.writeShort(sections.size());
                for (HandoverSection s : sections) {
                    out.writeShort(s.type());
                    out.writeShort(s.version());
                    out.writeShort(s.fds().length);
                    out.writeInt(s.data().length);
                    out.write(s.data());
                }
            });
        }

        /** Decodes a VIP frame, giving each section its share of {@code fds}. */
        static VipEntry decode(byte[] body, int[] fds) throws IOException {
            DataInputStream in = reader(body);
            String name = readString(in);
            int protocol = in.readUnsignedByte();
            boolean dsr = in.readUnsignedByte() == 1;
            InetSocketAddress listen = readAddress(in);
            int count = in.readUnsignedShort();
            List<HandoverSection> sections = new ArrayList<>(count);
            int used = 0;
            for (int i = 0; i < count; i++) {
                int type = in.readUnsignedShort();
                int version = in.readUnsignedShort();
                int fdCount = in.readUnsignedShort();
                int length = in.readInt();
                if (length < 0 || length > in.available()) {
                    throw new IOException("vip " + name + ": section " + type + " says " + length + " bytes, "
                            + in.available() + " left in the frame");
                }
                if (used + fdCount > fds.length) {
                    throw new IOException("vip " + name + ": sections claim more descriptors than the frame carried ("
                            + fds.length + ")");
                }
                byte[] data = in.readNBytes(length);
                sections.add(new HandoverSection(type, version, data, Arrays.copyOfRange(fds, used, used + fdCount)));
                used += fdCount;
            }
            if (used != fds.length) {
                throw new IOException("vip " + name + ": " + fds.length + " descriptors came, the sections account for "
                        + used);
            }
            return new VipEntry(name, protocol, dsr, listen, List.copyOf(sections));
        }
    }

    static byte[] encodeAddress(InetSocketAddress address) {
        return write(out -> writeAddress(out, address));
    }

    static InetSocketAddress decodeAddress(byte[] body) throws IOException {
        return readAddress(reader(body));
    }

    static byte[] encodeLong(long value) {
        return write(out -> out.writeLong(value));
    }

    static long decodeLong(byte[] body) throws IOException {
        return reader(body).readLong();
    }

    static byte[] encodeString(String value) {
        return write(out -> writeString(out, value));
    }

    static String decodeString(byte[] body) throws IOException {
        return readString(reader(body));
    }

    private interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private static byte[] write(Writer writer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            writer.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // not from a byte array
        }
        return bytes.toByteArray();
    }

    private static DataInputStream reader(byte[] body) {
        return new DataInputStream(new ByteArrayInputStream(body));
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xffff) {
            throw new IllegalArgumentException("string of " + b.length + " bytes in a takeover frame");
        }
        out.writeShort(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int n = in.readUnsignedShort();
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new IOException("frame ends inside a string");
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void writeAddress(DataOutputStream out, InetSocketAddress a) throws IOException {
        byte[] raw = a.getAddress().getAddress();
        out.writeByte(raw.length);
        out.write(raw);
        out.writeShort(a.getPort());
    }

    private static InetSocketAddress readAddress(DataInputStream in) throws IOException {
        int n = in.readUnsignedByte();
        if (n != 4 && n != 16) {
            throw new IOException("address of " + n + " bytes in a takeover frame");
        }
        byte[] raw = in.readNBytes(n);
        if (raw.length != n) {
            throw new IOException("frame ends inside an address");
        }
        return new InetSocketAddress(InetAddress.getByAddress(raw), in.readUnsignedShort());
    }
}
