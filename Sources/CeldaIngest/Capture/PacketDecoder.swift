/// Limits against hostile or broken captures. What hits a limit is counted, never crashed on.
public struct CaptureLimits: Sendable {
    /// Bytes held per TCP flow direction (incomplete headers and out-of-order segments). Bodies
    /// are skipped, not held.
    public var tcpFlowBytes = 1 << 20
    /// Bytes held per IP fragment set.
    public var fragmentBytes = 96 * 1024
    /// IP fragment sets held at once.
    public var fragmentSets = 8192
    /// How long (capture time) an incomplete fragment set is kept.
    public var fragmentTimeout: Int64 = 30_000_000
    /// Size of a SIP start line and headers.
    public var headerBytes = 64 * 1024
    /// Dialogs open at once.
    public var openDialogs = 1_000_000
    /// A dialog with no message for this long (capture time) is closed as unfinished.
    public var dialogTimeout: Int64 = 4 * 3_600_000_000
    /// Tunnels inside tunnels.
    public var nesting = 8
    public init() {}
}

/// An IPv4 (mapped) or IPv6 address.
struct IPAddress: Hashable {
    var hi: UInt64
    var lo: UInt64

    static func v4(_ p: UnsafeRawBufferPointer, _ at: Int) -> IPAddress {
        IPAddress(hi: 0, lo: 0xFFFF_0000_0000 | UInt64(p.loadBE32(at)))
    }

    static func v6(_ p: UnsafeRawBufferPointer, _ at: Int) -> IPAddress {
        IPAddress(hi: p.loadBE64(at), lo: p.loadBE64(at + 8))
    }
}

/// One direction of a transport flow.
struct FlowKey: Hashable {
    var src: IPAddress
    var dst: IPAddress
    var sport: UInt16
    var dport: UInt16
}

extension UnsafeRawBufferPointer {
    @inline(__always) func loadBE16(_ at: Int) -> UInt16 { UInt16(self[at]) << 8 | UInt16(self[at + 1]) }
    @inline(__always) func loadBE32(_ at: Int) -> UInt32 {
        UInt32(self[at]) << 24 | UInt32(self[at + 1]) << 16 | UInt32(self[at + 2]) << 8 | UInt32(self[at + 3])
    }
    @inline(__always) func loadBE64(_ at: Int) -> UInt64 {
        UInt64(loadBE32(at)) << 32 | UInt64(loadBE32(at + 4))
    }
}

/// What a message's Content-Length says.
enum BodyLength: Equatable {
    case bytes(Int)
    case missing
    /// Present but not a number (already counted).
    case invalid
    /// The message did not parse (already counted).
    case unparsed
}

/// Receives what the decoder finds.
protocol PacketSink: AnyObject {
    /// A SIP message (at least its header block) found in packet `packet`; returns what its
    /// Content-Length says, for framing on streams.
    @discardableResult
    func sipMessage(_ bytes: UnsafeRawBufferPointer, packet: Int, time: Int64) -> BodyLength
    /// A problem with the input, counted by `code`.
    func fault(_ code: String, packet: Int, _ message: String)
}

/// Decodes packets from the link layer down to SIP messages: link layers, VLAN tags, tunnels,
/// IPv4/IPv6 with extension headers and fragment reassembly, UDP, TCP stream reassembly with
/// Content-Length framing, SCTP DATA chunks and WebSocket frames.
final class PacketDecoder {
    let limits: CaptureLimits
    unowned let sink: any PacketSink
    // One thread, no re-entry: no run-time exclusivity checks (see ``CallAssembler``).
    @exclusivity(unchecked) var fragments: [FragmentKey: FragmentSet] = [:]
    @exclusivity(unchecked) var flows: [FlowKey: TCPStream] = [:]
    @exclusivity(unchecked) var sctpParts: [SCTPKey: [UInt8]] = [:]
    /// Current packet.
    @exclusivity(unchecked) var packet = 0
    @exclusivity(unchecked) var time: Int64 = 0
    @exclusivity(unchecked) var lastSweep: Int64 = .min
    /// Packets carrying no SIP (the usual case in a mixed capture).
    @exclusivity(unchecked) var sipInPacket = false

    init(limits: CaptureLimits, sink: any PacketSink) {
        self.limits = limits
        self.sink = sink
    }

