package io.maglevlb.core.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.maglevlb.core.maglev.MaglevBackend;
import io.maglevlb.core.maglev.MaglevTable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntToLongFunction;
import org.junit.jupiter.api.Test;

class FlowHashTest {
    private static final int TCP = 6;
    private static final int UDP = 17;
    private static final int BUCKETS = 64;
    /**
     * Chi-square bound for 63 degrees of freedom: the 1-in-a-million critical value is about 125 (mean 63,
     * sd 11.2). Inputs are seeded, so a pass is repeatable; a biased hash lands in the thousands.
     */
    private static final double CHI_SQUARE_LIMIT = 125.0;

    private static final int CLIENT = 0xc6120001; // 198.18.0.1
    private static final int BENCHMARK_NET = 0xc6120000; // 198.18.0.0/15 (RFC 2544)
    private static final int BENCHMARK_NET_SIZE = 1 << 17;
    private static final int VIP = 0xc000020a; // 192.0.2.10
    private static final long DOC_PREFIX = 0x20010db800000000L; // 2001:db8::/64

    // Golden values: a change here moves every flow to another backend on upgrade (mixed-version hosts
    // behind ECMP would disagree). Change them only on purpose, with a release note.
    private static final long GOLDEN_TCP_V4 = 0xe33443d908012a9aL;
    private static final long GOLDEN_UDP_V4 = 0x9b12b7dcc3302d41L;
    private static final long GOLDEN_TCP_V6 = 0x5f4ed632f888423dL;
    private static final long GOLDEN_SOURCE_V4 = 0x0a38f8c8dac2c1caL;
    private static final long GOLDEN_SOURCE_V6 = 0x5afe88fc0ea7912fL;

