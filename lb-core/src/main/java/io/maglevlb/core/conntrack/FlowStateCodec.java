package io.maglevlb.core.conntrack;

import io.maglevlb.core.snapshot.BackendState;
import io.maglevlb.core.snapshot.ForwardingSnapshot;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32;

/**
 * The bytes a VIP's tracked flows travel in from one process to the next (a takeover, {@code run --takeover}):
 * the flows of each forwarding thread, and the backends they are on by name and address, because each process
 * numbers its backends itself. Pure: bytes in, bytes out; the takeover protocol carries them as one section per
 * VIP.
 *
 * <pre>
 * magic "MLFS" | version u16 (= 1) | flags u16 (= 0)
 * backends u32, each: id u32 | name length u16, name UTF-8 | address length u8 (4 or 16), address | port u16
 * groups u32 (one per forwarding thread, in the order of its socket), each: flows u32, each:
 *     protocol u8 | source port u16 | destination port u16 | source hi, lo i64 | destination hi, lo i64
 *     | backend id u32 (one of the backends above) | idle ns i64 | age ns i64 (idle <= age)
 * CRC-32 of everything before it, u32
 * </pre>
 *
 * Big-endian. {@link #decode} checks every length against the bytes present before it allocates, takes at most
 * the number of flows its caller can track, and rejects anything else (another version, unknown flags, a backend
 * a flow does not name, trailing bytes, a checksum that does not match) with a message that says what and where:
 * a takeover that cannot read the state aborts, and the old process keeps serving.
 */
public final class FlowStateCodec {
    /** The format version this code writes and reads. */
    public static final int VERSION = 1;
    /** Forwarding threads of one VIP at most. */
    public static final int MAX_GROUPS = 4096;
    /** Bytes of one flow record. */
    public static final int FLOW_BYTES = 1 + 2 + 2 + 8 * 4 + 4 + 8 + 8;
    private static final int MAGIC = 0x4d4c4653; // "MLFS"
    private static final int HEADER_BYTES = 8;
    private static final int MAX_NAME_BYTES = 1024;

    private FlowStateCodec() {}

    /**
     * One VIP's flows as read back: per forwarding thread ({@link #groups()}), with the backends they are on.
     *
     * @param groups the flows of each forwarding thread of the exporting process, in its socket order
     * @param backends exporter's backend id -> name and address
     */
    public record Decoded(List<FlowRecords> groups, Map<Integer, Backend> backends) {
        public Decoded {
            groups = List.copyOf(groups);
            backends = Map.copyOf(backends);
        }

        /** Flows over all groups. */
        public int flows() {
            int n = 0;
            for (FlowRecords g : groups) {
                n += g.size();
            }
            return n;
        }

        /**
         * exporter id -> this process's id for {@link FlowTable#importFrom}: a backend with the same name and
         * address in {@code snapshot}, else {@link ForwardingSnapshot#NO_BACKEND} (its flows are then placed by
         * the table on their next packet). Health is not asked here: the flow table asks it per packet.
         */
        public int[] backendMap(ForwardingSnapshot snapshot) {
            int limit = 0;
            for (int id : backends.keySet()) {
                limit = Math.max(limit, id + 1);
            }
            int[] map = new int[limit];
            for (BackendState b : snapshot.backends()) {
                for (Map.Entry<Integer, Backend> e : backends.entrySet()) {
                    if (e.getValue().name().equals(b.name()) && e.getValue().address().equals(b.address())) {
                        map[e.getKey()] = b.id();
                    }
                }
            }
            return map;
        }
    }

    /** A backend as the exporting process knew it. */
    public record Backend(String name, InetSocketAddress address) {
        public Backend {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(address, "address");
        }
    }