    /// Decodes one packet; returns whether it carried (part of) SIP.
    @discardableResult
    func decode(link: Int32, _ data: UnsafeRawBufferPointer, packet: Int, time: Int64) -> Bool {
        self.packet = packet
        self.time = time
        sipInPacket = false
        if time > lastSweep &+ 10_000_000 || time < lastSweep {
            sweep()
            lastSweep = time
        }
        switch link {
        case 1: ethernet(data, depth: 0)  // DLT_EN10MB
        case 0, 108:  // DLT_NULL (host order), DLT_LOOP (network order)
            guard data.count >= 4 else {
                truncated("loopback header")
                return false
            }
            let le = UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16 | UInt32(data[3]) << 24
            let family = link == 108 ? data.loadBE32(0) : (le > 0xFFFF ? data.loadBE32(0) : le)
            let rest = UnsafeRawBufferPointer(rebasing: data[4...])
            switch family {
            case 2: ip(rest, depth: 0)
            case 10, 24, 28, 30: ip(rest, depth: 0)
            default: break
            }
        case 12, 14, 101, 228, 229: ip(data, depth: 0)  // raw IP (DLT_RAW, LINKTYPE_RAW, IPV4, IPV6)
        case 113:  // Linux cooked v1
            guard data.count >= 16 else {
                truncated("Linux cooked header")
                return false
            }
            etherType(data.loadBE16(14), UnsafeRawBufferPointer(rebasing: data[16...]), depth: 0)
        case 276:  // Linux cooked v2
            guard data.count >= 20 else {
                truncated("Linux cooked v2 header")
                return false
            }
            etherType(data.loadBE16(0), UnsafeRawBufferPointer(rebasing: data[20...]), depth: 0)
        default:
            sink.fault("link-type", packet: packet, "link-layer type \(link) is not decoded")
        }
        return sipInPacket
    }

    func truncated(_ what: String) {
        sink.fault("packet-truncated", packet: packet, "packet too short for its \(what)")
    }

    // MARK: link layer

    func ethernet(_ p: UnsafeRawBufferPointer, depth: Int) {
        guard p.count >= 14 else { return truncated("Ethernet header") }
        etherType(p.loadBE16(12), UnsafeRawBufferPointer(rebasing: p[14...]), depth: depth)
    }

    func etherType(_ type: UInt16, _ p: UnsafeRawBufferPointer, depth: Int) {
        guard depth <= limits.nesting else {
            return sink.fault("nesting", packet: packet, "more than \(limits.nesting) nested encapsulations")
        }
        switch type {
        case 0x0800, 0x86DD: ip(p, depth: depth)
        case 0x8100, 0x88A8, 0x9100:  // 802.1Q, 802.1ad (QinQ)
            guard p.count >= 4 else { return truncated("VLAN tag") }
            etherType(p.loadBE16(2), UnsafeRawBufferPointer(rebasing: p[4...]), depth: depth + 1)
        case 0x8864:  // PPPoE session
            guard p.count >= 8 else { return truncated("PPPoE header") }
            ppp(p.loadBE16(6), UnsafeRawBufferPointer(rebasing: p[8...]), depth: depth + 1)
        case 0x6558: ethernet(p, depth: depth + 1)  // transparent Ethernet bridging
        default: break
        }
    }

    func ppp(_ proto: UInt16, _ p: UnsafeRawBufferPointer, depth: Int) {
        switch proto {
        case 0x0021, 0x0057: ip(p, depth: depth)
        default: break
        }
    }

    // MARK: IP

    func ip(_ p: UnsafeRawBufferPointer, depth: Int) {
        guard depth <= limits.nesting else {
            return sink.fault("nesting", packet: packet, "more than \(limits.nesting) nested encapsulations")
        }
        guard !p.isEmpty else { return truncated("IP header") }
        switch p[0] >> 4 {
        case 4: ipv4(p, depth: depth)
        case 6: ipv6(p, depth: depth)
        default: sink.fault("ip-version", packet: packet, "IP version \(p[0] >> 4)")
        }
    }

