package io.maglevlb.dataplane.packet;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A small eBPF assembler: named registers and operations, jumps to named labels, and the bytes the kernel loads
 * (struct bpf_insn: opcode, dst/src register nibbles, 16-bit offset, 32-bit immediate, little-endian). Enough
 * for {@link XdpVipProgram}; it checks what it can (labels defined once and used, jump distances) and leaves
 * the rest to the kernel's verifier, whose log {@link io.maglevlb.dataplane.linux.Bpf#loadProgram} returns.
 *
 * <p>Reading order of a program: each call is one instruction (two for {@link #loadMapFd}), e.g.
 * {@code ldxw(R2, R1, 0)} is {@code r2 = *(u32 *)(r1 + 0)} and {@code jumpIf(GT, R3, R4, "pass")} is
 * {@code if r3 > r4 goto pass}.
 */
final class Ebpf {
    /** The eleven registers: R0 return value, R1-R5 arguments (clobbered by calls), R6-R9 kept, R10 frame pointer. */
    enum Reg { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 }

    /** Jump conditions (unsigned unless named signed). */
    enum Cond {
        EQ(0x10), GT(0x20), GE(0x30), SET(0x40), NE(0x50), LT(0xa0), LE(0xb0);

        final int op;

        Cond(int op) {
            this.op = op;
        }
    }

    /** The kernel helpers the XDP program calls (enum bpf_func_id). */
    enum Helper {
        MAP_LOOKUP_ELEM(1), REDIRECT_MAP(51);

        final int id;

        Helper(int id) {
            this.id = id;
        }
    }

    // instruction classes
    private static final int LD = 0x00;
    private static final int LDX = 0x01;
    private static final int ST = 0x02;
    private static final int STX = 0x03;
    private static final int JMP = 0x05;
    private static final int ALU64 = 0x07;
    // sizes and modes
    private static final int W = 0x00;
    private static final int H = 0x08;
    private static final int B = 0x10;
    private static final int DW = 0x18;
    private static final int IMM = 0x00;
    private static final int MEM = 0x60;
    // operand source
    private static final int K = 0x00;
    private static final int X = 0x08;
    // ALU operations
    private static final int ADD = 0x00;
    private static final int AND = 0x50;
    private static final int LSH = 0x60;
    private static final int RSH = 0x70;
    private static final int MOV = 0xb0;
    // jump operations
    private static final int JA = 0x00;
    private static final int CALL = 0x80;
    private static final int EXIT = 0x90;
    /** src register value of an ld_imm64 whose immediate is a map file descriptor. */
    private static final int PSEUDO_MAP_FD = 1;

    private record Insn(int opcode, Reg dst, Reg src, int offset, int imm, String target) {}

    private final List<Insn> insns = new ArrayList<>();
    private final Map<String, Integer> labels = new HashMap<>();

    static Ebpf assembler() {
        return new Ebpf();
    }

    private Ebpf add(int opcode, Reg dst, Reg src, int offset, int imm, String target) {
        insns.add(new Insn(opcode, dst, src, offset, imm, target));
        return this;
    }

    /** Marks the next instruction as {@code name}. */
    Ebpf label(String name) {
        if (labels.putIfAbsent(name, insns.size()) != null) {
            throw new IllegalStateException("label defined twice: " + name);
        }
        return this;
    }

    /** {@code dst = imm} (64-bit, sign-extended). */
    Ebpf mov(Reg dst, int imm) {
        return add(ALU64 | MOV | K, dst, Reg.R0, 0, imm, null);
    }

    /** {@code dst = src}. */
    Ebpf mov(Reg dst, Reg src) {
        return add(ALU64 | MOV | X, dst, src, 0, 0, null);
    }

    /** {@code dst += imm}. */
    Ebpf add(Reg dst, int imm) {
        return add(ALU64 | ADD | K, dst, Reg.R0, 0, imm, null);
    }

    /** {@code dst += src}. */
    Ebpf add(Reg dst, Reg src) {
        return add(ALU64 | ADD | X, dst, src, 0, 0, null);
    }

    /** {@code dst &= imm}. */
    Ebpf and(Reg dst, int imm) {
        return add(ALU64 | AND | K, dst, Reg.R0, 0, imm, null);
    }

    /** {@code dst <<= imm}. */
    Ebpf lsh(Reg dst, int imm) {
        return add(ALU64 | LSH | K, dst, Reg.R0, 0, imm, null);
    }

    /** {@code dst >>= imm} (logical). */
    Ebpf rsh(Reg dst, int imm) {
        return add(ALU64 | RSH | K, dst, Reg.R0, 0, imm, null);
    }

    /** {@code dst = *(u8 *)(src + offset)}. */
    Ebpf ldxb(Reg dst, Reg src, int offset) {
        return add(LDX | MEM | B, dst, src, offset, 0, null);
    }

    /** {@code dst = *(u16 *)(src + offset)} (host order: a network-order field reads byte-swapped). */
    Ebpf ldxh(Reg dst, Reg src, int offset) {
        return add(LDX | MEM | H, dst, src, offset, 0, null);
    }

    /** {@code dst = *(u32 *)(src + offset)}. */
    Ebpf ldxw(Reg dst, Reg src, int offset) {
        return add(LDX | MEM | W, dst, src, offset, 0, null);
    }

    /** {@code *(u32 *)(dst + offset) = src}. */
    Ebpf stxw(Reg dst, int offset, Reg src) {
        return add(STX | MEM | W, dst, src, offset, 0, null);
    }

    /** {@code *(u16 *)(dst + offset) = src}. */
    Ebpf stxh(Reg dst, int offset, Reg src) {
        return add(STX | MEM | H, dst, src, offset, 0, null);
    }

    /** {@code *(u8 *)(dst + offset) = src}. */
    Ebpf stxb(Reg dst, int offset, Reg src) {
        return add(STX | MEM | B, dst, src, offset, 0, null);
    }

    /** {@code *(u64 *)(dst + offset) = imm} (sign-extended). */
    Ebpf stdw(Reg dst, int offset, int imm) {
        return add(ST | MEM | DW, dst, Reg.R0, offset, imm, null);
    }

    /** {@code if dst <cond> imm goto label}. */
    Ebpf jumpIf(Cond cond, Reg dst, int imm, String label) {
        return add(JMP | cond.op | K, dst, Reg.R0, 0, imm, label);
    }

    /** {@code if dst <cond> src goto label}. */
    Ebpf jumpIf(Cond cond, Reg dst, Reg src, String label) {
        return add(JMP | cond.op | X, dst, src, 0, 0, label);
    }

    /** {@code goto label}. */
    Ebpf jump(String label) {
        return add(JMP | JA, Reg.R0, Reg.R0, 0, 0, label);
    }

    /** {@code dst = map} (ld_imm64 with the map's file descriptor; the kernel puts the map's address there). */
    Ebpf loadMapFd(Reg dst, int mapFd) {
        add(LD | IMM | DW, dst, Reg.values()[PSEUDO_MAP_FD], 0, mapFd, null);
        return add(0, Reg.R0, Reg.R0, 0, 0, null); // second half: the upper 32 bits, 0
    }

    /** {@code r0 = helper(r1, ..., r5)}. */
    Ebpf call(Helper helper) {
        return add(JMP | CALL, Reg.R0, Reg.R0, 0, helper.id, null);
    }

    /** {@code return r0}. */
    Ebpf exit() {
        return add(JMP | EXIT, Reg.R0, Reg.R0, 0, 0, null);
    }

    /** Instructions so far (an ld_imm64 counts two). */
    int length() {
        return insns.size();
    }

    /** The program as the kernel reads it: 8 bytes per instruction, little-endian. */
    byte[] build() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(insns.size() * 8);
        for (String used : insns.stream().map(Insn::target).filter(java.util.Objects::nonNull).toList()) {
            if (!labels.containsKey(used)) {
                throw new IllegalStateException("jump to undefined label: " + used);
            }
        }
        for (int i = 0; i < insns.size(); i++) {
            Insn in = insns.get(i);
            int offset = in.offset();
            if (in.target() != null) {
                int distance = labels.get(in.target()) - i - 1;
                if (distance < 0) {
                    throw new IllegalStateException("backward jump to " + in.target() + " (eBPF programs here only jump forward)");
                }
                if (distance > Short.MAX_VALUE) {
                    throw new IllegalStateException("jump to " + in.target() + " too far: " + distance);
                }
                offset = distance;
            }
            out.write(in.opcode());
            out.write((in.src().ordinal() << 4) | in.dst().ordinal());
            out.write(offset & 0xff);
            out.write((offset >>> 8) & 0xff);
            int imm = in.imm();
            out.write(imm & 0xff);
            out.write((imm >>> 8) & 0xff);
            out.write((imm >>> 16) & 0xff);
            out.write((imm >>> 24) & 0xff);
        }
        return out.toByteArray();
    }
}
