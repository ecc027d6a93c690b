package io.maglevlb.bench.e2e;

import java.util.Optional;

/** What sits between the load generator and the backends in one run; ids are the raw results' peer column. */
enum Peer {
    MAGLEVD("maglevd", "maglevd"),
    HAPROXY("haproxy", "HAProxy"),
    NGINX("nginx", "nginx"),
    DIRECT("direct", "direct");

    final String id;
    final String display;

    Peer(String id, String display) {
        this.id = id;
        this.display = display;
    }

    static Optional<Peer> byId(String id) {
        for (Peer peer : values()) {
            if (peer.id.equals(id)) {
                return Optional.of(peer);
            }
        }
        return Optional.empty();
    }
}
