import CeldaCore
import Foundation
import Testing

@testable import CeldaIngest

/// Every call of a capture.
func calls(_ path: String, limits: CaptureLimits = CaptureLimits()) throws -> (CaptureReader, [AssembledCall]) {
    let r = try CaptureReader(path: path, limits: limits)
    var out: [AssembledCall] = []
    while let c = try r.nextCall() { out.append(c) }
    return (r, out)
}

/// Builds small pcap files packet by packet (Ethernet, IPv4, UDP or TCP).
struct PcapBuilder {
    var bytes: [UInt8] = []
    var time: Int64 = 1_768_800_000_000_000

    init() {
        bytes = le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65_535) + le32(1)
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    mutating func packet(_ frame: [UInt8], after micros: Int64 = 1_000) {
        time += micros
        bytes += le32(UInt32(time / 1_000_000)) + le32(UInt32(time % 1_000_000))
        bytes += le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
    }

    func ipv4(_ proto: UInt8, _ payload: [UInt8], id: UInt16 = 1, fragment: UInt16 = 0) -> [UInt8] {
        let eth: [UInt8] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]
        let ip: [UInt8] =
            [0x45, 0] + be16(UInt16(20 + payload.count)) + be16(id) + be16(fragment) + [64, proto, 0, 0]
            + [10, 0, 0, 1] + [10, 0, 0, 2]
        return eth + ip + payload
    }

    mutating func udp(_ sip: String, after micros: Int64 = 1_000) {
        let payload = Array(sip.utf8)
        packet(ipv4(17, be16(5060) + be16(5060) + be16(UInt16(8 + payload.count)) + [0, 0] + payload), after: micros)
    }

    /// A UDP datagram sent as IPv4 fragments (8-byte aligned pieces), in the order given.
    mutating func fragmentedUDP(_ sip: String, pieces: Int, order: [Int]) {
        let payload = Array(sip.utf8)
        let datagram = be16(5060) + be16(5060) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
        let size = (datagram.count / pieces + 7) / 8 * 8
        for k in order {
            let from = k * size
            let to = min(datagram.count, from + size)
            let more: UInt16 = to < datagram.count ? 0x2000 : 0
            packet(ipv4(17, Array(datagram[from..<to]), id: 77, fragment: more | UInt16(from / 8)))
        }
    }

    mutating func tcp(_ data: [UInt8], seq: UInt32, flags: UInt8 = 0x18) {
        packet(
            ipv4(
                6,
                be16(40_000) + be16(5060) + be32(seq) + be32(0) + [0x50, flags] + be16(65_535) + [0, 0, 0, 0] + data))
    }

    func write() -> String {
        let path = NSTemporaryDirectory() + "celda-cap-" + UUID().uuidString + ".pcap"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

/// A SIP message with the headers call assembly looks at.
func sip(
    _ start: String, callID: String = "c1@test", cseq: String = "1 INVITE", toTag: String = "",
    extra: [String] = [], body: String = ""
) -> String {
    var lines = [
        start, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", "From: <tel:+525512345678>;tag=a1",
        "To: <tel:+525587654321>\(toTag.isEmpty ? "" : ";tag=" + toTag)", "Call-ID: \(callID)", "CSeq: \(cseq)",
    ]
    lines += extra
    lines.append("Content-Length: \(body.utf8.count)")
    return lines.joined(separator: "\r\n") + "\r\n\r\n" + body
}

@Suite struct CorpusCaptureTests {
    /// Every capture gives the dialogs tshark finds, each starting at tshark's first INVITE, and
    /// the same number of SIP messages.
    @Test(arguments: CaptureOracle.captures.map(\.file))
    func dialogsMatchTshark(_ file: String) throws {
        let expected = try #require(CaptureOracle.captures.first { $0.file == file })
        let (reader, found) = try calls(Paths.corpus("pcap/" + file))
        #expect(found.map(\.callID) == expected.calls.map(\.id), "\(file)")
        #expect(found.map(\.start) == expected.calls.map(\.start), "\(file)")
        #expect(reader.stats.sipMessages == expected.messages, "\(file)")
        #expect(reader.stats.sipRejected == 0)
    }

    @Test func thirtySevenCallsOverTCPPort6060() throws {
        let (reader, found) = try calls(Paths.corpus("pcap/hep-sip-ipv4-tcp-fragmented.pcap"))
        #expect(found.count == 37)
        #expect(reader.stats.faults.isEmpty)
        let first = try #require(found.first)
        #expect(first.caller == "sip:540454@maxus.lan" || first.caller.contains("540454"))
        #expect(first.disposition == .answered)
        #expect(first.durationMs == 106_243)
        // Two calls cancelled, one refused (403), one busy (486) per tshark's response counts.
        #expect(found.filter { $0.disposition == .cancelled }.count == 1)
        #expect(found.filter { $0.disposition == .failed }.count == 1)
    }

    @Test func voLTECellsDecodeExactly() throws {
        let (_, iphone) = try calls(Paths.corpus("pcap/arkime-gtp-iphone-volte.pcap"))
        #expect(iphone.map { $0.cell.formatted } == ["310-410-1-27447297"])  // eNB 107216, cell 1
        #expect(iphone.first?.caller == "tel:+88270006")
        #expect(iphone.first?.disposition == .answered)
        let (_, lab) = try calls(Paths.corpus("pcap/cnta-volte-calls-2-sll.pcapng"))
        #expect(lab.map { $0.cell.formatted } == ["001-001-7-105217"])  // eNB 411, cell 1
        #expect(lab.first?.disposition == .noAnswer)  // 408
        #expect(lab.first?.icid == "4956537F0001018D3D0000EE02000000")
    }

    @Test func networkProvided3GValue() throws {
        let (_, found) = try calls(Paths.corpus("pcap/cnta-sip-mt-offnet-qinq.pcap"))
        let call = try #require(found.first { $0.callID.hasPrefix("SD42mf901") })
        #expect(call.cell.formatted == "272-002-30100-21626")  // LAC 0x7594, SAC 0x547A
        #expect(call.cellNetworkProvided)
        #expect(call.caller == "tel:+353877586895")
        #expect(found.count == 2)
    }

    @Test func dispositionsOfFailures() throws {
        let (_, failures) = try calls(Paths.corpus("pcap/cnta-sip-failures-qinq.pcap"))
        #expect(failures.map(\.disposition) == [.failed, .noAnswer, .cancelled])  // 504, 408, CANCEL/487
        let (_, aaa) = try calls(Paths.corpus("pcap/sv-aaa-sip.pcap"))
        #expect(aaa.map(\.disposition) == [.cancelled, .failed, .failed, .noAnswer])
        let (_, gre) = try calls(Paths.corpus("pcap/ndpi-gre-sip.pcapng"))
        #expect(gre.map(\.disposition) == [.answered, .cancelled, .cancelled, .cancelled, .answered])
        #expect(gre.first?.durationMs == 36_411)
    }

    @Test func challengesAndReInvitesDoNotStartCalls() throws {
        // WebSocket: a 407 challenge then the INVITE again; sv-aaa: 401/407 and retransmissions.
        let (_, ws) = try calls(Paths.corpus("pcap/hep-sip-tcp-websocket.pcap"))
        #expect(ws.count == 2)
        #expect(ws.allSatisfy { $0.disposition == .answered })
        let (_, fax) = try calls(Paths.corpus("pcap/ndpi-fax-call-t38-sip.pcap"))
        #expect(fax.count == 2)  // 16 INVITE frames: retransmissions and T.38 re-INVITEs
    }

    @Test func compactHeadersAndInvalidContentLength() throws {
        let (_, compact) = try calls(Paths.corpus("pcap/sv-sip-compact-form.pcap"))
        #expect(compact.map(\.callID) == ["105090259-446faf7a@192.168.1.2"])
        #expect(compact.first?.caller == "sip:816666@192.168.1.2" || compact.first?.caller.contains("816666") == true)
        let (reader, bad) = try calls(Paths.corpus("pcap/zeek-sip-invalid-content-length.pcap"))
        #expect(bad.count == 1)
        #expect(bad.first?.answer != nil)
        #expect(reader.stats.faults["sip-content-length"] == 2)
    }

    @Test func captureStampedIn2092KeepsItsDates() throws {
        let (_, found) = try calls(Paths.corpus("pcap/hep-sip-ipv6-udp.pcap"))
        let call = try #require(found.first)
        #expect(call.start == 1_328_589_362_251_758)
        // The BYE is stamped 2071, beyond 32-bit signed seconds: kept, not wrapped to 1935.
        #expect(call.end == 3_215_500_952_251_758)
        #expect(CallsCSV.time(3_867_576_602_251_758) == "2092-07-22T14:50:02.251758Z")
    }

    @Test func linkLayersWithoutSIPAreRead() throws {
        let (reader, found) = try calls(Paths.corpus("pcap/zeek-linux-sll2-nosip.pcap"))
        #expect(found.isEmpty)
        #expect(reader.stats.packets == 6)
        #expect(reader.stats.faults.isEmpty)
        #expect(reader.linkType == 276)
    }

    @Test func duplicateCapturesCountOnce() throws {
        // sv-cloudshark is the SIP-only subset of hep-rtp-rtcp: the same two calls.
        var o = ReaderOptions()
        o.zone = .utc
        let readers = ["pcap/hep-rtp-rtcp-sip-ipv4-udp.pcap", "pcap/sv-cloudshark-sip-s0.pcap"].enumerated().map {
            DumpReader(path: Paths.corpus($0.element), inputIndex: $0.offset, options: o)
        }
        let set = DumpSet(readers: readers, maxDisorder: 2 * CivilTime.hour)
        let n = set.orderedRecords(sites: SiteTable(towers: [], prisons: [])).count
        #expect(n == 2)
        #expect(set.stats.duplicate == 2)
        #expect(set.captureStats?.calls == 4)
    }
}

@Suite struct CaptureLimitTests {
    @Test func bodyOverTheFlowLimitKeepsTheHeaders() throws {
        var limits = CaptureLimits()
        limits.tcpFlowBytes = 4096
        let (reader, found) = try calls(Paths.corpus("pcap/sv-sip-body-large-null.pcap"), limits: limits)
        #expect(found.map(\.callID) == ["test123@attacker.com"])
        #expect(reader.stats.faults["sip-body-limit"] == 1)
    }

    @Test func openDialogLimitClosesTheOldest() throws {
        var limits = CaptureLimits()
        limits.openDialogs = 2
        let (reader, found) = try calls(Paths.corpus("pcap/hep-sip-ipv4-tcp-fragmented.pcap"), limits: limits)
        #expect(found.count == 37)
        #expect((reader.stats.faults["dialog-limit"] ?? 0) > 0)
    }

    @Test func truncatedCaptureKeepsTheCallsBeforeTheCut() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: Paths.corpus("pcap/ndpi-gre-sip.pcapng")))
        // Cut in the middle of the last packets.
        let path = NSTemporaryDirectory() + "celda-cut-" + UUID().uuidString + ".pcapng"
        _ = FileManager.default.createFile(atPath: path, contents: whole.prefix(whole.count - 300))
        let r = try CaptureReader(path: path)
        var got: [AssembledCall] = []
        var failure: InputError?
        do {
            while let c = try r.nextCall() { got.append(c) }
        } catch { failure = error }
        let error = try #require(failure)
        #expect(error.code == .truncated)
        #expect(error.message.contains("packet \(r.stats.packets + 1)"))
        #expect(got.count == 5)  // every call whose INVITE came before the cut
        #expect(r.stats.packets == 35)
    }

    @Test func hostileHeadersAreCappedNotCrashedOn() throws {
        var b = PcapBuilder()
        let long = String(repeating: "x", count: 70_000)
        var data = Array(sip("INVITE tel:+525587654321 SIP/2.0", extra: ["X-Long: " + long]).utf8)
        data += Array(sip("INVITE tel:+525587654321 SIP/2.0", callID: "c2@test").utf8)
        var seq: UInt32 = 1000
        b.tcp([], seq: seq - 1, flags: 0x02)
        for chunk in stride(from: 0, to: data.count, by: 1400) {
            let part = Array(data[chunk..<min(data.count, chunk + 1400)])
            b.tcp(part, seq: seq)
            seq &+= UInt32(part.count)
        }
        let path = b.write()
        let (reader, found) = try calls(path)
        #expect(found.map(\.callID) == ["c2@test"])
        #expect(reader.stats.faults == ["sip-header-limit": 1], "\(reader.stats.faults)")
        let again = try CaptureReader(path: path)
        var notes: [String] = []
        again.onFault = { _, p, m in notes.append("\(p) \(m)") }
        while try again.nextCall() != nil {}
        #expect(notes.count == 1, "\(notes)")
    }
}

