package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A classic BPF program (struct sock_filter[]) as attached with SO_ATTACH_FILTER, with a tiny assembler whose
 * jumps name labels instead of counting instructions. Immutable once {@linkplain Assembler#build() built}.
 */
public final class BpfProgram {
    // Instruction classes, sizes, modes and operations (linux/bpf_common.h).
    public static final int LD = 0x00;
    public static final int LDX = 0x01;
    public static final int ST = 0x02;
    public static final int ALU = 0x04;
    public static final int JMP = 0x05;
    public static final int RET = 0x06;
    public static final int MISC = 0x07;
    public static final int IMM = 0x00;
    public static final int MEM = 0x60;
    public static final int JA = 0x00;
    public static final int X = 0x08;
    public static final int A_SRC = 0x10;
    public static final int ADD = 0x00;
    public static final int MUL = 0x20;
    public static final int AND = 0x50;
    public static final int LSH = 0x60;
    public static final int RSH = 0x70;
    public static final int XOR = 0xa0;
    public static final int TAX = 0x00;
    public static final int TXA = 0x80;
    public static final int W = 0x00;
    public static final int H = 0x08;
    public static final int B = 0x10;
    public static final int ABS = 0x20;
    public static final int IND = 0x40;
    public static final int MSH = 0xa0;
    public static final int JEQ = 0x10;
    public static final int JSET = 0x40;
    public static final int K = 0x00;

    private final short[] code;
    private final byte[] jt;
    private final byte[] jf;
    private final int[] k;

    private BpfProgram(short[] code, byte[] jt, byte[] jf, int[] k) {
        this.code = code;
        this.jt = jt;
        this.jf = jf;
        this.k = k;
    }

    public int length() {
        return code.length;
    }

    public int code(int i) {
        return code[i] & 0xffff;
    }

    public int jt(int i) {
        return jt[i] & 0xff;
    }

    public int jf(int i) {
        return jf[i] & 0xff;
    }

    public int k(int i) {
        return k[i];
    }

    /**
     * Writes struct sock_fprog (and the instructions it points to) into memory from {@code sys}: the caller's arena,
     * so the copy lives as long as the caller's {@link LinuxNative} (the kernel copies it at setsockopt).
     */
    MemorySegment toSockFprog(LinuxNative sys) {
        MemorySegment insns = sys.allocate(8L * code.length);
        for (int i = 0; i < code.length; i++) {
            long o = 8L * i;
            insns.set(ValueLayout.JAVA_SHORT, o, code[i]);
            insns.set(ValueLayout.JAVA_BYTE, o + 2, jt[i]);
            insns.set(ValueLayout.JAVA_BYTE, o + 3, jf[i]);
            insns.set(ValueLayout.JAVA_INT, o + 4, k[i]);
        }
        MemorySegment prog = sys.allocate(16);
        prog.set(ValueLayout.JAVA_SHORT, 0, (short) code.length);
        prog.set(ValueLayout.ADDRESS, 8, insns);
        return prog;
    }

    /** One instruction per line, in tcpdump -d style (for logs and test failures). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < code.length; i++) {
            sb.append(String.format("(%03d) code=0x%02x jt=%d jf=%d k=0x%x%n", i, code(i), jt(i), jf(i), k(i)));
        }
        return sb.toString();
    }

    public static Assembler assembler() {
        return new Assembler();
    }

    /** Builds a program; jump targets are labels placed with {@link #label(String)}, resolved by {@link #build()}. */
    public static final class Assembler {
        private record Insn(int code, String trueLabel, String falseLabel, int k) {}

        private final List<Insn> insns = new ArrayList<>();
        private final Map<String, Integer> labels = new HashMap<>();

        /** Places {@code name} at the next instruction. */
        public Assembler label(String name) {
            if (labels.putIfAbsent(name, insns.size()) != null) {
                throw new IllegalArgumentException("label placed twice: " + name);
            }
            return this;
        }

        /** A := the 32-bit word at packet offset {@code offset}. */
        public Assembler loadWord(int offset) {
            return add(LD | W | ABS, null, null, offset);
        }

        /** A := the 16-bit value at packet offset {@code offset}. */
        public Assembler loadHalf(int offset) {
            return add(LD | H | ABS, null, null, offset);
        }

        /** A := the byte at packet offset {@code offset}. */
        public Assembler loadByte(int offset) {
            return add(LD | B | ABS, null, null, offset);
        }

        /** A := the 16-bit value at packet offset X + {@code offset}. */
        public Assembler loadHalfIndexed(int offset) {
            return add(LD | H | IND, null, null, offset);
        }

        /** A := the byte at packet offset X + {@code offset}. */
        public Assembler loadByteIndexed(int offset) {
            return add(LD | B | IND, null, null, offset);
        }

        /** X := 4 * (packet[offset] &amp; 0xf): the IPv4 header length from its first byte. */
        public Assembler loadIpv4HeaderLengthIntoX(int offset) {
            return add(LDX | B | MSH, null, null, offset);
        }

        /** A := {@code value}. */
        public Assembler loadConstant(int value) {
            return add(LD | W | IMM, null, null, value);
        }

        /** A := the 32-bit word at packet offset X + {@code offset}. */
        public Assembler loadWordIndexed(int offset) {
            return add(LD | W | IND, null, null, offset);
        }

        /** A := scratch memory word {@code slot} (0..15). */
        public Assembler loadScratch(int slot) {
            return add(LD | MEM, null, null, slot);
        }

        /** X := scratch memory word {@code slot} (0..15). */
        public Assembler loadScratchIntoX(int slot) {
            return add(LDX | MEM, null, null, slot);
        }

        /** Scratch memory word {@code slot} (0..15) := A. */
        public Assembler store(int slot) {
            return add(ST, null, null, slot);
        }

        public Assembler multiply(int value) {
            return add(ALU | MUL | K, null, null, value);
        }

        public Assembler and(int value) {
            return add(ALU | AND | K, null, null, value);
        }

        public Assembler shiftLeft(int bits) {
            return add(ALU | LSH | K, null, null, bits);
        }

        public Assembler shiftRight(int bits) {
            return add(ALU | RSH | K, null, null, bits);
        }

        /** A := A + X. */
        public Assembler addX() {
            return add(ALU | ADD | X, null, null, 0);
        }

        /** A := A ^ X. */
        public Assembler xorX() {
            return add(ALU | XOR | X, null, null, 0);
        }

        /** X := A. */
        public Assembler copyAToX() {
            return add(MISC | TAX, null, null, 0);
        }

        /** A := X. */
        public Assembler copyXToA() {
            return add(MISC | TXA, null, null, 0);
        }

        /** Unconditional jump to {@code label}. */
        public Assembler jump(String label) {
            return add(JMP | JA, label, null, 0);
        }

        /** Return A. */
        public Assembler returnA() {
            return add(RET | A_SRC, null, null, 0);
        }

        /** If A == value go to {@code ifTrue} else {@code ifFalse} (null = the next instruction). */
        public Assembler jumpIfEqual(int value, String ifTrue, String ifFalse) {
            return add(JMP | JEQ | K, ifTrue, ifFalse, value);
        }

        /** If A &amp; bits != 0 go to {@code ifTrue} else {@code ifFalse} (null = the next instruction). */
        public Assembler jumpIfAnySet(int bits, String ifTrue, String ifFalse) {
            return add(JMP | JSET | K, ifTrue, ifFalse, bits);
        }

        /** Accept {@code snapLength} bytes of the packet (0 = drop it). */
        public Assembler ret(int snapLength) {
            return add(RET | K, null, null, snapLength);
        }

        private Assembler add(int code, String t, String f, int k) {
            insns.add(new Insn(code, t, f, k));
            return this;
        }

        public BpfProgram build() {
            int n = insns.size();
            if (n == 0 || n > 4096) {
                throw new IllegalStateException("a classic BPF program has 1..4096 instructions, this has " + n);
            }
            short[] code = new short[n];
            byte[] jt = new byte[n];
            byte[] jf = new byte[n];
            int[] k = new int[n];
            for (int i = 0; i < n; i++) {
                Insn insn = insns.get(i);
                code[i] = (short) insn.code();
                k[i] = insn.k();
                if (insn.code() == (JMP | JA)) {
                    k[i] = offset(i, insn.trueLabel()) & 0xff;
                } else if ((insn.code() & 0x07) == JMP) {
                    jt[i] = offset(i, insn.trueLabel());
                    jf[i] = offset(i, insn.falseLabel());
                }
            }
            if ((code[n - 1] & 0x07) != RET) {
                throw new IllegalStateException("the last instruction must be a return");
            }
            return new BpfProgram(code, jt, jf, k);
        }

        private byte offset(int from, String label) {
            if (label == null) {
                return 0;
            }
            Integer target = labels.get(label);
            if (target == null) {
                throw new IllegalStateException("undefined label " + label);
            }
            int delta = target - from - 1;
            if (delta < 0 || delta > 255) {
                throw new IllegalStateException("jump to " + label + " from " + from + " is out of range: " + delta);
            }
            return (byte) delta;
        }
    }
}