    @Test
    void goldenValuesPinTheHashAcrossVersions() {
        assertEquals(0x0000ffffc6120001L, FlowHash.v4Lo(CLIENT));
        assertEquals(0L, FlowHash.v4Hi());
        assertEquals(GOLDEN_TCP_V4, v4(TCP, CLIENT, 12345, VIP, 80));
        assertEquals(GOLDEN_UDP_V4, v4(UDP, CLIENT, 12345, VIP, 53));
        assertEquals(GOLDEN_TCP_V6, FlowHash.fiveTuple(TCP, DOC_PREFIX, 1L, 40000, DOC_PREFIX, 0x80L, 443));
        assertEquals(GOLDEN_SOURCE_V4, FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(CLIENT)));
        assertEquals(GOLDEN_SOURCE_V6, FlowHash.sourceIp(DOC_PREFIX, 1L));
    }


    @Test
    void randomIpv4TuplesSpreadEvenly() {
        SplittableRandom random = new SplittableRandom(1);
        assertEvenSpread("random IPv4", 200_000, i -> v4(random.nextBoolean() ? TCP : UDP, random.nextInt(),
                random.nextInt(1024, 65536), random.nextInt(), random.nextInt(1, 65536)));
    }

    @Test
    void randomIpv6TuplesSpreadEvenly() {
        SplittableRandom random = new SplittableRandom(2);
        assertEvenSpread("random IPv6", 200_000, i -> FlowHash.fiveTuple(TCP, DOC_PREFIX | random.nextInt() & 0xffffL,
                random.nextLong(), random.nextInt(1024, 65536), DOC_PREFIX, random.nextLong(), 443));
    }

    @Test
    void sequentialSourcePortsOfOneClientSpreadEvenly() {
        // One client opening many connections to one VIP: only the ephemeral port changes.
        assertEvenSpread("sequential ports", 65536 - 1024, i -> v4(TCP, CLIENT, 1024 + i, VIP, 443));
    }

    @Test
    void sequentialClientAddressesSpreadEvenly() {
        // Every address of 198.18.0.0/15 once (2^17 = 131072 clients).
        assertEvenSpread("sequential IPv4 clients", BENCHMARK_NET_SIZE,
                i -> v4(TCP, BENCHMARK_NET + i, 40000, VIP, 443));
        assertEvenSpread("sequential IPv6 clients", 200_000,
                i -> FlowHash.fiveTuple(UDP, DOC_PREFIX, i, 5353, DOC_PREFIX, 0x80L, 53));
        assertEvenSpread("sequential IPv4 sources", BENCHMARK_NET_SIZE,
                i -> FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(BENCHMARK_NET + i)));
        assertEvenSpread("sequential IPv6 sources", 200_000, i -> FlowHash.sourceIp(DOC_PREFIX, i));
    }

    @Test
    void sequentialPortsNeverCollide() {
        Set<Long> seen = new HashSet<>();
        for (int port = 0; port < 65536; port++) {
            assertTrue(seen.add(v4(TCP, CLIENT, port, VIP, 443)), "collision at source port " + port);
        }
    }

    /** Flipping any one input bit flips every output bit with probability 1/2 (within 0.06 over 4000 draws). */
    @Test
    void everyInputBitAvalanchesIntoEveryOutputBit() {
        SplittableRandom random = new SplittableRandom(3);
        int samples = 4000;
        // input bits: source IPv4 (32), destination IPv4 (32), source port (16), destination port (16),
        // protocol (8), IPv6 source low (64) and high (64) halves
        int inputBits = 32 + 32 + 16 + 16 + 8 + 64 + 64;
        int[][] flips = new int[inputBits][64];
        int[][] sourceFlips = new int[32 + 128][64];
        for (int s = 0; s < samples; s++) {
            int src = random.nextInt();
            int dst = random.nextInt();
            int srcPort = random.nextInt(65536);
            int dstPort = random.nextInt(65536);
            int protocol = random.nextInt(256);
            long hi6 = random.nextLong();
            long lo6 = random.nextLong();
            long base4 = v4(protocol, src, srcPort, dst, dstPort);
            long base6 = FlowHash.fiveTuple(protocol, hi6, lo6, srcPort, FlowHash.v4Hi(), FlowHash.v4Lo(dst), dstPort);
            for (int b = 0; b < inputBits; b++) {
                long changed;
                if (b < 32) {
                    changed = v4(protocol, src ^ 1 << b, srcPort, dst, dstPort) ^ base4;
                } else if (b < 64) {
                    changed = v4(protocol, src, srcPort, dst ^ 1 << (b - 32), dstPort) ^ base4;
                } else if (b < 80) {
                    changed = v4(protocol, src, srcPort ^ 1 << (b - 64), dst, dstPort) ^ base4;
                } else if (b < 96) {
                    changed = v4(protocol, src, srcPort, dst, dstPort ^ 1 << (b - 80)) ^ base4;
                } else if (b < 104) {
                    changed = v4(protocol ^ 1 << (b - 96), src, srcPort, dst, dstPort) ^ base4;
                } else if (b < 168) {
                    changed = FlowHash.fiveTuple(protocol, hi6, lo6 ^ 1L << (b - 104), srcPort, FlowHash.v4Hi(),
                            FlowHash.v4Lo(dst), dstPort) ^ base6;
                } else {
                    changed = FlowHash.fiveTuple(protocol, hi6 ^ 1L << (b - 168), lo6, srcPort, FlowHash.v4Hi(),
                            FlowHash.v4Lo(dst), dstPort) ^ base6;
                }
                count(flips[b], changed);
            }
            long source4 = FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(src));
            long source6 = FlowHash.sourceIp(hi6, lo6);
            for (int b = 0; b < 32; b++) {
                count(sourceFlips[b], FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(src ^ 1 << b)) ^ source4);
            }
            for (int b = 0; b < 64; b++) {
                count(sourceFlips[32 + b], FlowHash.sourceIp(hi6, lo6 ^ 1L << b) ^ source6);
                count(sourceFlips[96 + b], FlowHash.sourceIp(hi6 ^ 1L << b, lo6) ^ source6);
            }
        }
        assertAvalanche("fiveTuple", flips, samples);
        assertAvalanche("sourceIp", sourceFlips, samples);
    }

    @Test
    void sourceIpModeGivesOneBackendPerClientWhateverThePort() {
        MaglevTable table = MaglevTable.build(backends(10), MaglevTable.DEFAULT_SIZE);
        Set<Integer> bySourceIp = new HashSet<>();
        Set<Integer> byFiveTuple = new HashSet<>();
        for (int port = 1024; port < 2048; port++) {
            // sourceIp has no port parameter: the decision of a source-ip VIP cannot depend on ports.
            bySourceIp.add(table.lookup(FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(CLIENT))));
            byFiveTuple.add(table.lookup(v4(TCP, CLIENT, port, VIP, 443)));
        }
        assertEquals(1, bySourceIp.size());
        assertEquals(10, byFiveTuple.size(), "the 5-tuple hash spreads one client's connections");
        assertNotEquals(FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(CLIENT)),
                FlowHash.sourceIp(FlowHash.v4Hi(), FlowHash.v4Lo(CLIENT + 1)));
    }

    @Test
    void ipv4AndIpv6FormsOfSimilarAddressesHashDifferently() {
        // 198.18.0.1 as IPv4-mapped (::ffff:198.18.0.1) vs the IPv6 addresses ::198.18.0.1 (IPv4-compatible)
        // and 2001:db8::ffff:198.18.0.1 (same low half, other high half).
        long mapped = FlowHash.v4Lo(CLIENT);
        long compatible = CLIENT & 0xffff_ffffL;
        Set<Long> fiveTuples = Set.of(
                FlowHash.fiveTuple(TCP, FlowHash.v4Hi(), mapped, 40000, FlowHash.v4Hi(), FlowHash.v4Lo(VIP), 443),
                FlowHash.fiveTuple(TCP, 0L, compatible, 40000, FlowHash.v4Hi(), FlowHash.v4Lo(VIP), 443),
                FlowHash.fiveTuple(TCP, DOC_PREFIX, mapped, 40000, FlowHash.v4Hi(), FlowHash.v4Lo(VIP), 443));
        assertEquals(3, fiveTuples.size());
        Set<Long> sources = Set.of(FlowHash.sourceIp(FlowHash.v4Hi(), mapped), FlowHash.sourceIp(0L, compatible),
                FlowHash.sourceIp(DOC_PREFIX, mapped));
        assertEquals(3, sources.size());
    }

    @Test
    void sourceAndDestinationAreNotInterchangeable() {
        assertNotEquals(v4(TCP, CLIENT, 40000, VIP, 443), v4(TCP, VIP, 443, CLIENT, 40000));
        assertNotEquals(v4(TCP, CLIENT, 40000, VIP, 443), v4(UDP, CLIENT, 40000, VIP, 443));
        assertNotEquals(v4(TCP, CLIENT, 40000, VIP, 443), v4(TCP, CLIENT, 443, VIP, 40000));
    }

    private static long v4(int protocol, int src, int srcPort, int dst, int dstPort) {
        return FlowHash.fiveTuple(protocol, FlowHash.v4Hi(), FlowHash.v4Lo(src), srcPort, FlowHash.v4Hi(),
                FlowHash.v4Lo(dst), dstPort);
    }

    private static List<MaglevBackend> backends(int n) {
        List<MaglevBackend> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(new MaglevBackend("backend-" + i, 1));
        }
        return list;
    }

    private static void count(int[] outputFlips, long changedBits) {
        for (int k = 0; k < 64; k++) {
            outputFlips[k] += (int) (changedBits >>> k & 1);
        }
    }

    private static void assertAvalanche(String what, int[][] flips, int samples) {
        double worst = 0;
        String where = "";
        for (int b = 0; b < flips.length; b++) {
            for (int k = 0; k < 64; k++) {
                double bias = Math.abs(flips[b][k] / (double) samples - 0.5);
                if (bias > worst) {
                    worst = bias;
                    where = "input bit " + b + " -> output bit " + k;
                }
            }
        }
        System.out.printf("%s avalanche: worst bias %.4f (%s)%n", what, worst, where);
        assertTrue(worst < 0.06, what + ": worst avalanche bias " + worst + " at " + where);
    }

    /**
     * Chi-square of {@code count} hashes over 64 buckets, both by the high bits (as the Maglev slot index
     * uses them) and by the low bits (as a flow table index may).
     */
    private static void assertEvenSpread(String what, int count, IntToLongFunction hashOf) {
        long[] high = new long[BUCKETS];
        long[] low = new long[BUCKETS];
        for (int i = 0; i < count; i++) {
            long h = hashOf.applyAsLong(i);
            high[MaglevTable.slotIndex(h, BUCKETS)]++;
            low[(int) (h & (BUCKETS - 1))]++;
        }
        double chiHigh = chiSquare(high, count);
        double chiLow = chiSquare(low, count);
        System.out.printf("%s: chi-square over %d buckets: high bits %.1f, low bits %.1f (limit %.0f)%n", what,
                BUCKETS, chiHigh, chiLow, CHI_SQUARE_LIMIT);
        assertTrue(chiHigh < CHI_SQUARE_LIMIT, what + ": high-bit chi-square " + chiHigh);
        assertTrue(chiLow < CHI_SQUARE_LIMIT, what + ": low-bit chi-square " + chiLow);
    }

    private static double chiSquare(long[] buckets, int count) {
        double expected = (double) count / buckets.length;
        double sum = 0;
        for (long observed : buckets) {
            double d = observed - expected;
            sum += d * d / expected;
        }
        return sum;
    }
}