    /**
     * Encodes {@code groups} (one per forwarding thread, in socket order) with every backend of {@code snapshot}
     * their flows are on. A flow on a backend the snapshot does not have is left out: it has no name to travel by.
     */
    public static byte[] encode(List<FlowRecords> groups, ForwardingSnapshot snapshot) {
        if (groups.size() > MAX_GROUPS) {
            throw new IllegalArgumentException("at most " + MAX_GROUPS + " groups, was " + groups.size());
        }
        Map<Integer, BackendState> used = new HashMap<>();
        int flows = 0;
        for (FlowRecords g : groups) {
            for (int i = 0; i < g.size(); i++) {
                BackendState b = snapshot == null ? null : snapshot.backend(g.backendId(i));
                if (b != null) {
                    used.put(b.id(), b);
                    flows++;
                }
            }
        }
        List<byte[]> names = new ArrayList<>();
        int backendBytes = 0;
        for (BackendState b : used.values()) {
            byte[] name = b.name().getBytes(StandardCharsets.UTF_8);
            if (name.length > MAX_NAME_BYTES) {
                throw new IllegalArgumentException("backend name longer than " + MAX_NAME_BYTES + " bytes: " + b.name());
            }
            names.add(name);
            backendBytes += 4 + 2 + name.length + 1 + b.address().getAddress().getAddress().length + 2;
        }
        long total = HEADER_BYTES + 4L + backendBytes + 4 + 4L * groups.size() + (long) FLOW_BYTES * flows + 4;
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("flow state of " + flows + " flows is too large to encode");
        }
        ByteBuffer out = ByteBuffer.allocate((int) total);
        out.putInt(MAGIC).putShort((short) VERSION).putShort((short) 0);
        out.putInt(used.size());
        int k = 0;
        for (BackendState b : used.values()) {
            byte[] name = names.get(k++);
            byte[] address = b.address().getAddress().getAddress();
            out.putInt(b.id()).putShort((short) name.length).put(name).put((byte) address.length).put(address)
                    .putShort((short) b.address().getPort());
        }
        out.putInt(groups.size());
        for (FlowRecords g : groups) {
            int start = out.position();
            out.putInt(0);
            int n = 0;
            for (int i = 0; i < g.size(); i++) {
                if (!used.containsKey(g.backendId(i))) {
                    continue;
                }
                out.put((byte) g.protocol(i)).putShort((short) g.srcPort(i)).putShort((short) g.dstPort(i))
                        .putLong(g.srcHi(i)).putLong(g.srcLo(i)).putLong(g.dstHi(i)).putLong(g.dstLo(i))
                        .putInt(g.backendId(i)).putLong(g.idleNs(i)).putLong(g.ageNs(i));
                n++;
            }
            out.putInt(start, n);
        }
        CRC32 crc = new CRC32();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        return out.array();
    }

    /**
     * Reads what {@link #encode} wrote.
     *
     * @param maxFlows flows accepted at most over all groups (what the reader can track): more is an error, so a
     *     section can never make the reader allocate more than it would track
     * @throws FlowStateException when the bytes are not flow state of this version, are cut short, carry more
     *     than {@code maxFlows} flows, or are inconsistent; the message says what and at which byte
     */
    public static Decoded decode(byte[] bytes, int maxFlows) throws FlowStateException {
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.length < HEADER_BYTES + 4) {
            throw new FlowStateException("flow state is " + bytes.length + " bytes, shorter than its header and "
                    + "checksum (" + (HEADER_BYTES + 4) + ")");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        int magic = in.getInt();
        if (magic != MAGIC) {
            throw new FlowStateException(String.format("not flow state: magic 0x%08x, expected 0x%08x (\"MLFS\")",
                    magic, MAGIC));
        }
        int version = in.getShort() & 0xffff;
        if (version != VERSION) {
            throw new FlowStateException("flow state version " + version + " is not supported (this maglevd reads "
                    + "version " + VERSION + ")");
        }
        int flags = in.getShort() & 0xffff;
        if (flags != 0) {
            throw new FlowStateException(String.format("flow state has unknown flags 0x%04x", flags));
        }
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - 4);
        int stored = ByteBuffer.wrap(bytes, bytes.length - 4, 4).getInt();
        if (stored != (int) crc.getValue()) {
            throw new FlowStateException(String.format("flow state checksum mismatch (stored 0x%08x, computed "
                    + "0x%08x): the %d bytes were damaged or cut short", stored, (int) crc.getValue(), bytes.length));
        }
        ByteBuffer body = ByteBuffer.wrap(bytes, 0, bytes.length - 4);
        body.position(HEADER_BYTES);
        try {
            Map<Integer, Backend> backends = readBackends(body);
            int groupCount = count(body, "groups", MAX_GROUPS, 4);
            List<FlowRecords> groups = new ArrayList<>(groupCount);
            long total = 0;
            for (int g = 0; g < groupCount; g++) {
                int flows = count(body, "flows of group " + g, Integer.MAX_VALUE, FLOW_BYTES);
                total += flows;
                if (total > maxFlows) {
                    throw new FlowStateException("flow state carries more than " + maxFlows + " flows (the flow tables'"
                            + " capacity here) at byte " + body.position());
                }
                FlowRecords records = new FlowRecords();
                for (int i = 0; i < flows; i++) {
                    int at = body.position();
                    int protocol = body.get() & 0xff;
                    int srcPort = body.getShort() & 0xffff;
                    int dstPort = body.getShort() & 0xffff;
                    long srcHi = body.getLong();
                    long srcLo = body.getLong();
                    long dstHi = body.getLong();
                    long dstLo = body.getLong();
                    int backend = body.getInt();
                    long idleNs = body.getLong();
                    long ageNs = body.getLong();
                    if (!backends.containsKey(backend)) {
                        throw new FlowStateException("flow at byte " + at + " is on backend id " + backend
                                + ", which the flow state does not list");
                    }
                    if (idleNs < 0 || ageNs < idleNs) {
                        throw new FlowStateException("flow at byte " + at + " has idle " + idleNs + " ns and age "
                                + ageNs + " ns (need 0 <= idle <= age)");
                    }
                    records.add(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, backend, idleNs, ageNs);
                }
                groups.add(records);
            }
            if (body.hasRemaining()) {
                throw new FlowStateException("flow state has " + body.remaining() + " bytes after its last flow");
            }
            return new Decoded(groups, backends);
        } catch (BufferUnderflowException e) {
            throw new FlowStateException("flow state cut short at byte " + body.position() + " of " + bytes.length);
        }
    }

    private static Map<Integer, Backend> readBackends(ByteBuffer in) throws FlowStateException {
        int count = count(in, "backends", FlowTable.MAX_BACKEND_ID, 4 + 2 + 1 + 4 + 2);
        Map<Integer, Backend> backends = new HashMap<>();
        for (int i = 0; i < count; i++) {
            int at = in.position();
            int id = in.getInt();
            if (id <= 0 || id > FlowTable.MAX_BACKEND_ID) {
                throw new FlowStateException("backend at byte " + at + " has id " + id + " (need 1.."
                        + FlowTable.MAX_BACKEND_ID + ")");
            }
            int nameLength = in.getShort() & 0xffff;
            if (nameLength > MAX_NAME_BYTES || nameLength > in.remaining()) {
                throw new FlowStateException("backend at byte " + at + " has a name of " + nameLength + " bytes ("
                        + Math.min(MAX_NAME_BYTES, in.remaining()) + " at most here)");
            }
            byte[] name = new byte[nameLength];
            in.get(name);
            int addressLength = in.get() & 0xff;
            if (addressLength != 4 && addressLength != 16) {
                throw new FlowStateException("backend at byte " + at + " has an address of " + addressLength
                        + " bytes (need 4 or 16)");
            }
            byte[] address = new byte[addressLength];
            in.get(address);
            int port = in.getShort() & 0xffff;
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(name)).toString();
            } catch (CharacterCodingException e) {
                throw new FlowStateException("backend at byte " + at + " has a name that is not UTF-8");
            }
            InetSocketAddress socketAddress;
            try {
                socketAddress = new InetSocketAddress(InetAddress.getByAddress(address), port);
            } catch (UnknownHostException e) {
                throw new FlowStateException("backend at byte " + at + ": " + e.getMessage()); // not for 4/16 bytes
            }
            if (backends.put(id, new Backend(text, socketAddress)) != null) {
                throw new FlowStateException("backend id " + id + " is listed twice (second at byte " + at + ")");
            }
        }
        return backends;
    }

    /** Reads a u32 count and checks that {@code count * minBytes} bytes can still follow. */
    private static int count(ByteBuffer in, String what, int max, int minBytes) throws FlowStateException {
        int at = in.position();
        long n = Integer.toUnsignedLong(in.getInt());
        if (n > max) {
            throw new FlowStateException("flow state lists " + n + " " + what + " at byte " + at + " (" + max
                    + " at most)");
        }
        if (n * minBytes > in.remaining()) {
            throw new FlowStateException("flow state lists " + n + " " + what + " at byte " + at + " but only "
                    + in.remaining() + " bytes follow (cut short)");
        }
        return (int) n;
    }
}
