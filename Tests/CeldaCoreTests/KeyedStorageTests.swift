import Testing

@testable import CeldaCore

/// The pooled sets and maps that detector state refers to by handle, against `Set` and
/// `Dictionary` under random inserts, prunes and frees (small blocks, spills into big ones, and
/// reuse of freed handles of either kind).
struct KeyedStorageTests {
    @Test(arguments: [1, 2, 3])
    func partySetsMatchSets(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        var sets = PartySets()
        var handles = [Int32](repeating: -1, count: 40)
        var model = [Set<Party>](repeating: [], count: 40)
        for _ in 0..<20_000 {
            let k = Int(rng.next() % 40)
            switch rng.next() % 10 {
            case 0:
                sets.release(&handles[k])
                model[k] = []
            default:
                // Mostly a few parties per set; some sets grow past the inline block.
                let p = Party(raw: 1 + rng.next() % (k % 3 == 0 ? 40 : 6))
                sets.insert(p, into: &handles[k])
                model[k].insert(p)
            }
            let probe = Party(raw: 1 + rng.next() % 40)
            #expect(sets.contains(handles[k], probe) == model[k].contains(probe))
            #expect(sets.count(handles[k]) == model[k].count)
        }
        #expect(sets.handles.big.count > 0)
    }

    @Test(arguments: [1, 2, 3])
    func partyTimesMatchDictionaries(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        var maps = PartyTimes()
        var handles = [Int32](repeating: -1, count: 40)
        var model = [[Party: EventTime]](repeating: [:], count: 40)
        for step in 0..<20_000 {
            let k = Int(rng.next() % 40)
            let now = EventTime(step)
            switch rng.next() % 12 {
            case 0:
                maps.release(&handles[k])
                model[k] = [:]
            case 1:
                let from = now - EventTime(rng.next() % 200)
                maps.keep(handles[k], after: from)
                model[k] = model[k].filter { $0.value > from }
            default:
                let p = Party(raw: 1 + rng.next() % (k % 3 == 0 ? 40 : 6))
                maps.set(p, now, in: &handles[k])
                model[k][p] = now
            }
            let probe = Party(raw: 1 + rng.next() % 40)
            #expect(maps.time(handles[k], of: probe) == model[k][probe])
            #expect(maps.count(handles[k]) == model[k].count)
        }
        #expect(maps.handles.big.count > 0)
    }

    /// A map pruned to four pairs or fewer moves back into its block and frees its `Dictionary`.
    @Test func aPrunedMapMovesBackInline() {
        var maps = PartyTimes()
        var h: Int32 = -1
        for i in 1...10 { maps.set(Party(raw: UInt64(i)), EventTime(i), in: &h) }
        #expect(maps.handles.inlineCount(h) == nil)
        maps.keep(h, after: 7)
        #expect(maps.handles.inlineCount(h) == 3)
        #expect(maps.handles.bigFree.count == 1)
        #expect(
            (1...10).map { maps.time(h, of: Party(raw: UInt64($0))) } == [nil, nil, nil, nil, nil, nil, nil, 8, 9, 10])
        // Nothing older than the cut: unchanged.
        maps.keep(h, after: 2)
        #expect(maps.count(h) == 3)
    }

    /// A sketch holds no memory until a pair is added, and merging with an empty one changes
    /// nothing, in either order.
    @Test func pairSketchIsLazyAndMergesWithEmpty() {
        var a = PairSketch()
        #expect(a.words.isEmpty)
        #expect(!a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        a.add(caller: Party(raw: 5), callee: Party(raw: 7))
        #expect(!a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        a.add(caller: Party(raw: 5), callee: Party(raw: 7))
        #expect(a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        #expect(a.words.count == PairSketch.wordCount)
        var b = PairSketch()
        b.merge(a)
        var c = a
        c.merge(PairSketch())
        #expect(b.words == a.words)
        #expect(c.words == a.words)
        var once = PairSketch()
        once.add(caller: Party(raw: 5), callee: Party(raw: 7))
        var twice = once
        twice.merge(once)
        #expect(twice.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
    }
}
