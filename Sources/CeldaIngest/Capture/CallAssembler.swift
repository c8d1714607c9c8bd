public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How a SIP call ended.
public enum SIPDisposition: String, Sendable {
    case answered, busy, cancelled
    case noAnswer = "no-answer"
    case failed, unfinished

    /// The disposition of a final response to an INVITE.
    static func of(status: Int) -> SIPDisposition {
        switch status {
        case 200..<300: .answered
        case 486, 600, 603: .busy
        case 487: .cancelled
        case 408, 480: .noAnswer
        default: .failed
        }
    }
}

/// One call assembled from a SIP dialog.
public struct AssembledCall: Sendable {
    public var callID: String
    /// Time of the initial INVITE (µs UTC).
    public var start: Int64
    public var answer: Int64?
    public var end: Int64?
    /// Caller URI (P-Asserted-Identity, else From).
    public var caller: String
    /// Callee URI (Request-URI, else To).
    public var callee: String
    public var cell = CellID.none
    public var cellNetworkProvided = false
    public var disposition = SIPDisposition.unfinished
    public var icid: String
    /// Packet number of the initial INVITE.
    public var packet: Int

    /// Talk time in milliseconds (answer to end), 0 when unanswered or unfinished.
    public var durationMs: UInt32 {
        guard let a = answer, let e = end, e > a else { return 0 }
        return UInt32(clamping: (e - a) / 1000)
    }
}

extension AssembledCall {
    /// A placeholder with no strings to keep alive, swapped in where a call is moved out.
    static var empty: AssembledCall { AssembledCall(callID: "", start: 0, caller: "", callee: "", icid: "", packet: 0) }
}

/// Builds calls out of SIP messages, one per dialog (Call-ID).
///
/// The initial INVITE (no To-tag) starts a call; its retransmissions, copies seen at other hops
/// and the INVITE repeated after a 401/407 challenge do not start another. A 2xx answers it;
/// BYE, CANCEL or a final error ends it. Ended calls linger 32 s (64 × T1) so late
/// retransmissions find them, then are released in the order their INVITEs arrived. Calls still
/// open at the end of the capture, idle past the timeout or pushed out by the open-dialog limit
/// are released as unfinished.
final class CallAssembler {
    struct Dialog {
        var call: AssembledCall
        /// A dialog, not a free slot.
        var live = true
        var ended = false
        var challenged = false
        /// Released as it is (timeout, limit, or end of capture).
        var closed = false
        var lastActivity: Int64
        /// The caller's From-tag: requests carrying it come from the calling side.
        var fromTag: String
        /// ``CallAssembler/key(_:)`` of the Call-ID.
        var key: UInt64

        /// What a free slot holds (no strings to keep alive).
        static var free: Dialog { Dialog(call: .empty, live: false, lastActivity: 0, fromTag: "", key: 0) }
    }

    let limits: CaptureLimits
    static let linger: Int64 = 32_000_000
    // The assembler is used from one thread and never re-entered (`emit` and `fault` only write
    // out), so its state skips the run-time exclusivity checks a class's properties get
    // (`swift_beginAccess` was 8% of `celda calls`).
    // Not `[Dialog?]`: an optional element is copied whole (five strings retained) to test it or
    // read one field, on every message; a plain element is read in place.
    @exclusivity(unchecked) var slots: [Dialog] = []
    @exclusivity(unchecked) var free: [Int] = []
    /// Open dialogs by a hash of the Call-ID bytes (checked against the dialog's Call-ID).
    @exclusivity(unchecked) var byCallIDHash = KeyTable<Int32>(empty: -1, capacity: 4096)
    /// Open dialogs whose Call-ID hashes like another open one's, which holds the hash entry, by
    /// Call-ID: empty but for a 64-bit collision. (Every dialog used to be in a `String`-keyed
    /// dictionary as well, hashed twice per call: 5% of the assembling thread.)
    @exclusivity(unchecked) var collisions: [String: Int] = [:]
    /// Slots in creation order, from `head`.
    @exclusivity(unchecked) var order: [Int] = []
    @exclusivity(unchecked) var head = 0
    @exclusivity(unchecked) var open = 0
    @exclusivity(unchecked) var now: Int64 = .min
    @exclusivity(unchecked) var lastSweep: Int64 = .min
    /// Idle dialogs are looked for this often (capture time): a sixteenth of the timeout, at
    /// least 10 s. Calls are released in the order their INVITEs came whenever they close.
    var sweepEvery: Int64 { max(10_000_000, limits.dialogTimeout / 16) }
    let emit: (consuming AssembledCall) -> Void
    let fault: (String, Int, String) -> Void
    /// In-dialog requests or responses whose dialog was never seen (capture began mid-call).
    private(set) var orphans = 0

