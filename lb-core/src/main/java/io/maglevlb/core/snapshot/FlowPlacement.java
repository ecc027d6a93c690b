package io.maglevlb.core.snapshot;

import io.maglevlb.core.config.Protocol;
import io.maglevlb.core.flow.FlowHash;
import io.maglevlb.core.flow.HashMode;
import io.maglevlb.core.maglev.MaglevTable;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Where the Maglev table sends a new flow, and why: the flow's hash, the slot it selects, the slot's owner. The
 * forwarders place a new flow with the same two calls ({@link FlowHash#of}, {@link ForwardingSnapshot#backendFor}),
 * so this is the answer they give, not a model of it. {@code maglevd explain} (offline, from the configuration)
 * and {@code GET /vips/{vip}/explain} (the live table) both compute it here.
 *
 * <p>The hashed tuple is (protocol, client address and port, VIP address and port): the destination is the
 * VIP's listen address as the forwarder holds it (a wildcard listen hashes as {@code 0.0.0.0} / {@code ::});
 * with {@code hash: source-ip} only the client address counts.
 *
 * @param hash the 64-bit flow hash
 * @param slot the table slot the hash selects: {@code (hash >>> 32) * size >>> 32}
 * @param backend the slot's owner, or null when the table is empty (every backend down or drained)
 * @param snapshot the table used (its generation and digest identify it)
 */
public record FlowPlacement(long hash, int slot, BackendState backend, ForwardingSnapshot snapshot) {

    public FlowPlacement {
        Objects.requireNonNull(snapshot, "snapshot");
    }

    /**
     * Places the flow {@code client -> vip} with {@code snapshot}'s table.
     *
     * @param vip the destination as the forwarder hashes it: the VIP's address and port
     */
    public static FlowPlacement of(ForwardingSnapshot snapshot, HashMode mode, Protocol protocol,
            InetSocketAddress client, InetSocketAddress vip) {
        byte[] src = client.getAddress().getAddress();
        byte[] dst = vip.getAddress().getAddress();
        long hash = FlowHash.of(mode, protocol.ipProtocol(), FlowHash.addressHi(src), FlowHash.addressLo(src),
                client.getPort(), FlowHash.addressHi(dst), FlowHash.addressLo(dst), vip.getPort());
        int slot = MaglevTable.slotIndex(hash, snapshot.tableSize());
        return new FlowPlacement(hash, slot, snapshot.backend(snapshot.backendFor(hash)), snapshot);
    }

    /** The hash as 16 hex digits (unsigned). */
    public String hashHex() {
        return String.format("%016x", hash);
    }
}