@Suite struct CaptureAssemblyTests {
    @Test func ipv4FragmentsOutOfOrderAreReassembled() throws {
        var b = PcapBuilder()
        let invite = sip(
            "INVITE tel:+525587654321 SIP/2.0",
            extra: ["P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=33402027101A2D001"],
            body: String(repeating: "a=x\r\n", count: 400))
        b.fragmentedUDP(invite, pieces: 3, order: [2, 0, 1])
        b.udp(sip("SIP/2.0 200 OK", toTag: "b2"), after: 2_000_000)
        b.udp(sip("BYE tel:+525587654321 SIP/2.0", cseq: "2 BYE", toTag: "b2"), after: 30_000_000)
        let (reader, found) = try calls(b.write())
        let c = try #require(found.first)
        #expect(found.count == 1)
        #expect(c.cell == CellID(mcc: 334, mnc: 20, lac: 0x2710, ci: 0x1A2D001))
        #expect(c.durationMs == 30_000)
        #expect(c.disposition == .answered)
        #expect(reader.stats.faults.isEmpty)
    }

    @Test func tcpOutOfOrderRetransmittedAndPackedSegments() throws {
        var b = PcapBuilder()
        let one = Array(sip("INVITE tel:+525587654321 SIP/2.0", body: "v=0\r\n").utf8)
        let two = Array(sip("SIP/2.0 180 Ringing", toTag: "b2").utf8)
        let three = Array(sip("CANCEL tel:+525587654321 SIP/2.0", cseq: "1 CANCEL").utf8)
        let stream = one + two + three
        let base: UInt32 = 0xFFFF_FF00  // wraps around
        let cut1 = 100
        let cut2 = one.count + 10
        b.tcp([], seq: base &- 1, flags: 0x02)  // SYN
        b.tcp(Array(stream[cut1..<cut2]), seq: base &+ UInt32(cut1))  // ahead of time
        b.tcp(Array(stream[0..<cut1]), seq: base)
        b.tcp(Array(stream[0..<cut1]), seq: base)  // retransmission
        b.tcp(Array(stream[(cut2 - 5)...]), seq: base &+ UInt32(cut2 - 5))  // overlapping, two messages packed
        let (reader, found) = try calls(b.write())
        #expect(found.map(\.callID) == ["c1@test"])
        #expect(found.first?.disposition == .cancelled)
        #expect(reader.stats.sipMessages == 3)
        #expect(reader.stats.faults.isEmpty)
    }

