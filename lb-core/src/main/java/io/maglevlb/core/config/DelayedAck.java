package io.maglevlb.core.config;

/**
 * Which of a tcp proxy VIP's two connections delay their ACKs of received data (Linux's TCP_QUICKACK off), so an
 * ACK rides on the data or FIN sent back instead of travelling as a packet of its own.
 *
 * <p>A fresh Linux connection acknowledges every segment at once ("quick ACK" mode). Through a proxy that costs
 * a bare ACK per request toward the client (the answer only comes once the backend has replied) and one per
 * answer toward the backend. With the ACK delayed, a request/answer exchange costs two fewer packets, and the
 * kernel still acknowledges at once whenever two full segments are waiting, so bulk transfers are unaffected.
 * The price: a peer that sends a request in two small writes with Nagle's algorithm on (no TCP_NODELAY) waits
 * for the delayed ACK (40 ms) before its second write, once per connection. See docs/tcp-proxy.md.
 */
public enum DelayedAck {
    /** Linux's default: quick ACKs on both connections. */
    OFF("off", false, false),
    /** Accepted client connections delay ACKs (set on each after accept: a listener's setting does not carry over). */
    CLIENT("client", true, false),
    /** Backend connections delay ACKs once connected (never the handshake: server-first protocols wait for it). */
    BACKEND("backend", false, true),
    BOTH("both", true, true);

    private final String configName;
    private final boolean client;
    private final boolean backend;

    DelayedAck(String configName, boolean client, boolean backend) {
        this.configName = configName;
        this.client = client;
        this.backend = backend;
    }

    public String configName() {
        return configName;
    }

    /** True when connections accepted from clients delay their ACKs. */
    public boolean client() {
        return client;
    }

    /** True when connections to backends delay their ACKs. */
    public boolean backend() {
        return backend;
    }
}