    func ipv4(_ p: UnsafeRawBufferPointer, depth: Int) {
        guard p.count >= 20 else { return truncated("IPv4 header") }
        let ihl = Int(p[0] & 0x0F) * 4
        let total = Int(p.loadBE16(2))
        guard ihl >= 20, total >= ihl else {
            return sink.fault("ip-header", packet: packet, "IPv4 header length \(ihl), total \(total)")
        }
        guard p.count >= ihl else { return truncated("IPv4 header") }
        let end = min(total, p.count)
        let proto = p[9]
        let src = IPAddress.v4(p, 12)
        let dst = IPAddress.v4(p, 16)
        let frag = p.loadBE16(6)
        let payload = UnsafeRawBufferPointer(rebasing: p[ihl..<end])
        if frag & 0x3FFF != 0 {
            if end < total { return truncated("IPv4 fragment") }
            let key = FragmentKey(src: src, dst: dst, id: UInt32(p.loadBE16(4)), proto: proto, v6: false)
            reassemble(
                key, offset: Int(frag & 0x1FFF) * 8, more: frag & 0x2000 != 0, payload, proto: proto, depth: depth)
            return
        }
        transport(proto, src: src, dst: dst, payload, depth: depth)
    }

    func ipv6(_ p: UnsafeRawBufferPointer, depth: Int) {
        guard p.count >= 40 else { return truncated("IPv6 header") }
        let length = Int(p.loadBE16(4))
        let end = min(40 + length, p.count)
        var next = p[6]
        let src = IPAddress.v6(p, 8)
        let dst = IPAddress.v6(p, 24)
        var at = 40
        // Extension headers.
        while true {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination, mobility, HIP, shim6
                guard at + 8 <= end else { return truncated("IPv6 extension header") }
                let n = p[at]
                at += (Int(p[at + 1]) + 1) * 8
                next = n
            case 51:  // AH
                guard at + 8 <= end else { return truncated("IPv6 AH header") }
                let n = p[at]
                at += (Int(p[at + 1]) + 2) * 4
                next = n
            case 44:  // fragment
                guard at + 8 <= end else { return truncated("IPv6 fragment header") }
                let n = p[at]
                let off = p.loadBE16(at + 2)
                let id = p.loadBE32(at + 4)
                let payload = UnsafeRawBufferPointer(rebasing: p[(at + 8)..<end])
                let key = FragmentKey(src: src, dst: dst, id: id, proto: 0, v6: true)
                reassemble(key, offset: Int(off >> 3) * 8, more: off & 1 != 0, payload, proto: n, depth: depth)
                return
            default:
                guard at <= end else { return truncated("IPv6 extension header") }
                transport(next, src: src, dst: dst, UnsafeRawBufferPointer(rebasing: p[at..<end]), depth: depth)
                return
            }
        }
    }

    func transport(_ proto: UInt8, src: IPAddress, dst: IPAddress, _ p: UnsafeRawBufferPointer, depth: Int) {
        switch proto {
        case 17: udp(src: src, dst: dst, p, depth: depth)
        case 6: tcp(src: src, dst: dst, p)
        case 132: sctp(src: src, dst: dst, p)
        case 4, 41: ip(p, depth: depth + 1)  // IP-in-IP, IPv6-in-IP
        case 47: gre(p, depth: depth + 1)
        default: break
        }
    }

    /// Reassembles a fragment; when the set completes, decodes the datagram.
    func reassemble(
        _ key: FragmentKey, offset: Int, more: Bool, _ payload: UnsafeRawBufferPointer, proto: UInt8, depth: Int
    ) {
        var set = fragments.removeValue(forKey: key) ?? FragmentSet(started: time, packet: packet)
        if offset == 0 { set.proto = proto }
        if !more { set.total = offset + payload.count }
        if offset + payload.count > limits.fragmentBytes || set.held + payload.count > limits.fragmentBytes {
            sink.fault(
                "fragment-limit", packet: packet,
                "IP fragment set over \(limits.fragmentBytes) bytes dropped (first fragment in packet \(set.packet))")
            return
        }
        if fragments.count >= limits.fragmentSets {
            sink.fault("fragment-limit", packet: packet, "more than \(limits.fragmentSets) IP fragment sets open")
            return
        }
        set.pieces.append((offset, Array(payload)))
        set.held += payload.count
        if let total = set.total, let proto = set.proto {
            // Complete when the pieces cover 0..<total.
            set.pieces.sort { $0.0 < $1.0 }
            var covered = 0
            for (o, d) in set.pieces where o <= covered { covered = max(covered, o + d.count) }
            if covered >= total {
                var whole = [UInt8](repeating: 0, count: total)
                for (o, d) in set.pieces {
                    let n = min(d.count, total - o)
                    if n > 0 { whole.replaceSubrange(o..<(o + n), with: d[0..<n]) }
                }
                whole.withUnsafeBytes { w in
                    if key.v6 {
                        ipv6Payload(proto, src: key.src, dst: key.dst, w, depth: depth)
                    } else {
                        transport(proto, src: key.src, dst: key.dst, w, depth: depth)
                    }
                }
                return
            }
        }
        fragments[key] = set
    }

    /// The reassembled payload of an IPv6 fragment set, which may start with more extension headers.
    func ipv6Payload(_ first: UInt8, src: IPAddress, dst: IPAddress, _ p: UnsafeRawBufferPointer, depth: Int) {
        var next = first
        var at = 0
        while next == 0 || next == 43 || next == 60 {
            guard at + 8 <= p.count else { return truncated("IPv6 extension header") }
            let n = p[at]
            at += (Int(p[at + 1]) + 1) * 8
            next = n
        }
        guard at <= p.count else { return truncated("IPv6 extension header") }
        transport(next, src: src, dst: dst, UnsafeRawBufferPointer(rebasing: p[at...]), depth: depth)
    }

    // MARK: tunnels

    func gre(_ p: UnsafeRawBufferPointer, depth: Int) {
        guard p.count >= 4 else { return truncated("GRE header") }
        let flags = p.loadBE16(0)
        let proto = p.loadBE16(2)
        var at = 4
        if flags & 0x8000 != 0 { at += 4 }  // checksum
        if flags & 0x2000 != 0 { at += 4 }  // key
        if flags & 0x1000 != 0 { at += 4 }  // sequence
        if flags & 0x0007 == 1, flags & 0x0080 != 0 { at += 4 }  // PPTP acknowledgement
        guard at <= p.count else { return truncated("GRE header") }
        let rest = UnsafeRawBufferPointer(rebasing: p[at...])
        switch proto {
        case 0x880B:  // PPP
            var q = rest
            if q.count >= 2, q[0] == 0xFF, q[1] == 0x03 { q = UnsafeRawBufferPointer(rebasing: q[2...]) }
            guard !q.isEmpty else { return }
            if q[0] & 1 == 1 {
                ppp(UInt16(q[0]), UnsafeRawBufferPointer(rebasing: q[1...]), depth: depth)
            } else if q.count >= 2 {
                ppp(q.loadBE16(0), UnsafeRawBufferPointer(rebasing: q[2...]), depth: depth)
            }
        case 0x88BE:  // ERSPAN type II
            guard rest.count >= 8 else { return truncated("ERSPAN header") }
            ethernet(UnsafeRawBufferPointer(rebasing: rest[8...]), depth: depth)
        case 0x22EB:  // ERSPAN type III
            guard rest.count >= 12 else { return truncated("ERSPAN header") }
            let optional = rest[11] & 1 == 1 ? 8 : 0
            guard rest.count >= 12 + optional else { return truncated("ERSPAN header") }
            ethernet(UnsafeRawBufferPointer(rebasing: rest[(12 + optional)...]), depth: depth)
        default: etherType(proto, rest, depth: depth)
        }
    }

    func gtp(_ p: UnsafeRawBufferPointer, depth: Int) -> Bool {
        // GTPv1-U G-PDU: version 1, protocol type GTP, message type 255.
        guard p.count >= 8, p[0] >> 5 == 1, p[0] & 0x10 != 0, p[1] == 0xFF else { return false }
        var at = 8
        if p[0] & 0x07 != 0 {
            guard p.count >= 12 else { return false }
            var nextType = p[11]
            at = 12
            while nextType != 0 {
                guard at < p.count else { return false }
                let len = Int(p[at]) * 4
                guard len > 0, at + len <= p.count else { return false }
                nextType = p[at + len - 1]
                at += len
            }
        }
        ip(UnsafeRawBufferPointer(rebasing: p[at...]), depth: depth + 1)
        return true
    }

    // MARK: UDP

    func udp(src: IPAddress, dst: IPAddress, _ p: UnsafeRawBufferPointer, depth: Int) {
        guard p.count >= 8 else { return truncated("UDP header") }
        let sport = p.loadBE16(0)
        let dport = p.loadBE16(2)
        let length = Int(p.loadBE16(4))
        let end = length >= 8 ? min(length, p.count) : p.count
        let payload = UnsafeRawBufferPointer(rebasing: p[8..<end])
        if sport == 2152 || dport == 2152, gtp(payload, depth: depth) { return }
        if SIPParser.startsMessage(payload) { deliver(payload) }
    }

    @discardableResult
    func deliver(_ message: UnsafeRawBufferPointer) -> BodyLength {
        sipInPacket = true
        return sink.sipMessage(message, packet: packet, time: time)
    }

    // MARK: SCTP

    func sctp(src: IPAddress, dst: IPAddress, _ p: UnsafeRawBufferPointer) {
        guard p.count >= 12 else { return truncated("SCTP header") }
        let flow = FlowKey(src: src, dst: dst, sport: p.loadBE16(0), dport: p.loadBE16(2))
        var at = 12
        while at + 4 <= p.count {
            let type = p[at]
            let flags = p[at + 1]
            let length = Int(p.loadBE16(at + 2))
            guard length >= 4 else { return sink.fault("sctp-chunk", packet: packet, "SCTP chunk length \(length)") }
            let end = min(at + length, p.count)
            if type == 0, length >= 16, end >= at + 16 {
                let data = UnsafeRawBufferPointer(rebasing: p[(at + 16)..<end])
                let key = SCTPKey(flow: flow, stream: p.loadBE16(at + 8), ssn: p.loadBE16(at + 10))
                let first = flags & 2 != 0
                let last = flags & 1 != 0
                if first && last {
                    if SIPParser.startsMessage(data) { deliver(data) }
                } else if first {
                    sctpParts[key] = Array(data)
                } else if var held = sctpParts.removeValue(forKey: key) {
                    held.append(contentsOf: data)
                    if last {
                        held.withUnsafeBytes { if SIPParser.startsMessage($0) { deliver($0) } }
                    } else if held.count <= limits.tcpFlowBytes {
                        sctpParts[key] = held
                    } else {
                        sink.fault(
                            "sctp-limit", packet: packet, "SCTP message over \(limits.tcpFlowBytes) bytes dropped")
                    }
                }
            }
            at += (length + 3) & ~3
        }
    }

    // MARK: TCP

    func tcp(src: IPAddress, dst: IPAddress, _ p: UnsafeRawBufferPointer) {
        guard p.count >= 20 else { return truncated("TCP header") }
        let offset = Int(p[12] >> 4) * 4
        guard offset >= 20, offset <= p.count else { return truncated("TCP header") }
        let key = FlowKey(src: src, dst: dst, sport: p.loadBE16(0), dport: p.loadBE16(2))
        let seq = p.loadBE32(4)
        let flags = p[13]
        let payload = UnsafeRawBufferPointer(rebasing: p[offset...])
        let syn = flags & 0x02 != 0
        let fin = flags & 0x01 != 0
        let rst = flags & 0x04 != 0
        if payload.isEmpty && !syn && !fin && !rst { return }
        var stream = flows[key]
        if stream == nil {
            if payload.isEmpty && !syn { return }
            stream = TCPStream(limits: limits)
            flows[key] = stream
        }
        let s = stream!
        s.lastSeen = time
        if syn {
            s.next = seq &+ 1
            s.synced = true
        }
        if !payload.isEmpty { s.segment(seq: seq, payload, decoder: self) }
        if fin || rst {
            s.close(decoder: self)
            flows[key] = nil
        }
    }

    /// Drops idle flows and stale fragment sets.
    func sweep() {
        if !fragments.isEmpty {
            let stale = fragments.filter { time - $0.value.started > limits.fragmentTimeout }
            for (k, v) in stale {
                fragments[k] = nil
                sink.fault("fragment-incomplete", packet: v.packet, "IP fragment set never completed")
            }
        }
        if !flows.isEmpty {
            let idle = flows.filter { time - $0.value.lastSeen > 600_000_000 }
            for (k, s) in idle {
                s.close(decoder: self)
                flows[k] = nil
            }
        }
    }

    /// End of the capture: frames what streams still hold, reports incomplete fragments.
    func finish() {
        for (_, v) in fragments.sorted(by: { $0.value.packet < $1.value.packet }) {
            sink.fault("fragment-incomplete", packet: v.packet, "IP fragment set never completed")
        }
        fragments = [:]
        for s in flows.values.sorted(by: { $0.firstPacket < $1.firstPacket }) { s.close(decoder: self) }
        flows = [:]
    }
}

