package io.maglevlb.dataplane.packet;

/**
 * Runs a classic BPF program over a frame the way the kernel does, for the instructions {@link BpfProgram}
 * emits (loads: abs, ind, imm, mem, msh; st; alu mul/and/lsh/rsh with k, add/xor with x; tax, txa; ja, jeq,
 * jset; ret k, ret a). A load beyond the packet ends the program with 0, as in the kernel.
 */
final class BpfInterpreter {
    private BpfInterpreter() {}

    static int run(BpfProgram p, byte[] frame) {
        int a = 0;
        int x = 0;
        int[] mem = new int[16];
        int pc = 0;
        for (int steps = 0; steps < 4096; steps++) {
            int code = p.code(pc);
            int k = p.k(pc);
            switch (code) {
                case 0x20, 0x28, 0x30, 0x40, 0x48, 0x50 -> {
                    int size = (code & 0x18) == 0x00 ? 4 : (code & 0x18) == 0x08 ? 2 : 1;
                    int offset = ((code & 0xe0) == 0x40 ? x : 0) + k;
                    if (offset < 0 || offset + size > frame.length) {
                        return 0;
                    }
                    a = 0;
                    for (int i = 0; i < size; i++) {
                        a = (a << 8) | (frame[offset + i] & 0xff);
                    }
                    pc++;
                }
                case 0xb1 -> {
                    if (k >= frame.length) {
                        return 0;
                    }
                    x = (frame[k] & 0xf) << 2;
                    pc++;
                }
                case 0x00 -> {
                    a = k;
                    pc++;
                }
                case 0x60 -> {
                    a = mem[k];
                    pc++;
                }
                case 0x61 -> {
                    x = mem[k];
                    pc++;
                }
                case 0x02 -> {
                    mem[k] = a;
                    pc++;
                }
                case 0x24 -> {
                    a *= k;
                    pc++;
                }
                case 0x54 -> {
                    a &= k;
                    pc++;
                }
                case 0x64 -> {
                    a <<= k;
                    pc++;
                }
                case 0x74 -> {
                    a >>>= k;
                    pc++;
                }
                case 0x0c -> {
                    a += x;
                    pc++;
                }
                case 0xac -> {
                    a ^= x;
                    pc++;
                }
                case 0x07 -> {
                    x = a;
                    pc++;
                }
                case 0x87 -> {
                    a = x;
                    pc++;
                }
                case 0x05 -> pc += 1 + k;
                case 0x16 -> {
                    return a;
                }
                case 0x15 -> pc += 1 + (a == k ? p.jt(pc) : p.jf(pc));
                case 0x45 -> pc += 1 + ((a & k) != 0 ? p.jt(pc) : p.jf(pc));
                case 0x06 -> {
                    return k;
                }
                default -> throw new IllegalStateException("unexpected opcode 0x" + Integer.toHexString(code));
            }
        }
        throw new IllegalStateException("program did not return");
    }
}
