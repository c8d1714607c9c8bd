import CeldaCore

/// The synthetic world as a packet capture of IMS signalling: every call is a SIP dialog over
/// Ethernet/IPv4/UDP (every eighth over TCP, some messages split across segments), with the
/// originating tower in `P-Access-Network-Info` and a charging id in `P-Charging-Vector`.
extension SyntheticWorld {
    struct Event {
        var time: EventTime
        var call: Int32
        var step: UInt8
    }

    enum Step: UInt8 {
        case invite, trying, ringing, ok, ack, bye, byeOK, busy, busyACK
    }

    /// Writes a classic pcap (microsecond stamps, Ethernet). `write` receives chunks.
    public func writeCapture(_ write: ([UInt8]) -> Void) {
        var events: [Event] = []
        events.reserveCapacity(calls.count * 7)
        var rng = SplitMix64(seed: config.seed ^ 0x5149_5000)
        for (i, c) in calls.enumerated() {
            let id = Int32(i)
            let t = c.start
            events.append(Event(time: t, call: id, step: Step.invite.rawValue))
            events.append(
                Event(time: t + 40_000 + EventTime(rng.int(0...20_000)), call: id, step: Step.trying.rawValue))
            let ring = t + 900_000 + EventTime(rng.int(0...600_000))
            events.append(Event(time: ring, call: id, step: Step.ringing.rawValue))
            if c.answered {
                let answer = ring + 1_000_000 + EventTime(rng.int(0...4_000_000))
                events.append(Event(time: answer, call: id, step: Step.ok.rawValue))
                events.append(Event(time: answer + 30_000, call: id, step: Step.ack.rawValue))
                // The answer time here is the start of talk time; the dump's duration is talk time.
                let hangup = answer + EventTime(c.duration) * CivilTime.second
                events.append(Event(time: hangup, call: id, step: Step.bye.rawValue))
                events.append(Event(time: hangup + 35_000, call: id, step: Step.byeOK.rawValue))
            } else {
                let end = ring + 5_000_000 + EventTime(rng.int(0...20_000_000))
                events.append(Event(time: end, call: id, step: Step.busy.rawValue))
                events.append(Event(time: end + 30_000, call: id, step: Step.busyACK.rawValue))
            }
        }
        events.sort { ($0.time, $0.call, $0.step) < ($1.time, $1.call, $1.step) }
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        // Global header: magic, version 2.4, zone 0, sigfigs 0, snaplen 65535, Ethernet.
        out += le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65_535) + le32(1)
        // One long-lived TCP connection per handset address, as IMS clients keep to their P-CSCF.
        var tcpSeq: [UInt32: (UInt32, UInt32)] = [:]
        for e in events {
            let c = calls[Int(e.call)]
            let step = Step(rawValue: e.step)!
            let fromUE = step == .invite || step == .ack || step == .bye || step == .busyACK
            let message = sipText(c, call: Int(e.call), step: step)
            let ue = 0x0A40_0000 | UInt32(truncatingIfNeeded: c.caller % 0x3F_FFFF)
            let pcscf: UInt32 = 0x0A00_0001
            let overTCP = c.caller % 8 == 7
            if overTCP {
                var (up, down) = tcpSeq[ue] ?? (ue &* 2_654_435_761, ue &* 40_503)
                // Split INVITEs over two segments, the way large messages travel.
                let parts: [ArraySlice<UInt8>] =
                    step == .invite
                    ? [message[0..<(message.count / 2)], message[(message.count / 2)...]] : [message[...]]
                for (k, part) in parts.enumerated() {
                    let seq = fromUE ? up : down
                    let packet = ethernetIPv4(
                        src: fromUE ? ue : pcscf, dst: fromUE ? pcscf : ue,
                        transport: tcp(
                            sport: fromUE ? 50_000 : 5060, dport: fromUE ? 5060 : 50_000, seq: seq, payload: part),
                        proto: 6)
                    record(&out, time: e.time + EventTime(k * 200), packet)
                    if fromUE { up &+= UInt32(part.count) } else { down &+= UInt32(part.count) }
                }
                tcpSeq[ue] = (up, down)
            } else {
                let packet = ethernetIPv4(
                    src: fromUE ? ue : pcscf, dst: fromUE ? pcscf : ue,
                    transport: udp(sport: 5060, dport: 5060, payload: message[...]), proto: 17)
                record(&out, time: e.time, packet)
            }
            if out.count > 1 << 20 {
                write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { write(out) }
    }

    func record(_ out: inout [UInt8], time: EventTime, _ packet: [UInt8]) {
        let sec = time / 1_000_000
        let usec = time % 1_000_000
        out += le32(UInt32(truncatingIfNeeded: sec)) + le32(UInt32(usec))
        out += le32(UInt32(packet.count)) + le32(UInt32(packet.count))
        out += packet
    }

    /// The SIP text of one step of a call.
    func sipText(_ c: Call, call: Int, step: Step) -> [UInt8] {
        let a = "+" + String(c.caller)
        let b = "+" + String(c.callee)
        let callID = "syn\(config.seed)-\(call)@ims.synth.invalid"
        let tag = "f\(call)"
        let toTag = step == .invite ? "" : ";tag=t\(call)"
        let cell = towers[c.tower].cell
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let pani =
            "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=" + String(cell.mcc) + String(cell.mnc).leftPadded(3)
            + hex(UInt64(cell.lac), 4) + hex(cell.ci, 7)
        let cseqInvite = "1 INVITE"
        var lines: [String]
        switch step {
        case .invite:
            lines = [
                "INVITE tel:\(b) SIP/2.0", "Via: SIP/2.0/UDP 10.64.0.2:5060;branch=z9hG4bK\(call)i",
                "Max-Forwards: 70", "From: <tel:\(a)>;tag=\(tag)", "To: <tel:\(b)>", "Call-ID: \(callID)",
                "CSeq: \(cseqInvite)", "P-Asserted-Identity: <sip:\(a)@ims.synth.invalid;user=phone>, <tel:\(a)>",
                "P-Access-Network-Info: \(pani)",
                "P-Charging-Vector: icid-value=icid-\(config.seed)-\(call);icid-generated-at=10.0.0.1",
                "Contact: <sip:\(a)@10.64.0.2:5060>", "Content-Type: application/sdp",
            ]
            let body =
                "v=0\r\no=- \(call) 1 IN IP4 10.64.0.2\r\ns=-\r\nc=IN IP4 10.64.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\n"
            lines.append("Content-Length: \(body.utf8.count)")
            return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
        case .trying: lines = ["SIP/2.0 100 Trying"]
        case .ringing: lines = ["SIP/2.0 180 Ringing"]
        case .ok: lines = ["SIP/2.0 200 OK"]
        case .busy: lines = [(call % 3 == 0 ? "SIP/2.0 486 Busy Here" : "SIP/2.0 480 Temporarily Unavailable")]
        case .ack, .busyACK: lines = ["ACK tel:\(b) SIP/2.0"]
        case .bye: lines = ["BYE tel:\(b) SIP/2.0"]
        case .byeOK: lines = ["SIP/2.0 200 OK"]
        }
        let method: String
        switch step {
        case .ack, .busyACK: method = "1 ACK"
        case .bye, .byeOK: method = "2 BYE"
        default: method = cseqInvite
        }
        lines += [
            "Via: SIP/2.0/UDP 10.64.0.2:5060;branch=z9hG4bK\(call)\(step.rawValue)", "From: <tel:\(a)>;tag=\(tag)",
            "To: <tel:\(b)>\(toTag)", "Call-ID: \(callID)", "CSeq: \(method)", "Content-Length: 0",
        ]
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    func ethernetIPv4(src: UInt32, dst: UInt32, transport: [UInt8], proto: UInt8) -> [UInt8] {
        var p: [UInt8] = [0x00, 0x1B, 0x21, 0x00, 0x00, 0x02, 0x00, 0x1B, 0x21, 0x00, 0x00, 0x01, 0x08, 0x00]
        var ip: [UInt8] =
            [0x45, 0x00] + be16(UInt16(20 + transport.count)) + [0x00, 0x00, 0x40, 0x00, 64, proto, 0, 0]
        ip += be32(src) + be32(dst)
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let check = ~UInt16(sum)
        ip[10] = UInt8(check >> 8)
        ip[11] = UInt8(check & 0xFF)
        p += ip
        p += transport
        return p
    }

    func udp(sport: UInt16, dport: UInt16, payload: ArraySlice<UInt8>) -> [UInt8] {
        be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    func tcp(sport: UInt16, dport: UInt16, seq: UInt32, payload: ArraySlice<UInt8>) -> [UInt8] {
        be16(sport) + be16(dport) + be32(seq) + be32(0) + [0x50, 0x18] + be16(65_535) + [0, 0, 0, 0] + payload
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