struct FragmentKey: Hashable {
    var src: IPAddress
    var dst: IPAddress
    var id: UInt32
    var proto: UInt8
    var v6: Bool
}

struct FragmentSet {
    var started: Int64
    var packet: Int
    var pieces: [(Int, [UInt8])] = []
    var held = 0
    var total: Int?
    var proto: UInt8?
}

struct SCTPKey: Hashable {
    var flow: FlowKey
    var stream: UInt16
    var ssn: UInt16
}

/// A TCP segment held until the bytes before it arrive.
struct Segment {
    var seq: UInt32
    var data: [UInt8]
    var packet: Int
    var time: Int64
}

/// One direction of a TCP connection: puts segments in order and frames SIP messages (or
/// WebSocket frames carrying them) out of the byte stream.
final class TCPStream {
    enum Mode { case unknown, sip, webSocket, other }

    let limits: CaptureLimits
    @exclusivity(unchecked) var next: UInt32 = 0
    @exclusivity(unchecked) var synced = false
    /// Stream bytes in order, not yet framed.
    @exclusivity(unchecked) var buffer: [UInt8] = []
    /// Segments ahead of `next`.
    @exclusivity(unchecked) var pending: [Segment] = []
    @exclusivity(unchecked) var pendingBytes = 0
    @exclusivity(unchecked) var mode = Mode.unknown
    /// Body bytes of the current message still to pass over.
    @exclusivity(unchecked) var skip = 0
    /// Looking for the next start line (after a gap or a bad message).
    @exclusivity(unchecked) var resync = false
    /// Bytes seen while the mode was unknown.
    @exclusivity(unchecked) var probed = 0
    @exclusivity(unchecked) var lastSeen: Int64 = 0
    @exclusivity(unchecked) var firstPacket = 0
    @exclusivity(unchecked) var webSocketMessage: [UInt8] = []