    /// Bits of the Call-ID hash kept: all of them, but for tests that make Call-IDs collide.
    let keyMask: UInt64

    init(
        limits: CaptureLimits, keyMask: UInt64 = ~0, emit: @escaping (consuming AssembledCall) -> Void,
        fault: @escaping (String, Int, String) -> Void
    ) {
        self.limits = limits
        self.keyMask = keyMask
        self.emit = emit
        self.fault = fault
    }

    /// A message whose dialog bookkeeping needs no more than its start line, CSeq and Call-ID
    /// (responses, ACK, BYE, CANCEL without a cell to read): handled from the scan. Anything else
    /// is parsed in full and handled as ``handle(_:packet:time:)``.
    func handle(_ s: UnsafePointer<SIPScan>, bytes p: UnsafeRawBufferPointer, packet: Int, time: Int64) -> Bool {
        let callID = UnsafeRawBufferPointer(rebasing: p[s.pointee.callID])
        let h = key(callID)
        if s.pointee.method == .invite { return startFromScan(s, bytes: p, packet: packet, time: time, key: h) }
        if s.pointee.method != nil && s.pointee.pani.count > 0 { return false }
        if let at = byCallIDHash.find(h) {
            let slot = Int(byCallIDHash[at])
            guard slots[slot].live, Self.same(slots[slot].call.callID, callID) else {
                return false  // a hash collision: the full path decides
            }
            if time > now { now = time }
            update(
                slot, method: s.pointee.method, status: s.pointee.status, cseqMethod: s.pointee.cseqMethod, time: time)
        } else {
            // A dialog outside the hash table (a collision) is found by the full path.
            if !collisions.isEmpty { return false }
            if time > now { now = time }
            if s.pointee.cseqMethod == .invite || s.pointee.method == .bye { orphans += 1 }
        }
        if now > lastSweep &+ sweepEvery || now < lastSweep {
            sweep()
            lastSweep = now
        }
        release()
        return true
    }