    @Test func challengeThenInviteIsOneCall() throws {
        var b = PcapBuilder()
        b.udp(sip("INVITE tel:+525587654321 SIP/2.0"))
        b.udp(sip("SIP/2.0 407 Proxy Authentication Required", toTag: "x"))
        b.udp(sip("INVITE tel:+525587654321 SIP/2.0", cseq: "2 INVITE"))
        b.udp(sip("SIP/2.0 200 OK", cseq: "2 INVITE", toTag: "y"), after: 3_000_000)
        b.udp(sip("INVITE tel:+525587654321 SIP/2.0", cseq: "3 INVITE", toTag: "y"), after: 1_000_000)  // re-INVITE
        b.udp(sip("SIP/2.0 488 Not Acceptable Here", cseq: "3 INVITE", toTag: "y"))
        let (_, found) = try calls(b.write())
        #expect(found.count == 1)
        #expect(found.first?.disposition == .unfinished)  // answered, no BYE before the end
        #expect(found.first?.answer != nil)
    }

    @Test func legsSharingAChargingIDCountOnce() throws {
        var b = PcapBuilder()
        let pcv = "P-Charging-Vector: icid-value=abc123;icid-generated-at=10.0.0.9"
        b.udp(sip("INVITE tel:+525587654321 SIP/2.0", callID: "leg1", extra: [pcv]))
        b.udp(sip("INVITE tel:+525587654321 SIP/2.0", callID: "leg2", extra: [pcv]), after: 20_000)
        b.udp(sip("INVITE tel:+525587654322 SIP/2.0", callID: "other"), after: 20_000)
        let path = b.write()
        let (_, found) = try calls(path)
        #expect(found.map(\.icid) == ["abc123", "abc123", ""])
        let reader = DumpReader(path: path, inputIndex: 0, options: ReaderOptions())
        let set = DumpSet(readers: [reader], maxDisorder: CivilTime.hour)
        var records: [CallRecord] = []
        set.run(sites: SiteTable(towers: [], prisons: [])) { records.append($0) }
        #expect(records.count == 2)
        #expect(set.stats.sameCallLegs == 1)
        #expect(set.stats.read == 3)
        #expect(reader.callID(of: records[0].source) == "leg1")
    }