    init(limits: CaptureLimits) { self.limits = limits }

    func segment(seq: UInt32, _ payload: UnsafeRawBufferPointer, decoder: PacketDecoder) {
        if firstPacket == 0 { firstPacket = decoder.packet }
        if !synced {
            next = seq
            synced = true
            resync = true
        }
        if mode == .other {
            // Not SIP so far: only a segment that starts a SIP message brings the flow back.
            guard SIPParser.startsMessage(payload) else {
                next = seq &+ UInt32(truncatingIfNeeded: payload.count)
                return
            }
            mode = .sip
            buffer.removeAll()
            pending.removeAll()
            pendingBytes = 0
            next = seq
            resync = false
        }
        let d = Int32(bitPattern: seq &- next)
        if d == 0 {
            buffer.append(contentsOf: payload)
            next = next &+ UInt32(truncatingIfNeeded: payload.count)
        } else if d < 0 {
            // Retransmission or overlap: keep only what is new.
            let over = Int(-Int64(d))
            guard over < payload.count else { return }
            buffer.append(contentsOf: payload[over...])
            next = next &+ UInt32(truncatingIfNeeded: payload.count - over)
        } else {
            pending.append(Segment(seq: seq, data: Array(payload), packet: decoder.packet, time: decoder.time))
            pendingBytes += payload.count
            // A hole not filled within 2 s (capture time), or more held than the limit, is data the
            // capture lost: go on after it.
            let waited = decoder.time - (pending.map(\.time).min() ?? decoder.time)
            if pendingBytes + buffer.count > limits.tcpFlowBytes || waited > 2_000_000 {
                decoder.sink.fault(
                    "tcp-gap", packet: decoder.packet, "TCP data missing (not captured); resynchronising after it")
                frame(decoder: decoder)
                jumpGap(decoder: decoder)
            }
            return
        }
        frame(decoder: decoder)
        drainPending(decoder: decoder)
    }