    /// An INVITE of a Call-ID with no dialog: starts the call (or counts an orphan re-INVITE)
    /// from the scan, with the same strings and cell as ``handle(_:packet:time:)`` takes from the
    /// full parse, since the values come from the same header ranges through the parser's own
    /// helpers. An INVITE of a dialog already open (a retransmission, a copy from another hop,
    /// the INVITE after a challenge) is left to the full path (`false`).
    func startFromScan(
        _ s: UnsafePointer<SIPScan>, bytes p: UnsafeRawBufferPointer, packet: Int, time: Int64, key: UInt64
    ) -> Bool {
        guard !s.pointee.startNeedsFullParse else { return false }
        let idBytes = UnsafeRawBufferPointer(rebasing: p[s.pointee.callID])
        if byCallIDHash.find(key) != nil { return false }
        let callID = SIPParser.text(idBytes)
        // Every open dialog is in the hash table but for a collision.
        if !collisions.isEmpty, collisions[callID] != nil { return false }
        if time > now { now = time }
        @inline(__always) func value(_ r: Range<Int>) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: p[r])
        }
        if let tag = SIPScan.tag(p, s.pointee.to), !tag.isEmpty {
            orphans += 1  // a re-INVITE of a dialog the capture does not hold
        } else {
            // The caller: the first asserted tel: URI, else the first asserted URI, else From
            // (``caller(_:)``), made into a string only once chosen.
            var tel: UnsafeRawBufferPointer?
            var firstAsserted: UnsafeRawBufferPointer?
            for k in 0..<s.pointee.pai.count {
                let more = SIPParser.forEachPart(value(s.pointee.pai[k])) { part -> Bool in
                    let uri = SIPParser.uriBytes(part)
                    // `hasPrefix("tel:")` of the string, on the bytes (a combining mark after the
                    // colon would change the string's last character: then the string decides).
                    let isTel =
                        uri.count >= 4 && uri[0] == 0x74 && uri[1] == 0x65 && uri[2] == 0x6C && uri[3] == 0x3A
                        && (uri.count == 4 || uri[4] < 0x80 || SIPParser.text(uri).hasPrefix("tel:"))
                    if isTel {
                        tel = uri
                        return false
                    }
                    if firstAsserted == nil { firstAsserted = uri }
                    return true
                }
                if !more { break }
            }
            let caller =
                (tel ?? firstAsserted).map { SIPParser.text($0) } ?? s.pointee.from.map { SIPParser.uri(value($0)) }
                ?? ""
            let requestURI = SIPParser.text(value(s.pointee.requestURI))
            let callee = !requestURI.isEmpty ? requestURI : s.pointee.to.map { SIPParser.uri(value($0)) } ?? ""
            var icid = ""
            for k in 0..<s.pointee.chargingVector.count where icid.isEmpty {
                icid = SIPParser.parameter(value(s.pointee.chargingVector[k]), "icid-value", anywhere: true) ?? ""
            }
            let fromTag = s.pointee.from.flatMap { SIPParser.parameter(value($0), "tag") } ?? ""
            start(
                callID: callID, key: key, caller: caller, callee: callee, icid: icid, fromTag: fromTag,
                packet: packet, time: time
            ) { call in
                for k in 0..<s.pointee.pani.count {
                    SIPParser.forEachPart(value(s.pointee.pani[k])) { locate(&call, value: $0, packet: packet) }
                }
            }
        }
        if now > lastSweep &+ sweepEvery || now < lastSweep {
            sweep()
            lastSweep = now
        }
        release()
        return true
    }

    /// The hash key of a Call-ID (never 0).
    @inline(__always) func key(_ p: UnsafeRawBufferPointer) -> UInt64 {
        let h = StableHash.words(p) & keyMask
        return h == 0 ? 1 : h
    }

    func key(_ s: String) -> UInt64 {
        var s = s
        return s.withUTF8 { key(UnsafeRawBufferPointer($0)) }
    }

    static func same(_ s: String, _ p: UnsafeRawBufferPointer) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { u in
            u.count == p.count && (p.isEmpty || memcmp(u.baseAddress!, p.baseAddress!, p.count) == 0)
        } ?? s.utf8.elementsEqual(p)
    }

    func handle(_ m: SIPMessage, packet: Int, time: Int64) {
        if time > now { now = time }
        if let slot = dialog(m.callID) {
            update(slot, m, packet: packet, time: time)
        } else if m.method == .invite, m.toTag.isEmpty {
            start(m, packet: packet, time: time)
        } else if m.method == .invite || m.cseqMethod == .invite || m.method == .bye {
            orphans += 1
        }
        if now > lastSweep &+ sweepEvery || now < lastSweep {
            sweep()
            lastSweep = now
        }
        release()
    }

    /// The slot of the open dialog of `callID`.
    func dialog(_ callID: String) -> Int? {
        if let at = byCallIDHash.find(key(callID)) {
            let slot = Int(byCallIDHash[at])
            if slots[slot].live, slots[slot].call.callID == callID { return slot }
        }
        return collisions.isEmpty ? nil : collisions[callID]
    }

    func start(_ m: SIPMessage, packet: Int, time: Int64) {
        start(
            callID: m.callID, key: key(m.callID), caller: Self.caller(m),
            callee: m.requestURI.isEmpty ? m.to : m.requestURI, icid: m.icid,
            fromTag: m.fromTag, packet: packet, time: time
        ) { call in locate(&call, m, packet: packet) }
    }

    func start(
        callID: String, key: UInt64, caller: String, callee: String, icid: String, fromTag: String, packet: Int,
        time: Int64, locate: (inout AssembledCall) -> Void
    ) {
        if open >= limits.openDialogs {
            // Close the oldest open dialog.
            var i = head
            while i < order.count {
                let k = order[i]
                if slots[k].live, !slots[k].ended, !slots[k].closed {
                    slots[k].closed = true
                    open -= 1
                    fault(
                        "dialog-limit", slots[k].call.packet,
                        "more than \(limits.openDialogs) dialogs open; closed as unfinished")
                    break
                }
                i += 1
            }
        }
        var call = AssembledCall(
            callID: callID, start: time, caller: caller, callee: callee, icid: icid, packet: packet)
        locate(&call)
        let d = Dialog(call: consume call, lastActivity: time, fromTag: fromTag, key: key)
        let slot: Int
        if let f = free.popLast() {
            slot = f
            slots[f] = consume d
        } else {
            slot = slots.count
            slots.append(consume d)
        }
        let at = byCallIDHash.findOrInsert(key)
        if byCallIDHash[at] >= 0 {
            collisions[callID] = slot  // a different Call-ID with the same hash is open
        } else {
            byCallIDHash[at] = Int32(slot)
        }
        order.append(slot)
        open += 1
    }

    /// The caller: a P-Asserted-Identity (a number preferred), else From.
    static func caller(_ m: SIPMessage) -> String {
        for uri in m.asserted where uri.hasPrefix("tel:") { return uri }
        return m.asserted.first ?? m.from
    }

    /// Takes the cell from the message's PANI: a network-provided value beats one from the handset.
    func locate(_ call: inout AssembledCall, _ m: SIPMessage, packet: Int) {
        for value in m.accessInfo { locate(&call, AccessNetworkInfo.decode(value), value: value, packet: packet) }
        if call.icid.isEmpty { call.icid = m.icid }
    }

    /// One PANI value from the header bytes, as the full parse's text of it would give.
    func locate(_ call: inout AssembledCall, value p: UnsafeRawBufferPointer, packet: Int) {
        if p.allSatisfy({ $0 < 0x80 }) {
            let outcome = AccessNetworkInfo.decode(bytes: p)
            if outcome == .malformed {
                locate(&call, outcome, value: SIPParser.text(p), packet: packet)
            } else {
                locate(&call, outcome, value: "", packet: packet)
            }
        } else {
            let text = SIPParser.text(p)
            locate(&call, AccessNetworkInfo.decode(text), value: text, packet: packet)
        }
    }

    func locate(_ call: inout AssembledCall, _ outcome: AccessNetworkInfo.Outcome, value: String, packet: Int) {
        switch outcome {
        case .cell(let v):
            if call.cell.isNone || (v.networkProvided && !call.cellNetworkProvided) {
                call.cell = v.cell
                call.cellNetworkProvided = v.networkProvided
            }
        case .malformed:
            fault("pani-malformed", packet, "P-Access-Network-Info with no decodable cell: \(value.prefix(120))")
        case .none: break
        }
    }

    func update(_ slot: Int, _ m: SIPMessage, packet: Int, time: Int64) {
        guard slots[slot].live, !slots[slot].closed else { return }
        var d = Self.take(&slots[slot])
        d.lastActivity = time
        defer { slots[slot] = d }
        if let method = m.method {
            switch method {
            case .invite where m.toTag.isEmpty:
                // A retransmission, a copy from another hop, or the INVITE after a challenge.
                if d.challenged, d.ended, d.call.answer == nil {
                    d.ended = false
                    d.challenged = false
                    d.call.end = nil
                    d.call.disposition = .unfinished
                    open += 1
                }
                locate(&d.call, m, packet: packet)
            default:
                Self.apply(&d, method: method, status: 0, cseqMethod: m.cseqMethod, time: time, open: &open)
            }
            // Later requests from the calling side (BYE, UPDATE, PRACK…) may carry the cell too, a
            // network-provided one added by the P-CSCF.
            if method != .invite, !m.accessInfo.isEmpty, m.fromTag == d.fromTag { locate(&d.call, m, packet: packet) }
            return
        }
        Self.apply(&d, method: nil, status: m.status, cseqMethod: m.cseqMethod, time: time, open: &open)
    }

    /// The part of a message's effect that its method, status and CSeq method decide.
    func update(_ slot: Int, method: SIPMethod?, status: Int, cseqMethod: SIPMethod, time: Int64) {
        guard slots[slot].live, !slots[slot].closed else { return }
        slots[slot].lastActivity = time
        Self.apply(&slots[slot], method: method, status: status, cseqMethod: cseqMethod, time: time, open: &open)
    }

    static func apply(
        _ d: inout Dialog, method: SIPMethod?, status: Int, cseqMethod: SIPMethod, time: Int64, open: inout Int
    ) {
        func end(_ disposition: SIPDisposition) {
            d.ended = true
            d.call.end = time
            d.call.disposition = disposition
            open -= 1
        }
        if let method {
            switch method {
            case .cancel:
                if !d.ended, d.call.answer == nil { end(.cancelled) }
            case .bye:
                if !d.ended { end(d.call.answer != nil ? .answered : .cancelled) }
            default: break
            }
            return
        }
        guard cseqMethod == .invite else { return }
        switch status {
        case 200..<300:
            if d.call.answer == nil {
                d.call.answer = time
                if d.ended {
                    // A 2xx racing a CANCEL: the call was answered.
                    d.ended = false
                    d.call.end = nil
                    open += 1
                }
                d.challenged = false
                d.call.disposition = .unfinished
            }
        case 401, 407:
            if d.call.answer == nil, !d.ended {
                end(.failed)
                d.challenged = true
            }
        case 300...:
            if d.call.answer == nil, !d.ended { end(SIPDisposition.of(status: status)) }
        default: break
        }
    }

    func end(_ d: inout Dialog, _ disposition: SIPDisposition, _ time: Int64) {
        d.ended = true
        d.call.end = time
        d.call.disposition = disposition
        open -= 1
    }

    /// Closes dialogs idle past the timeout.
    func sweep() {
        var i = head
        while i < order.count {
            let k = order[i]
            if slots[k].live, !slots[k].ended, !slots[k].closed, now - slots[k].lastActivity > limits.dialogTimeout {
                slots[k].closed = true
                let d = slots[k]
                open -= 1
                fault(
                    "dialog-timeout", d.call.packet,
                    "dialog \(d.call.callID) idle over \(limits.dialogTimeout / 1_000_000) s; closed as unfinished")
            }
            i += 1
        }
    }

    /// Moves a dialog out of its slot, leaving the slot free.
    @inline(__always) static func take(_ d: inout Dialog) -> Dialog {
        var out = Dialog.free
        swap(&out, &d)
        return out
    }

    /// Releases, in creation order, the calls that are over.
    func release(all: Bool = false) {
        while head < order.count {
            let slot = order[head]
            // Read in place: a copy of the dialog would retain its five strings on every message.
            guard slots[slot].live else {
                head += 1
                continue
            }
            if !all, !slots[slot].closed {
                guard slots[slot].ended, now - (slots[slot].call.end ?? now) >= Self.linger else { break }
            }
            // The call is moved out of its slot, not copied.
            let ended = slots[slot].ended
            let key = slots[slot].key
            if !ended, !slots[slot].closed { open -= 1 }
            var call = AssembledCall.empty
            swap(&call, &slots[slot].call)
            slots[slot] = .free
            if !ended {
                call.end = nil
                call.disposition = .unfinished
            }
            if let at = byCallIDHash.find(key), byCallIDHash[at] == Int32(slot) {
                byCallIDHash.remove(at: at)
            } else {
                collisions[call.callID] = nil
            }
            emit(consume call)
            free.append(slot)
            head += 1
        }
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// End of the capture: every call left is released.
    func finish() { release(all: true) }
}