    @Test func accessNetworkInfoEncodings() {
        func cell(_ v: String) -> String? {
            if case .cell(let c) = AccessNetworkInfo.decode(v) { return c.cell.formatted }
            return nil
        }
        #expect(cell("3GPP-GERAN; cgi-3gpp=0010103ef000a") == "001-001-1007-10")
        #expect(cell("3GPP-UTRAN-FDD; utran-cell-id-3gpp=33402003E80012345") == "334-020-1000-74565")
        #expect(cell("3GPP-NR-FDD;utran-cell-id-3gpp=334020000064000000123") == "334-020-100-291")
        #expect(cell("3gpp-e-utran-tdd;utran-cell-id-3gpp=\"3340200064000ABCD\"") == "334-020-100-43981")
        #expect(AccessNetworkInfo.decode("IEEE-802.11;i-wlan-node-id=ffffffffffff") == .none)
        #expect(AccessNetworkInfo.decode("3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=1234") == .malformed)
    }

    /// The byte decoder against the string decoder on values built from the pieces real PANI
    /// headers use, with spacing, case, quotes, empty and repeated parameters varied.
    @Test func accessNetworkInfoBytesMatchText() {
        var rng = SplitMix(7)
        let access = [
            "3GPP-E-UTRAN-FDD", "3gpp-e-utran-tdd", "3GPP-UTRAN-FDD", "3GPP-NR-FDD", "3GPP-GERAN", "IEEE-802.11", "",
            " 3GPP-NR-TDD ",
        ]
        let names = [
            "utran-cell-id-3gpp", "UTRAN-CELL-ID-3GPP", "cgi-3gpp", "utran-sai-3gpp", "network-provided",
            "i-wlan-node-id", "x",
        ]
        let values = [
            "33402003E80012345", "\"3340200064000ABCD\"", "0010103ef000a", "334020000064000000123", "", "1234",
            "33402g", "=5",
        ]
        for _ in 0..<5_000 {
            var v = access[Int(rng.next() % UInt64(access.count))]
            for _ in 0..<Int(rng.next() % 4) {
                let name = names[Int(rng.next() % UInt64(names.count))]
                let sep = ["=", " = ", "", "=="][Int(rng.next() % 4)]
                v +=
                    [";", "; ", " ;"][Int(rng.next() % 3)] + name + sep + values[Int(rng.next() % UInt64(values.count))]
            }
            #expect(AccessNetworkInfo.decode(v) == AccessNetworkInfo.decodeText(v), "\(v)")
        }
    }
}