    /// Appends held segments that now follow on, framing after each as of its own packet.
    func drainPending(decoder: PacketDecoder) {
        var progressed = true
        while progressed && !pending.isEmpty {
            progressed = false
            var i = 0
            while i < pending.count {
                let seg = pending[i]
                let d = Int32(bitPattern: seg.seq &- next)
                if d <= 0 {
                    pendingBytes -= seg.data.count
                    pending.remove(at: i)
                    let over = Int(-Int64(d))
                    if over < seg.data.count {
                        buffer.append(contentsOf: seg.data[over...])
                        next = next &+ UInt32(truncatingIfNeeded: seg.data.count - over)
                        let (p, t) = (decoder.packet, decoder.time)
                        decoder.packet = seg.packet
                        decoder.time = seg.time
                        frame(decoder: decoder)
                        decoder.packet = p
                        decoder.time = t
                    }
                    progressed = true
                } else {
                    i += 1
                }
            }
        }
    }

    /// Gives up on missing bytes: continues at the earliest held segment and looks for the next
    /// start line.
    func jumpGap(decoder: PacketDecoder) {
        guard let first = pending.min(by: { Int32(bitPattern: $0.seq &- $1.seq) < 0 }) else { return }
        buffer.removeAll()
        skip = 0
        next = first.seq
        resync = true
        webSocketMessage.removeAll()
        drainPending(decoder: decoder)
    }

