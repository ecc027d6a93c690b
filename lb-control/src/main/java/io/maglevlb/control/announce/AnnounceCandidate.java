package io.maglevlb.control.announce;

import java.net.InetAddress;

/**
 * What the daemon knows about one VIP when the announcements are brought up to date.
 *
 * @param vip the VIP's name
 * @param address the address it listens on
 * @param forwarded this host forwards it now (it has a running forwarder)
 * @param backendUp at least one backend can take new flows (the published table is not empty)
 */
public record AnnounceCandidate(String vip, InetAddress address, boolean forwarded, boolean backendUp) {}