@Suite struct CallsTableTests {
    /// `celda calls` of every corpus capture, as committed when the table was first checked
    /// against tshark (Golden/corpus-calls.csv): the parser and the writer must not drift.
    @Test func corpusCallsTableIsUnchanged() throws {
        let golden = Paths.root.appendingPathComponent("Tests/CeldaIngestTests/Golden/corpus-calls.csv")
        let expected = try String(contentsOf: golden, encoding: .utf8)
        var out = ""
        let files = try FileManager.default.contentsOfDirectory(atPath: Paths.corpus("pcap")).sorted()
        for file in files {
            out += "# \(file)\n" + CallsCSV.header
            let (_, found) = try calls(Paths.corpus("pcap/" + file))
            var bytes: [UInt8] = []
            var dates = CallsCSV.Dates()  // kept from row to row, as `celda calls` keeps it
            for c in found {
                CallsCSV.append(c, plan: .mexico, file: file, dates: &dates, to: &bytes)
                // The byte writer and the string form agree row by row.
                #expect(
                    String(
                        decoding: bytes.suffix(
                            from: bytes.count - CallsCSV.row(c, plan: .mexico, file: file).utf8.count), as: UTF8.self)
                        == CallsCSV.row(c, plan: .mexico, file: file))
            }
            out += String(decoding: bytes, as: UTF8.self)
        }
        #expect(out == expected)
    }

    /// Rows written with the date kept from the row before (`CallsCSV.Dates`) carry the times
    /// the string form writes, over runs of calls on one day, day changes both ways, midnight,
    /// and times before 1970.
    @Test func timesWithTheDateKeptAreThoseOfTheStringForm() {
        var rng = SplitMix(41)
        let day: Int64 = 86_400 * 1_000_000
        var t: Int64 = 20_472 * day  // 2026-01-19
        var dates = CallsCSV.Dates()
        var bytes: [UInt8] = []
        var expected = ""
        for i in 0..<20_000 {
            switch rng.next() % 10 {
            case 0: t += Int64(rng.next() % UInt64(3 * day))  // a later day
            case 1: t -= Int64(rng.next() % UInt64(3 * day))  // an earlier one
            case 2: t = (t / day) * day + Int64(rng.next() % 2) - 1  // either side of midnight
            case 3: t = -Int64(rng.next() % UInt64(400 * day))  // before 1970
            default: t += Int64(rng.next() % 90_000_000)  // the same day, mostly
            }
            var c = AssembledCall(callID: "c\(i)", start: t, caller: "", callee: "", icid: "", packet: i)
            if i % 3 == 0 { c.answer = t + Int64(rng.next() % UInt64(day)) }
            if i % 2 == 0 { c.end = t + Int64(rng.next() % UInt64(2 * day)) }
            CallsCSV.append(c, plan: .mexico, file: "x.pcap", dates: &dates, to: &bytes)
            expected += CallsCSV.row(c, plan: .mexico, file: "x.pcap")
        }
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }
}

