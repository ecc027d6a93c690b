package io.maglevlb.dataplane.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The {@code bpf(2)} system call (there is no libc wrapper: it goes through {@code syscall(321, ...)}) for the
 * commands the XDP path needs: create and update maps, load a program with the verifier's log, run a program
 * on a test input ({@code BPF_PROG_TEST_RUN}), and read the name and maps of an attached program.
 *
 * <p>One instance per thread at a time (errno is captured per instance, as in {@link LinuxNative}); the control
 * side owns it. Its scratch memory ({@code union bpf_attr}, info buffers) lives until {@link #close()}.
 */
public final class Bpf implements AutoCloseable {
    /** syscall number of bpf on x86_64 (aarch64: 280). */
    private static final long SYS_BPF = "aarch64".equals(System.getProperty("os.arch")) ? 280 : 321;

    // commands (enum bpf_cmd)
    private static final int BPF_MAP_CREATE = 0;
    private static final int BPF_MAP_LOOKUP_ELEM = 1;
    private static final int BPF_MAP_UPDATE_ELEM = 2;
    private static final int BPF_MAP_DELETE_ELEM = 3;
    private static final int BPF_MAP_GET_NEXT_KEY = 4;
    private static final int BPF_PROG_LOAD = 5;
    private static final int BPF_PROG_TEST_RUN = 10;
    private static final int BPF_PROG_GET_FD_BY_ID = 13;
    private static final int BPF_OBJ_GET_INFO_BY_FD = 15;

    // map and program types
    public static final int MAP_TYPE_HASH = 1;
    public static final int MAP_TYPE_ARRAY = 2;
    public static final int MAP_TYPE_XSKMAP = 17;
    public static final int PROG_TYPE_XDP = 6;

    /** Update flag: create or replace. */
    public static final long BPF_ANY = 0;
    /** Longest object name the kernel keeps (BPF_OBJ_NAME_LEN - 1 bytes and a NUL). */
    public static final int OBJ_NAME_LEN = 16;

    private static final int ATTR_SIZE = 128;
    private static final int LOG_SIZE = 1 << 20;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));

    private final Arena arena = Arena.ofShared();
    private final MemorySegment callState = arena.allocate(CAPTURE_LAYOUT);
    private final MemorySegment attr = arena.allocate(ATTR_SIZE, 8);
    private MemorySegment log;

    /** errno of the last failed call. */
    public int errno() {
        return (int) ERRNO.get(callState, 0L);
    }

    /** Scratch memory owned by this instance (freed by {@link #close()}). */
    public MemorySegment allocate(long bytes) {
        return arena.allocate(Math.max(1, bytes), 8);
    }

    private long call(int command) {
        try {
            return (long) SYSCALL.invokeExact(callState, SYS_BPF, command, attr, ATTR_SIZE);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * BPF_MAP_CREATE. Returns the map's file descriptor (the map lives while a descriptor or a program holds it),
     * or -1 with {@link #errno()}.
     */
    public int createMap(int type, int keySize, int valueSize, int maxEntries, String name) {
        attr.fill((byte) 0);
        attr.set(JAVA_INT, 0, type);
        attr.set(JAVA_INT, 4, keySize);
        attr.set(JAVA_INT, 8, valueSize);
        attr.set(JAVA_INT, 12, maxEntries);
        putName(attr, 28, name);
        return (int) call(BPF_MAP_CREATE);
    }

    /** BPF_MAP_UPDATE_ELEM; 0 or -1 with {@link #errno()}. */
    public int updateElement(int mapFd, MemorySegment key, MemorySegment value, long flags) {
        elementAttr(mapFd, key, value);
        attr.set(JAVA_LONG, 24, flags);
        return (int) call(BPF_MAP_UPDATE_ELEM);
    }

    /** BPF_MAP_LOOKUP_ELEM into {@code value}; 0, or -1 with errno ENOENT when there is no such key. */
    public int lookupElement(int mapFd, MemorySegment key, MemorySegment value) {
        elementAttr(mapFd, key, value);
        return (int) call(BPF_MAP_LOOKUP_ELEM);
    }

    /** BPF_MAP_DELETE_ELEM; 0, or -1 with errno ENOENT when there is no such key. */
    public int deleteElement(int mapFd, MemorySegment key) {
        elementAttr(mapFd, key, MemorySegment.NULL);
        return (int) call(BPF_MAP_DELETE_ELEM);
    }

    /** BPF_MAP_GET_NEXT_KEY: the key after {@code key} (the first key when it is NULL) into {@code next}. */
    public int nextKey(int mapFd, MemorySegment key, MemorySegment next) {
        elementAttr(mapFd, key, next);
        return (int) call(BPF_MAP_GET_NEXT_KEY);
    }

    private void elementAttr(int mapFd, MemorySegment key, MemorySegment value) {
        attr.fill((byte) 0);
        attr.set(JAVA_INT, 0, mapFd);
        attr.set(JAVA_LONG, 8, key.address());
        attr.set(JAVA_LONG, 16, value.address());
    }

    /** The outcome of {@link #loadProgram}: a file descriptor, or -1 with the errno and the verifier's log. */
    public record Loaded(int fd, int errno, String verifierLog) {}

    /**
     * BPF_PROG_LOAD of {@code instructions} (8 bytes each, as the kernel reads them) under license "GPL" (the
     * helpers an XDP program calls need no GPL, but a declared license costs nothing). On failure the
     * verifier's log says which instruction it refused and why.
     */
    public Loaded loadProgram(int type, byte[] instructions, String name) {
        MemorySegment insns = arena.allocate(instructions.length, 8);
        MemorySegment.copy(MemorySegment.ofArray(instructions), 0, insns, 0, instructions.length);
        MemorySegment license = arena.allocateFrom("GPL");
        if (log == null) {
            log = arena.allocate(LOG_SIZE);
        }
        for (int level = 0; level <= 1; level++) {
            attr.fill((byte) 0);
            attr.set(JAVA_INT, 0, type);
            attr.set(JAVA_INT, 4, instructions.length / 8);
            attr.set(JAVA_LONG, 8, insns.address());
            attr.set(JAVA_LONG, 16, license.address());
            if (level > 0) { // a second attempt only to get the verifier's reasons
                log.set(JAVA_BYTE, 0, (byte) 0);
                attr.set(JAVA_INT, 24, 1);
                attr.set(JAVA_INT, 28, LOG_SIZE);
                attr.set(JAVA_LONG, 32, log.address());
            }
            putName(attr, 48, name);
            int fd = (int) call(BPF_PROG_LOAD);
            if (fd >= 0) {
                return new Loaded(fd, 0, "");
            }
            int errno = errno();
            if (level == 1 || errno == LinuxNative.EPERM) {
                String text = level == 1 ? log.getString(0) : "";
                return new Loaded(-1, errno, tail(text, 4000));
            }
        }
        throw new AssertionError("unreachable");
    }

    private static String tail(String text, int max) {
        return text.length() <= max ? text : "..." + text.substring(text.length() - max);
    }

    /** The result of one {@link #testRun}: the program's return value and the (possibly changed) packet. */
    public record TestRun(int returnValue, byte[] packetOut) {}

    /**
     * BPF_PROG_TEST_RUN of an XDP program on {@code packet}, once, with {@code struct xdp_md} fields
     * {@code ingressIfindex} and {@code rxQueue} (0, 0: no device). Returns null with {@link #errno()} set on failure.
     */
    public TestRun testRunXdp(int progFd, byte[] packet, int ingressIfindex, int rxQueue) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment in = call.allocate(Math.max(1, packet.length), 8);
            MemorySegment.copy(MemorySegment.ofArray(packet), 0, in, 0, packet.length);
            int outSize = packet.length + 512;
            MemorySegment out = call.allocate(outSize, 8);
            MemorySegment ctx = call.allocate(24, 8); // struct xdp_md: data 0, data_end = the packet's size
            ctx.set(JAVA_INT, 4, packet.length);
            ctx.set(JAVA_INT, 12, ingressIfindex);
            ctx.set(JAVA_INT, 16, rxQueue);
            attr.fill((byte) 0);
            attr.set(JAVA_INT, 0, progFd);
            attr.set(JAVA_INT, 8, packet.length);
            attr.set(JAVA_INT, 12, outSize);
            attr.set(JAVA_LONG, 16, in.address());
            attr.set(JAVA_LONG, 24, out.address());
            attr.set(JAVA_INT, 32, 1);
            attr.set(JAVA_INT, 40, 24);
            attr.set(JAVA_LONG, 48, ctx.address());
            if (call(BPF_PROG_TEST_RUN) < 0) {
                return null;
            }
            int size = attr.get(JAVA_INT, 12);
            return new TestRun(attr.get(JAVA_INT, 4), out.asSlice(0, Math.min(size, outSize)).toArray(JAVA_BYTE));
        }
    }

    /** BPF_PROG_GET_FD_BY_ID: a descriptor for the loaded program with that id, or -1 (ENOENT: gone). */
    public int programById(int id) {
        attr.fill((byte) 0);
        attr.set(JAVA_INT, 0, id);
        return (int) call(BPF_PROG_GET_FD_BY_ID);
    }

    /** What {@link #programInfo} reads of {@code struct bpf_prog_info}. */
    public record ProgramInfo(int type, int id, String name, int mapCount) {}

    /** BPF_OBJ_GET_INFO_BY_FD of a program; null with {@link #errno()} on failure. */
    public ProgramInfo programInfo(int progFd) {
        MemorySegment info = arena.allocate(256, 8);
        attr.fill((byte) 0);
        attr.set(JAVA_INT, 0, progFd);
        attr.set(JAVA_INT, 4, (int) info.byteSize());
        attr.set(JAVA_LONG, 8, info.address());
        if (call(BPF_OBJ_GET_INFO_BY_FD) < 0) {
            return null;
        }
        byte[] name = info.asSlice(64, OBJ_NAME_LEN).toArray(JAVA_BYTE);
        int end = 0;
        while (end < name.length && name[end] != 0) {
            end++;
        }
        return new ProgramInfo(info.get(JAVA_INT, 0), info.get(JAVA_INT, 4),
                new String(name, 0, end, StandardCharsets.US_ASCII), info.get(JAVA_INT, 52));
    }

    private static void putName(MemorySegment m, long offset, String name) {
        byte[] b = name.getBytes(StandardCharsets.US_ASCII);
        if (b.length >= OBJ_NAME_LEN) {
            throw new IllegalArgumentException("bpf object names have at most 15 characters: " + name);
        }
        for (byte c : b) {
            if (!(Character.isLetterOrDigit(c) || c == '_' || c == '.')) {
                throw new IllegalArgumentException("bpf object names allow [A-Za-z0-9_.]: " + name);
            }
        }
        MemorySegment.copy(MemorySegment.ofArray(b), 0, m, offset, b.length);
    }

    @Override
    public void close() {
        arena.close();
    }
}
