package io.maglevlb.dataplane.packet;

/**
 * Runs a classic BPF program over a frame the way the kernel's socket filter does, for the instructions
 * {@link BpfProgram} emits (ld/ldh/ldb abs and ind, ldxb msh, jeq, jset, ret k). A load beyond the frame ends
 * the program with 0 (drop), as in the kernel.
 */
final class BpfInterpreter {
    private BpfInterpreter() {}

    static int run(BpfProgram p, byte[] frame) {
        int a = 0;
        int x = 0;
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
