package io.maglevlb.dataplane.packet;

import io.maglevlb.dataplane.linux.LinuxNative;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tc ingress filter of one DSR VIP ({@code dsr.ingress_drop}): a classic BPF program in direct-action mode on
 * the interface's clsact qdisc that ends the VIP's packets after the engine's AF_PACKET socket has copied them.
 *
 * <p>Why: a packet tap only copies. Without the filter the host's IP stack receives every VIP packet as well,
 * routes it (a route lookup and a route-cache entry allocated and freed per packet, since the VIP is not local)
 * and drops it, or with forwarding on, forwards a duplicate, on the engine's core. With the filter the engine
 * forwarded 1.4-2.2 times as many frames under overload in DsrForwardingBenchmark. Taps run before the ingress
 * hook, so tcpdump and the engine still see everything.
 *
 * <p>The filter sits at {@link #PRIORITY} (65520, after any filter an operator adds at the usual priorities),
 * with a handle derived from the VIP, so a restarted daemon replaces its own filter; {@code tc filter show dev IF
 * ingress} lists it with its bytecode, and its class id (unused by a direct-action filter; tc prints it as
 * {@code flowid}, in hex) is the owning process's id. It is removed when the engine stops; the clsact qdisc
 * stays (other filters may use it). A daemon that was killed cannot remove its filters: {@link #removeStale}
 * does when the next daemon starts.
 */
final class IngressDrop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IngressDrop.class);

    /** tc priority of maglevd's filters: lower runs first; tc numbers operators' filters from 49152 downwards. */
    static final int PRIORITY = 0xfff0;
    /** This process's id: the tag its filters carry. */
    private static final long SELF = ProcessHandle.current().pid();

    private final String vipName;
    private final String interfaceName;
    private final int ifindex;
    private final int handle;
    private boolean closed;

    private IngressDrop(String vipName, String interfaceName, int ifindex, int handle) {
        this.vipName = vipName;
        this.interfaceName = interfaceName;
        this.ifindex = ifindex;
        this.handle = handle;
    }

    /**
     * Attaches the filter for {@code config}'s VIP on {@code iface}; call once the engine's sockets are bound.
     * Returns null, with a warning, when a running maglevd process already owns the filter for this VIP there
     * (its own engine for the VIP): replacing that filter would let either engine's stop remove the other's.
     */
    static IngressDrop attach(InterfaceInfo iface, DsrEngineConfig config) throws PacketEngineException {
        return attach(iface, config, false);
    }

    /**
     * As {@link #attach(InterfaceInfo, DsrEngineConfig)}, but with {@code takeover} the filter is replaced whoever
     * owns it: this engine took the sockets over from the predecessor process, which owns the filter until then.
     * The replacement is one netlink request (the filter is changed in place), so no VIP packet reaches the host's
     * stack meanwhile; the predecessor's engine no longer removes the filter, as it is no longer tagged with its id.
     */
    static IngressDrop attach(InterfaceInfo iface, DsrEngineConfig config, boolean takeover)
            throws PacketEngineException {
        BpfProgram program = VipFilter.ingressDrop(config.vip().getAddress(), config.protocol().ipProtocol(),
                config.vip().getPort());
        int handle = handleFor(config.vip(), config.protocol().ipProtocol());
        try (Netlink netlink = new Netlink()) {
            netlink.addClsactQdisc(iface.index());
            long owner = owner(netlink, iface.index(), handle);
            if (!takeover && owner != 0 && owner != SELF && isRunning(owner)) {
                log.warn("vip {}: maglevd process {} already has the ingress drop filter for {} on {}, so this engine "
                        + "runs without one; both engines forward every packet of the VIP: run one engine per VIP",
                        config.vipName(), owner, config.vip(), iface.name());
                return null;
            }
            netlink.addIngressBpf(iface.index(), PRIORITY, handle, program, (int) SELF);
        }
        return new IngressDrop(config.vipName(), iface.name(), iface.index(), handle);
    }

    /** The owner pid of filter {@code handle} at {@link #PRIORITY} on the interface; 0 when none or untagged. */
    private static long owner(Netlink netlink, int ifindex, int handle) throws PacketEngineException {
        for (Netlink.IngressFilter f : netlink.ingressFilters(ifindex, PRIORITY)) {
            if (f.handle() == handle) {
                return Integer.toUnsignedLong(f.tag());
            }
        }
        return 0;
    }

    private static boolean isRunning(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** A non-zero handle that depends only on the VIP's address, port and protocol. */
    static int handleFor(InetSocketAddress vip, int ipProtocol) {
        byte[] address = vip.getAddress().getAddress();
        CRC32 crc = new CRC32();
        crc.update(ByteBuffer.allocate(address.length + 3).put(address).putShort((short) vip.getPort())
                .put((byte) ipProtocol).flip());
        int h = (int) crc.getValue();
        return h == 0 ? 1 : h;
    }

    /**
     * Removes the ingress filters, on every interface of this network namespace, that a maglevd process which
     * no longer runs left behind (killed before it could remove them): they would go on ending the packets of a
     * VIP nobody forwards. Filters at other priorities, without an owner tag, or of running processes stay.
     *
     * @return how many were removed
     */
    static int removeStale() throws PacketEngineException {
        Map<Integer, String> interfaces;
        try (LinuxNative sys = new LinuxNative()) { // per call: the interface list, freed here
            interfaces = sys.interfaces();
        }
        int removed = 0;
        try (Netlink netlink = new Netlink()) {
            for (Map.Entry<Integer, String> iface : interfaces.entrySet()) {
                for (Netlink.IngressFilter f : netlink.ingressFilters(iface.getKey(), PRIORITY)) {
                    long owner = Integer.toUnsignedLong(f.tag());
                    if (owner == 0 || isRunning(owner)) {
                        continue;
                    }
                    if (netlink.deleteIngressFilter(iface.getKey(), PRIORITY, f.handle())) {
                        removed++;
                        log.warn("removed a stale ingress drop filter from {} (handle 0x{}): its maglevd process "
                                + "{} is gone", iface.getValue(), Integer.toUnsignedString(f.handle(), 16), owner);
                    }
                }
            }
        }
        return removed;
    }

    int handle() {
        return handle;
    }

    /**
     * Removes the filter if this process still owns it; the host's IP stack receives the VIP's packets again.
     * Idempotent; never throws.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (Netlink netlink = new Netlink()) {
            // Only while it is still ours: a daemon started after this one's death was presumed may own it now.
            if (owner(netlink, ifindex, handle) == SELF) {
                netlink.deleteIngressFilter(ifindex, PRIORITY, handle);
            }
        } catch (PacketEngineException | RuntimeException e) {
            String hex = "0x" + Integer.toUnsignedString(handle, 16);
            log.warn("vip {}: could not remove its ingress filter (handle {}) from {}: {}; remove it with "
                    + "'tc filter del dev {} ingress prio {} handle {} bpf'", vipName, hex, interfaceName,
                    e.getMessage(), interfaceName, PRIORITY, hex);
        }
    }
}
