package io.maglevlb.core.conntrack;

import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.snapshot.ForwardingSnapshot;

/** A flow's tuple and hash for tests, with shorthands for the table's many-argument methods. */
record TestFlow(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort, long hash) {
    static final int TCP = 6;
    static final int UDP = 17;

    /** An IPv4 flow (addresses as ints in network order) with its real 5-tuple hash. */
    static TestFlow v4(int protocol, int srcIp, int srcPort, int dstIp, int dstPort) {
        return withRealHash(protocol, FlowHash.v4Hi(), FlowHash.v4Lo(srcIp), srcPort, FlowHash.v4Hi(),
                FlowHash.v4Lo(dstIp), dstPort);
    }

    /** An IPv6 flow with its real 5-tuple hash. */
    static TestFlow v6(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort) {
        return withRealHash(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort);
    }

    static TestFlow withRealHash(int protocol, long srcHi, long srcLo, int srcPort, long dstHi, long dstLo,
            int dstPort) {
        return new TestFlow(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort,
                FlowHash.fiveTuple(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort));
    }

    /** The same tuple with an injected hash (to force collisions). */
    TestFlow withHash(long newHash) {
        return new TestFlow(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, newHash);
    }

    int find(FlowTable table, long nowNs) {
        return table.find(hash, protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, nowNs);
    }

    int peek(FlowTable table, long nowNs) {
        return table.peek(protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, nowNs);
    }

    int insert(FlowTable table, int backendId, long nowNs) {
        return table.insert(hash, protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, backendId, nowNs);
    }

    int resolve(FlowTable table, ForwardingSnapshot snapshot, long nowNs) {
        return table.resolve(snapshot, hash, protocol, srcHi, srcLo, srcPort, dstHi, dstLo, dstPort, nowNs);
    }
}