    func close(decoder: PacketDecoder) {
        if !pending.isEmpty {
            decoder.sink.fault("tcp-gap", packet: decoder.packet, "TCP stream ended with data missing")
            while !pending.isEmpty { jumpGap(decoder: decoder) }
        }
        frame(decoder: decoder, final: true)
        buffer = []
    }

    /// Frames complete messages out of `buffer`.
    func frame(decoder: PacketDecoder, final: Bool = false) {
        var pos = 0
        let consumed: Int = buffer.withUnsafeBytes { all in
            loop: while pos < all.count {
                if skip > 0 {
                    let n = min(skip, all.count - pos)
                    skip -= n
                    pos += n
                    continue
                }
                if mode == .webSocket {
                    guard let used = webSocketFrame(UnsafeRawBufferPointer(rebasing: all[pos...]), decoder: decoder)
                    else { break loop }
                    pos += used
                    continue
                }
                // Keep-alives (CRLF) between messages.
                while pos < all.count, all[pos] == 0x0D || all[pos] == 0x0A { pos += 1 }
                if pos == all.count { break }
                let rest = UnsafeRawBufferPointer(rebasing: all[pos...])
                guard let eolAt = SIPScan.index(of: 0x0A, in: all, pos..<all.count) else {
                    if mode == .unknown, let used = upgrade(rest, decoder: decoder) {
                        if used == 0 && mode != .webSocket { break loop }
                        pos += used
                        continue
                    }
                    if mode == .unknown, rest.count > 4096 {
                        mode = .other
                        pos = all.count
                    } else if rest.count > limits.headerBytes {
                        pos = all.count
                        if mode != .other, !resync {
                            note(decoder, "sip-header-limit", "a line over \(limits.headerBytes) bytes")
                        }
                    }
                    break
                }
                let eol = eolAt - pos
                if !SIPParser.startsMessage(rest) {
                    if let used = upgrade(rest, decoder: decoder) {
                        if used == 0 && mode != .webSocket { break loop }
                        pos += used
                        continue
                    }
                    // Not a message start: pass over this line.
                    probed += eol + 1
                    if mode == .unknown, probed > 4096 { mode = .other }
                    if mode == .sip, !resync {
                        resync = true
                        note(
                            decoder, "sip-framing", "bytes between SIP messages that start no message; resynchronising")
                    }
                    if mode == .other {
                        pos = all.count
                        break
                    }
                    pos += eol + 1
                    continue
                }
                mode = .sip
                resync = false
                guard let end = SIPParser.headerEnd(rest, limit: limits.headerBytes) else {
                    if rest.count > limits.headerBytes {
                        note(decoder, "sip-header-limit", "SIP headers over \(limits.headerBytes) bytes; skipped")
                        pos += eol + 1
                        resync = true
                        continue
                    }
                    if final {
                        // The stream ended inside the headers: take what there is.
                        decoder.deliver(rest)
                        pos = all.count
                    }
                    break
                }
                let headers = UnsafeRawBufferPointer(rebasing: rest[0..<end])
                // The message is taken when its body is complete (where tshark places it too); a body
                // over the flow limit is passed over unread.
                if case .bytes(let n) = SIPParser.bodyLength(headers) {
                    if n > limits.tcpFlowBytes {
                        note(decoder, "sip-body-limit", "SIP body of \(n) bytes over the flow limit; headers kept")
                    } else if rest.count < end + n {
                        if !final { break }
                        note(decoder, "tcp-truncated-message", "stream ended inside a SIP body; headers kept")
                    } else {
                        decoder.deliver(UnsafeRawBufferPointer(rebasing: rest[0..<(end + n)]))
                        pos += end + n
                        continue
                    }
                }
                pos += end
                switch decoder.deliver(headers) {
                case .bytes(let n): skip = n
                case .missing:
                    note(
                        decoder, "sip-content-length", "SIP message on a stream without Content-Length; resynchronising"
                    )
                    resync = true
                case .invalid, .unparsed:
                    resync = true
                }
            }
            return pos
        }
        if consumed > 0 { buffer.removeFirst(consumed) }
    }