/// Initial INVITEs are started from the header scan; the full parse is the reference. Random
/// INVITEs built from the header forms real captures carry (asserted identities in lists, with
/// display names and quoted commas, charging vectors with the ICID anywhere, PANI lists with bad
/// values, compact forms, odd spacing) give the same call and the same faults both ways.
@Suite struct InviteFromScanTests {
    static func invite(_ rng: inout SplitMix, id: Int) -> [UInt8] {
        func pick(_ xs: [String]) -> String { xs[Int(rng.next() % UInt64(xs.count))] }
        var lines = [pick(["INVITE tel:+525587654321 SIP/2.0", "INVITE sip:+525511112222@ims.mx;user=phone SIP/2.0"])]
        lines.append("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK\(id)")
        lines.append(
            pick(["From", "f", "FROM"]) + ":"
                + pick([
                    " <sip:+525500000001@ims.mx>;tag=a\(id)", " \"Ana, B\" <tel:+525500000001>;tag=b\(id)",
                    "sip:+525500000001@ims.mx;tag=c\(id)", " <sip:anon@anonymous.invalid>",
                    " tel:+5255 ;tag= \"q\(id)\"",
                ]))
        lines.append(pick(["To", "t"]) + ": " + pick(["<tel:+525587654321>", "\"X\" <sip:b@h>", "sip:c@h;x=1"]))
        lines.append(pick(["Call-ID", "i", "call-id"]) + ": call-\(id)@host")
        lines.append("CSeq: 1 INVITE")
        for _ in 0..<Int(rng.next() % 3) {
            lines.append(
                "P-Asserted-Identity: "
                    + pick([
                        "<sip:+525511110000@ims.mx>", "<tel:+525522220000>",
                        "\"Office, main\" <sip:o@h>, <tel:+525533330000>",
                        "sip:x@h;user=phone", "<sip:y@h>,tel:+525544440000", "",
                    ]))
        }
        for _ in 0..<Int(rng.next() % 3) {
            lines.append(
                "P-Charging-Vector: "
                    + pick([
                        "icid-value=abc\(id);icid-generated-at=10.0.0.9", "orig-ioi=ims.mx; icid-value = \"q\(id)\"",
                        "icid-generated-at=1.2.3.4", "ICID-VALUE=up\(id)",
                    ]))
        }
        for _ in 0..<Int(rng.next() % 3) {
            lines.append(
                "P-Access-Network-Info: "
                    + pick([
                        "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=33402003E80012345",
                        "3GPP-UTRAN-FDD;utran-cell-id-3gpp=33402003E80012345;network-provided",
                        "3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=1234", "IEEE-802.11;i-wlan-node-id=ffffffffffff",
                        "3GPP-GERAN; cgi-3gpp=0010103ef000a, 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=zz",
                    ]))
        }
        lines.append("Max-Forwards: 70")
        lines.append("Content-Length: 0")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    @Test func scanStartsTheSameCallsAsTheParse() throws {
        var rng = SplitMix(11)
        func assemble(_ messages: [[UInt8]], scan: Bool) -> (calls: [String], faults: [String]) {
            var calls: [String] = []
            var faults: [String] = []
            let a = CallAssembler(
                limits: CaptureLimits(),
                emit: { c in
                    calls.append(
                        [
                            c.callID, c.caller, c.callee, c.icid, c.cell.formatted, "\(c.cellNetworkProvided)",
                            "\(c.start)",
                        ]
                        .joined(separator: "|"))
                },
                fault: { code, packet, message in faults.append("\(code) \(packet) \(message)") })
            for (k, m) in messages.enumerated() {
                m.withUnsafeBytes { p in
                    var s = SIPScan()
                    if scan, SIPScan.scan(p, into: &s) == nil, !s.needsFullParse,
                        a.handle(&s, bytes: p, packet: k + 1, time: Int64(k) * 1000)
                    {
                        return
                    }
                    if case .success(let msg) = SIPParser.parse(p) {
                        a.handle(msg, packet: k + 1, time: Int64(k) * 1000)
                    }
                }
            }
            a.finish()
            return (calls, faults)
        }
        let messages = (0..<3000).map { Self.invite(&rng, id: $0) }
        let scanned = assemble(messages, scan: true)
        let parsed = assemble(messages, scan: false)
        #expect(parsed.calls.count == 3000)
        #expect(scanned.calls == parsed.calls)
        #expect(scanned.faults == parsed.faults)
        #expect(parsed.faults.contains { $0.hasPrefix("pani-malformed") })
        #expect(parsed.calls.contains { $0.contains("|tel:+525522220000|") })
    }

    /// Whole dialogs (INVITE, 180, 200, ACK, BYE, 200), interleaved, with stray BYEs, copies of
    /// INVITEs and calls that hang up a minute later, give the same calls, faults and orphans
    /// when Call-ID hashes collide (six bits kept: 63 hashes for 300 dialogs) as with the full
    /// hash; and with no bits kept, a call whose hash entry went with an older call's release
    /// still gets its BYE. A collision sends a message to the full path, which finds the dialog
    /// by its Call-ID.
    @Test func callIDHashCollisionsChangeNothing() throws {
        var rng = SplitMix(5)
        func message(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) }
        func dialog(_ id: Int) -> [[UInt8]] {
            let head = { (cseq: String) in
                [
                    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK\(id)", "From: <sip:+5255000\(id)@ims.mx>;tag=a\(id)",
                    "To: <tel:+525587654321>;tag=z\(id)", "Call-ID: call-\(id)@host", "CSeq: \(cseq)",
                    "Content-Length: 0",
                ]
            }
            var out = [Self.invite(&rng, id: id)]
            out.append(message(["SIP/2.0 180 Ringing"] + head("1 INVITE")))
            out.append(message(["SIP/2.0 200 OK"] + head("1 INVITE")))
            out.append(message(["ACK tel:+525587654321 SIP/2.0"] + head("1 ACK")))
            if id % 7 == 0 { out.append(Self.invite(&rng, id: id)) }  // a copy from another hop
            if id % 5 != 0 {
                out.append(message(["BYE sip:+5255000\(id)@ims.mx SIP/2.0"] + head("2 BYE")))
                out.append(message(["SIP/2.0 200 OK"] + head("2 BYE")))
            }
            return out
        }
        // Dialogs started a few at a time, their messages interleaved in order, plus stray BYEs.
        // A third hang up long after (60 s), when older calls of their hash have been released.
        var pending: [[[UInt8]]] = []
        var later: [(due: Int, messages: [[UInt8]])] = []
        var messages: [[UInt8]] = []
        var next = 0
        while next < 300 || !pending.isEmpty || !later.isEmpty {
            if let k = later.firstIndex(where: { $0.due <= messages.count }) {
                pending.append(later.remove(at: k).messages)
            }
            if next < 300, pending.count < 8 || rng.next() % 3 == 0 {
                var d = dialog(next)
                if next % 3 == 0, d.count > 4 {
                    later.append((messages.count + 600, Array(d[4...])))
                    d.removeLast(d.count - 4)
                }
                pending.append(d)
                next += 1
            }
            if pending.isEmpty {
                // Only long calls left: time passes with stray traffic.
                messages.append(
                    message([
                        "OPTIONS sip:x@h SIP/2.0", "From: <sip:a@h>;tag=o", "To: <sip:b@h>",
                        "Call-ID: ping-\(messages.count)@host", "CSeq: 1 OPTIONS", "Content-Length: 0",
                    ]))
                continue
            }
            let k = Int(rng.next() % UInt64(pending.count))
            messages.append(pending[k].removeFirst())
            if pending[k].isEmpty { pending.remove(at: k) }
            if rng.next() % 50 == 0 {
                messages.append(
                    message([
                        "BYE sip:x@h SIP/2.0", "From: <sip:a@h>;tag=s", "To: <sip:b@h>;tag=t",
                        "Call-ID: stray-\(messages.count)@host", "CSeq: 9 BYE", "Content-Length: 0",
                    ]))
            }
        }
        func assemble(
            keyMask: UInt64, _ messages: [[UInt8]], step: Int64 = 100_000
        ) -> (
            calls: [String], faults: [String], orphans: Int
        ) {
            var calls: [String] = []
            var faults: [String] = []
            let a = CallAssembler(
                limits: CaptureLimits(), keyMask: keyMask,
                emit: { c in
                    calls.append(
                        [c.callID, c.caller, c.callee, "\(c.start)", "\(c.end ?? -1)", "\(c.disposition)"]
                            .joined(separator: "|"))
                },
                fault: { code, packet, message in faults.append("\(code) \(packet) \(message)") })
            for (k, m) in messages.enumerated() {
                m.withUnsafeBytes { p in
                    var s = SIPScan()
                    // 0.1 s apart: calls are released (after 32 s) while others of their hash
                    // are still open.
                    let time = Int64(k) * step
                    if SIPScan.scan(p, into: &s) == nil, !s.needsFullParse,
                        a.handle(&s, bytes: p, packet: k + 1, time: time)
                    {
                        return
                    }
                    if case .success(let msg) = SIPParser.parse(p) { a.handle(msg, packet: k + 1, time: time) }
                }
            }
            a.finish()
            return (calls, faults, a.orphans)
        }
        let full = assemble(keyMask: ~0, messages)
        let colliding = assemble(keyMask: 63, messages)
        #expect(full.calls.count == 300)
        #expect(full.calls.filter { $0.hasSuffix("|answered") }.count > 200)
        #expect(full.orphans > 0)
        #expect(colliding.calls == full.calls)
        #expect(colliding.faults == full.faults)
        #expect(colliding.orphans == full.orphans)

        // Every hash the same: call 1 is open when call 0, which holds the hash entry, is
        // released; call 1's BYE then finds no entry and must still reach its dialog.
        let d0 = dialog(1002)
        let d1 = dialog(1003)
        let ping = message([
            "OPTIONS sip:x@h SIP/2.0", "From: <sip:a@h>;tag=o", "To: <sip:b@h>", "Call-ID: ping@host",
            "CSeq: 1 OPTIONS", "Content-Length: 0",
        ])
        let script =
            Array(d0[0..<4]) + Array(d1[0..<4]) + Array(d0[4...]) + Array(repeating: ping, count: 40)
            + Array(d1[4...])
        let one = assemble(keyMask: ~0, script, step: 1_000_000)
        let same = assemble(keyMask: 0, script, step: 1_000_000)
        #expect(one.calls.count == 2)
        #expect(one.calls.allSatisfy { $0.hasSuffix("|answered") })
        #expect(same.calls == one.calls)
        #expect(same.orphans == one.orphans)
    }

    /// Decoding on its own thread gives the calls and faults, in order, of decoding in the
    /// caller's thread; a reader dropped before the end stops its thread.
    @Test(arguments: CaptureOracle.captures.map(\.file))
    func pipelinedReadingIsTheSame(file: String) throws {
        let path = Paths.corpus("pcap/" + file)
        func read(_ pipelined: Bool) throws -> ([String], [String], CaptureStats) {
            let r = try CaptureReader.open(path, pipelined: pipelined)
            var faults: [String] = []
            r.onFault = { code, packet, message in faults.append("\(code) \(packet) \(message)") }
            var calls: [String] = []
            while let c = try r.nextCall() { calls.append("\(c.callID) \(c.start) \(c.caller) \(c.cell.formatted)") }
            return (calls, faults, r.stats)
        }
        let one = try read(false)
        let two = try read(true)
        #expect(one.0 == two.0)
        #expect(one.1 == two.1)
        #expect(one.2 == two.2)
        var early: CaptureReader? = try CaptureReader.open(path)
        _ = try early?.nextCall()
        early = nil
    }
}
