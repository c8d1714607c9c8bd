import CeldaCore
import CeldaIngest
import Testing

@Suite struct SparkTextTests {
    @Test(arguments: ["", "plain", "tab\there", "line\nbreak\r\n", "back\\slash\\t", "\\\t\n\r\\"])
    func escapeRoundTrips(_ text: String) {
        var escaped: [UInt8] = []
        SparkText.escape(Array(text.utf8), into: &escaped)
        #expect(!escaped.contains(0x09) && !escaped.contains(0x0A) && !escaped.contains(0x0D))
        var back: [UInt8] = []
        escaped.withUnsafeBytes { SparkText.unescape($0, into: &back) }
        #expect(back == Array(text.utf8))
    }

    @Test func base64RoundTripsEveryLength() {
        var rng = SplitMix(3)
        for n in 0..<70 {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let text = SparkText.base64(bytes)
            #expect(text.count == (n + 2) / 3 * 4)
            #expect(SparkText.unbase64(text) == bytes)
        }
        #expect(SparkText.base64(Array("Man".utf8)) == Array("TWFu".utf8))
        #expect(SparkText.unbase64(Array("TWE=".utf8)) == Array("Ma".utf8))
        #expect(SparkText.unbase64(Array("TW=u".utf8)) == nil)
        #expect(SparkText.unbase64(Array("TWF".utf8)) == nil)
    }

    /// Sorting record keys as text sorts the records as the engine releases them.
    @Test func keyTextOrderIsTheEngineOrder() {
        var rng = SplitMix(11)
        var records: [CallRecord] = []
        for i in 0..<400 {
            let pick = { (n: UInt64) in rng.next() % n }
            var r = CallRecord(
                start: EventTime(pick(5)) * 1_000_000 - 2_000_000, durationMs: UInt32(pick(3)),
                flags: pick(2) == 0 ? [] : .answered,
                caller: pick(4) == 0 ? .text(hash: rng.next()) : .e164(525_500_000_000 + pick(3)),
                callee: .e164(525_500_000_000 + pick(3)), imei: pick(2), imsi: pick(2),
                cell: pick(3) == 0 ? .none : CellID(plmn: 334_020, lac: UInt32(pick(2)), ci: pick(2) << 40),
                source: SourceRef(input: Int(pick(3)), offset: i, line: 0))
            if pick(10) == 0 { r.source = SourceRef(input: 0, offset: Int(pick(1 << 40)), line: 0) }
            records.append(r)
        }
        let keys = records.map { r in
            var k: [UInt8] = []
            SparkKey.encode(r, into: &k)
            return k
        }
        #expect(keys.allSatisfy { $0.count == SparkKey.length })
        for (r, k) in zip(records, keys) { #expect(k.withUnsafeBytes { SparkKey.decode($0) } == r) }
        let byText = zip(records, keys).sorted { $0.1.lexicographicallyPrecedes($1.1) }.map(\.0)
        let byEngine = records.sorted(by: CallRecord.precedes)
        #expect(byText == byEngine)
    }

    /// Lanes and shards hold whole key groups, whatever the counts.
    @Test func partitionsKeepKeyGroupsWhole() {
        var rng = SplitMix(5)
        let keys = (0..<20_000).map { _ in rng.next() }
        for parts in [1, 2, 5] {
            for lanes in [1, 3, 8] {
                var owner: [Int: String] = [:]
                for part in 0..<parts {
                    let p = KeyPartition(part: part, parts: parts)
                    for k in keys {
                        guard let lane = p.lane(of: k, lanes: lanes) else { continue }
                        let g = KeyPartition.group(of: k)
                        let here = "\(part)/\(lane)"
                        #expect(owner[g, default: here] == here)
                        owner[g] = here
                    }
                }
                #expect(owner.count == Set(keys.map(KeyPartition.group(of:))).count)
            }
        }
    }
}