    func note(_ decoder: PacketDecoder, _ code: String, _ message: String) {
        decoder.sink.fault(code, packet: decoder.packet, message)
    }

    /// An HTTP upgrade to WebSocket (request or 101 answer), or a WebSocket frame met mid-stream.
    /// Returns bytes used (0: need more), or `nil` when it is neither.
    func upgrade(_ p: UnsafeRawBufferPointer, decoder: PacketDecoder) -> Int? {
        if p.starts(with: "GET ".utf8) || p.starts(with: "HTTP/1.1 101".utf8) || p.starts(with: "HTTP/1.0 101".utf8) {
            guard let end = SIPParser.headerEnd(p, limit: limits.headerBytes) else { return 0 }
            let head = String(decoding: UnsafeRawBufferPointer(rebasing: p[0..<end]), as: UTF8.self).lowercased()
            if head.contains("upgrade: websocket") {
                mode = .webSocket
                return end
            }
            return nil
        }
        if mode == .unknown, Self.looksLikeWebSocketSIP(p) {
            mode = .webSocket
            return 0
        }
        return nil
    }

    /// A WebSocket text or binary frame whose payload starts a SIP message (for streams met
    /// mid-connection, after the upgrade).
    static func looksLikeWebSocketSIP(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 2, p[0] == 0x81 || p[0] == 0x82 else { return false }
        let masked = p[1] & 0x80 != 0
        let length = Int(p[1] & 0x7F)
        let at = (length == 126 ? 4 : length == 127 ? 10 : 2) + (masked ? 4 : 0)
        guard p.count >= at + 16 else { return false }
        var head = [UInt8](p[at..<(at + 16)])
        if masked {
            for i in 0..<16 { head[i] ^= p[at - 4 + (i & 3)] }
        }
        return head.starts(with: "SIP/2.0 ".utf8) || head.starts(with: "INVITE ".utf8)
            || head.starts(with: "REGISTER ".utf8) || head.starts(with: "OPTIONS ".utf8)
            || head.starts(with: "BYE ".utf8) || head.starts(with: "ACK ".utf8)
    }

    /// One WebSocket frame (RFC 6455) at the start of `p`: returns bytes used, `nil` when
    /// incomplete.
    func webSocketFrame(_ p: UnsafeRawBufferPointer, decoder: PacketDecoder) -> Int? {
        guard p.count >= 2 else { return nil }
        let fin = p[0] & 0x80 != 0
        let opcode = p[0] & 0x0F
        let masked = p[1] & 0x80 != 0
        var length = Int(p[1] & 0x7F)
        var at = 2
        if length == 126 {
            guard p.count >= 4 else { return nil }
            length = Int(p.loadBE16(2))
            at = 4
        } else if length == 127 {
            guard p.count >= 10 else { return nil }
            let l = p.loadBE64(2)
            guard l < UInt64(limits.tcpFlowBytes) else {
                note(decoder, "websocket-limit", "WebSocket frame of \(l) bytes; stream abandoned")
                mode = .other
                return p.count
            }
            length = Int(l)
            at = 10
        }
        var mask: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        if masked {
            guard p.count >= at + 4 else { return nil }
            mask = (p[at], p[at + 1], p[at + 2], p[at + 3])
            at += 4
        }
        if length > limits.tcpFlowBytes {
            note(decoder, "websocket-limit", "WebSocket frame of \(length) bytes; stream abandoned")
            mode = .other
            return p.count
        }
        guard p.count >= at + length else { return nil }
        if opcode <= 2 {
            let start = webSocketMessage.count
            webSocketMessage.append(contentsOf: p[at..<(at + length)])
            if masked {
                for i in 0..<length {
                    let m: UInt8
                    switch i & 3 {
                    case 0: m = mask.0
                    case 1: m = mask.1
                    case 2: m = mask.2
                    default: m = mask.3
                    }
                    webSocketMessage[start + i] ^= m
                }
            }
            if fin {
                webSocketMessage.withUnsafeBytes { if SIPParser.startsMessage($0) { decoder.deliver($0) } }
                webSocketMessage.removeAll(keepingCapacity: true)
            } else if webSocketMessage.count > limits.tcpFlowBytes {
                note(decoder, "websocket-limit", "WebSocket message over \(limits.tcpFlowBytes) bytes dropped")
                webSocketMessage.removeAll()
            }
        }
        return at + length
    }
}
