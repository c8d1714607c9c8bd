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
                // Mostly a few parties per set; some sets grow past the inline block and through
                // the hash blocks of 8, 16, 32 and 64 slots. Party 0 (none) is a party like another.
                let p = Party(raw: rng.next() % (k % 3 == 0 ? 40 : 6))
                sets.insert(p, into: &handles[k])
                model[k].insert(p)
            }
            let probe = Party(raw: rng.next() % 40)
            #expect(sets.contains(handles[k], probe) == model[k].contains(probe))
            #expect(sets.count(handles[k]) == model[k].count)
        }
        #expect(sets.handles.big.count > 0)
        // Sets of up to 40 parties reached the tier of 64 slots; freed blocks were taken again.
        #expect(sets.tiers.count == 4)
        #expect(sets.tiers.indices.allSatisfy { sets.tiers[$0].slots.count / PartySets.size(ofTier: $0) <= 40 })
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
        // Maps of up to 40 pairs reached blocks of 8, 16 and 32; freed blocks were taken again
        // (40 maps never need more than 40 blocks of a tier).
        #expect(maps.tiers.count >= 3)
        #expect(maps.tiers.indices.allSatisfy { maps.tiers[$0].parties.count / PartyTimes.size(ofTier: $0) <= 40 })
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

    /// `burst`'s per-line slot keeps its size as fields are added into its padding (a slot
    /// straddles two or three cache lines; a bigger one would make the table bigger too). It
    /// grew from 88 bytes once, by 16, when the `sequential` rule's state moved in (the rule's
    /// own table, 48-byte slots, is not built then).
    @Test func burstSlotStaysOneHundredAndFourBytes() {
        #expect(MemoryLayout<KeyTable<BurstDetector.LineState>.Slot>.stride == 104)
        #expect(MemoryLayout<KeyTable<SequentialDetector.LineState>.Slot>.stride == 48)
    }

    /// Changes through `valuePointer(at:)` land in the slot the subscript reads, for values of
    /// several alignments, and a copy taken before keeps its own values (the pointer's one
    /// uniqueness check copies the shared slots first).
    @Test func valuePointerWritesTheSlot() {
        func check<V: Sendable & BitwiseCopyable & Equatable>(_ empty: V, _ make: (Int) -> V) {
            var table = KeyTable<V>(empty: empty, capacity: 8)
            for k in 1...200 { table.valuePointer(at: table.findOrInsert(UInt64(k))).pointee = make(k) }
            let copy = table
            for k in 1...200 {
                let p = table.valuePointer(at: table.find(UInt64(k))!)
                #expect(p.pointee == make(k))
                p.pointee = make(k + 1000)
            }
            for k in 1...200 {
                #expect(table[table.find(UInt64(k))!] == make(k + 1000))
                #expect(copy[copy.find(UInt64(k))!] == make(k))
            }
        }
        check(UInt8(0)) { UInt8(truncatingIfNeeded: $0) }
        check(Int32(0)) { Int32($0) }
        // A wide value, aligned wider than the hash word.
        check(SIMD8<Int64>(repeating: 0)) { SIMD8<Int64>(repeating: Int64($0)) }
    }

    /// A mapped array against an `Array`: appends one at a time and in blocks take it through
    /// many doublings of its mapping (remapped, not copied) with every element kept; changes
    /// through the subscript land; a copy keeps its elements when the original changes. From
    /// 2 MiB up its mapping is aligned to 2 MiB (Linux).
    @Test func mappedArrayMatchesAnArray() {
        var mapped = MappedArray<UInt64>()
        var oracle: [UInt64] = []
        #expect(mapped.isEmpty && mapped.capacity == 0)
        var capacities = Set<Int>()
        var big = 0
        var bigAndAligned = 0
        for i in 0..<300_000 {
            let v = UInt64(i) &* 0x9E37_79B9
            if i % 7 == 0 {
                mapped.append(repeating: v, count: 3)
                oracle.append(contentsOf: repeatElement(v, count: 3))
            } else {
                mapped.append(v)
                oracle.append(v)
            }
            if i % 5 == 0 {
                let k = Int(v % UInt64(oracle.count))
                mapped[k] &+= 1
                oracle[k] &+= 1
            }
            capacities.insert(mapped.capacity)
            #if os(Linux)
            // From 2 MiB up a mapping starts on a 2 MiB boundary, also once it has moved, so
            // all of it can be in huge pages.
            if i % 1_000 == 0, mapped.capacity * 8 >= 2 << 20 {
                bigAndAligned += Int(bitPattern: mapped.buffer(0..<1).baseAddress) % (2 << 20) == 0 ? 1 : 0
                big += 1
            }
            #endif
        }
        #if os(Linux)
        #expect(big > 10 && bigAndAligned == big)
        #endif
        #expect(mapped.count == oracle.count)
        #expect((0..<oracle.count).allSatisfy { mapped[$0] == oracle[$0] })
        #expect(Array(mapped.buffer(10..<20)) == Array(oracle[10..<20]))
        #expect(capacities.count > 8 && mapped.capacity >= oracle.count)
        let copy = mapped
        for k in 0..<1_000 { mapped[k] = 0 }
        mapped.append(42)
        #expect((0..<oracle.count).allSatisfy { copy[$0] == oracle[$0] } && copy.count == oracle.count)
        #expect(mapped[0] == 0 && mapped[oracle.count] == 42)
    }

    /// The oracle: an array per list. Random appends (some late, so they go before the tail),
    /// expiries and whole-list releases over 40 lists keep every list in time order with the
    /// entries the arrays have, and freed entries are reused: the pool never holds more entries
    /// than were live at once.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func entryPoolMatchesArraysAndReusesFreedEntries(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        var pool = EntryPool()
        var lists = Array(repeating: EntryList(), count: 40)
        var oracle = Array(repeating: [(start: EventTime, other: UInt64)](), count: 40)
        var mostLive = 0
        for step in 0..<30_000 {
            let k = Int(rng.next() % 40)
            switch rng.next() % 20 {
            case 0..<12:
                let late = rng.next() % 5 == 0
                let start = EventTime(step) - (late ? EventTime(rng.next() % 50) : 0)
                let other = rng.next() % 1000 + 1
                let e = WindowEntry(
                    start: start, other: Party(raw: other), durationMs: 0, answered: false, site: 0, cellKey: 0,
                    ref: SourceRef(input: 0, offset: step, line: step))
                pool.insert(e, into: &lists[k])
                // After the last entry not later than it.
                let at = oracle[k].lastIndex { $0.start <= start }.map { $0 + 1 } ?? 0
                oracle[k].insert((start, other), at: at)
            case 12..<18:
                let cut = EventTime(step) - EventTime(rng.next() % 200)
                pool.expire(&lists[k], before: cut)
                oracle[k].removeAll { $0.start <= cut }
            default:
                pool.release(&lists[k])
                oracle[k] = []
            }
            mostLive = max(mostLive, oracle.reduce(0) { $0 + $1.count })
            #expect(Int(lists[k].count) == oracle[k].count)
            if step % 101 == 0 {
                var out: [WindowEntry] = []
                for j in 0..<40 {
                    pool.collect(lists[j], into: &out)
                    #expect(out.map { $0.start } == oracle[j].map(\.start))
                    #expect(out.map { $0.other.raw } == oracle[j].map(\.other))
                }
            }
        }
        #expect(pool.nodes.count <= mostLive)
    }

    /// The oracle: a `Dictionary`. Random inserts, updates, removals and sweeps take the table
    /// through its growth steps (16, 24, 32, 48, … slots) with keys clustered to collide and
    /// probe chains that wrap at the end; every key reads back as the dictionary has it.
    @Test func keyTableMatchesADictionary() {
        var rng = OrderRandom(s: 5)
        var table = KeyTable<Int>(empty: -1, capacity: 1)
        var oracle: [UInt64: Int] = [:]
        var sizes = Set<Int>()
        for step in 0..<40_000 {
            // A small key space, so keys come back after removal and chains are long.
            let key = 1 + rng.next() % UInt64(64 + step / 20)
            switch rng.next() % 10 {
            case 0..<6:
                let slot = table.findOrInsert(key)
                table[slot] = step
                oracle[key] = step
            case 6..<9:
                if let slot = table.find(key) { table.remove(at: slot) }
                oracle[key] = nil
            default:
                let cut = step - 300
                table.removeAll { $0 < cut }
                oracle = oracle.filter { $0.value >= cut }
            }
            sizes.insert(table.capacity)
            #expect(table.count == oracle.count)
            if step % 97 == 0 {
                for k in 1...UInt64(64 + step / 20) {
                    #expect(table.find(k).map { table[$0] } == oracle[k])
                }
            }
        }
        #expect(sizes.contains(24) && sizes.contains(32) && sizes.contains(48) && sizes.contains(64))
        for (k, v) in oracle { #expect(table.find(k).map { table[$0] } == v) }
        Self.expectOrdered(table)
    }

    /// The table's layout rule, checked slot by slot: every key is reachable from its home (no
    /// empty slot between them) and each run of occupied slots is in hash order, which is what
    /// lets a lookup stop early and a growth move keys in place.
    static func expectOrdered<V>(_ table: KeyTable<V>) {
        let n = table.capacity
        var start = 0
        while table.key(at: start) != 0 { start += 1 }
        var previous: UInt64?
        var j = start
        var count = 0
        for _ in 0..<n {
            j = j + 1 == n ? 0 : j + 1
            let k = table.key(at: j)
            if k == 0 {
                previous = nil
                continue
            }
            count += 1
            var p = KeyTable<V>.home(k, count: n)
            while p != j {
                #expect(table.key(at: p) != 0, "key \(k) in slot \(j) is cut off from its home")
                p = p + 1 == n ? 0 : p + 1
            }
            let h = KeyTable<V>.hash(k)
            // In a run, homes and hashes rise, except where the run wraps past the end.
            if let prev = previous, KeyTable<V>.home(prev, count: n) <= KeyTable<V>.home(k, count: n) {
                #expect(KeyTable<V>.hash(prev) < h, "slot \(j) is out of hash order")
            }
            previous = k
        }
        #expect(count == table.count)
    }

    /// Growing in place through many steps, with removals and sweeps between them, keeps every
    /// key and the layout rule; lookups of absent keys (stopped early) agree with the dictionary.
    @Test(arguments: [7, 8] as [UInt64])
    func keyTableGrowsInPlaceKeepingEveryKey(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        var table = KeyTable<UInt64>(empty: 0, capacity: 1)
        var oracle: [UInt64: UInt64] = [:]
        var sizes: [Int] = []
        for step in 0..<120_000 {
            let key = 1 + rng.next() % 200_000
            switch rng.next() % 16 {
            case 0..<12:
                let slot = table.findOrInsert(key)
                table[slot] &+= key
                oracle[key, default: 0] &+= key
            case 12..<15:
                if let slot = table.find(key) { table.remove(at: slot) }
                oracle[key] = nil
            default:
                #expect(table.find(key).map { table[$0] } == oracle[key])
            }
            if step % 10_000 == 9_999 {
                let cut = rng.next() % 4
                table.removeAll { $0 % 4 == cut }
                oracle = oracle.filter { $0.value % 4 != cut }
            }
            if sizes.last != table.capacity {
                sizes.append(table.capacity)
                Self.expectOrdered(table)
            }
        }
        #expect(table.count == oracle.count)
        Self.expectOrdered(table)
        for k in 1...UInt64(200_000) { #expect(table.find(k).map { table[$0] } == oracle[k]) }
        #expect(sizes.count > 10 && table.capacity >= 1 << 15)
    }

    /// A run that wraps past the end of a tiny table and is too long to unwrap into the added
    /// slots: the table grows by inserting every key again, and keeps them all.
    @Test func keyTableGrowsPastALongWrappedRun() {
        // Keys whose home in 16 slots is the last one, so their run wraps to the start.
        var keys: [UInt64] = []
        var k: UInt64 = 1
        while keys.count < 11 {
            if KeyTable<Int>.home(k, count: 16) == 15 { keys.append(k) }
            k += 1
        }
        var table = KeyTable<Int>(empty: -1, capacity: 1)
        for (i, key) in keys.enumerated() { table[table.findOrInsert(key)] = i }
        #expect(table.capacity == 16)
        Self.expectOrdered(table)
        table[table.findOrInsert(1_000_003)] = 99
        #expect(table.capacity == 24)
        Self.expectOrdered(table)
        for (i, key) in keys.enumerated() { #expect(table.find(key).map { table[$0] } == i) }
        #expect(table.find(1_000_003).map { table[$0] } == 99)
    }

    /// A short run that wraps past the end (four keys whose home is the last slot in 24 slots, so
    /// in 16 as well) is unwrapped into the added slots, and the keys the grown table has no room
    /// for at its end wrap to its start again, ahead of the keys there.
    @Test func keyTableGrowsInPlaceWithAWrappedRun() {
        var last: [UInt64] = []
        var first: [UInt64] = []
        var k: UInt64 = 1
        while last.count < 4 || first.count < 7 {
            if KeyTable<Int>.home(k, count: 24) == 23, last.count < 4 { last.append(k) }
            if KeyTable<Int>.home(k, count: 16) == 0, first.count < 7 { first.append(k) }
            k += 1
        }
        var table = KeyTable<Int>(empty: -1, capacity: 1)
        for (i, key) in (last + first).enumerated() { table[table.findOrInsert(key)] = i }
        #expect(table.capacity == 16 && table.key(at: 0) != 0)
        Self.expectOrdered(table)
        table[table.findOrInsert(1_000_003)] = 99
        #expect(table.capacity == 24)
        Self.expectOrdered(table)
        for (i, key) in (last + first).enumerated() { #expect(table.find(key).map { table[$0] } == i) }
        // Three of the four wrapped again: at the start, before the keys whose home is there.
        #expect(table.key(at: 23) == last.min { KeyTable<Int>.hash($0) < KeyTable<Int>.hash($1) })
        #expect(last.contains(table.key(at: 0)) && last.contains(table.key(at: 2)))
    }

    /// Slots hold hashes: the hash is undone exactly, so every key reads back from its slot.
    @Test func keyTableHashIsABijection() {
        var rng = OrderRandom(s: 11)
        for _ in 0..<10_000 {
            let k = rng.next()
            #expect(KeyTable<Int>.unhash(KeyTable<Int>.hash(k)) == k)
        }
        #expect(KeyTable<Int>.hash(0) == 0 && KeyTable<Int>.unhash(UInt64.max) != 0)
        var table = KeyTable<Int>(empty: -1, capacity: 1)
        let keys: [UInt64] = [1, 2, 52_155_512_345, UInt64.max, 1 << 63]
        for k in keys { table[table.findOrInsert(k)] = 1 }
        let read = (0..<table.capacity).map { table.key(at: $0) }.filter { $0 != 0 }
        #expect(Set(read) == Set(keys))
    }

    /// A copy of a table is a value: changing either leaves the other as it was.
    @Test func keyTableCopiesAreIndependent() {
        var a = KeyTable<Int>(empty: -1, capacity: 1)
        for k in 1...50 as ClosedRange<UInt64> { a[a.findOrInsert(k)] = Int(k) }
        var b = a
        b[b.find(7)!] = 701
        b.remove(at: b.find(8)!)
        for k in 51...500 as ClosedRange<UInt64> { b[b.findOrInsert(k)] = Int(k) }
        b.removeAll { $0 % 2 == 0 }
        #expect(a.count == 50 && a.capacity < b.capacity)
        for k in 1...50 as ClosedRange<UInt64> { #expect(a.find(k).map { a[$0] } == Int(k)) }
        #expect(b.find(7).map { b[$0] } == 701)
        #expect(b.find(8) == nil && b.find(10) == nil && b.find(499).map { b[$0] } == 499)
        Self.expectOrdered(a)
        Self.expectOrdered(b)
    }

    /// A pair counts as usual from its second call; merging adds counts (once and once is
    /// twice), an empty sketch changes nothing, and a sketch merged with itself is unchanged.
    @Test func pairSketchCountsAndMerges() {
        let a = PairSketch(counters: 1 << 16)
        #expect(a.isEmpty)
        #expect(!a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        a.add(caller: Party(raw: 5), callee: Party(raw: 7))
        #expect(!a.isEmpty)
        #expect(!a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        a.add(caller: Party(raw: 5), callee: Party(raw: 7))
        #expect(a.usual(caller: Party(raw: 5), callee: Party(raw: 7)))
        #expect(!a.usual(caller: Party(raw: 7), callee: Party(raw: 5)))
        func words(_ s: PairSketch) -> [UInt64] { s.withWords { Array($0) } }
        let before = words(a)
        a.merge(a)
        #expect(words(a) == before)
        let b = PairSketch(counters: 1 << 16)
        b.merge(a)
        a.merge(PairSketch(counters: 1 << 16))
        #expect(words(b) == before)
        #expect(words(a) == before)
        let once = PairSketch(counters: 1 << 16)
        once.add(caller: Party(raw: 5), callee: Party(raw: 8))
        let other = PairSketch(counters: 1 << 16)
        other.add(caller: Party(raw: 5), callee: Party(raw: 8))
        #expect(!once.usual(caller: Party(raw: 5), callee: Party(raw: 8)))
        once.merge(other)
        #expect(once.usual(caller: Party(raw: 5), callee: Party(raw: 8)))
    }

    /// The share of counters at two is the count of high counter bits, word by word (the C
    /// shim's count against `nonzeroBitCount`), as the sketch fills from empty to saturated.
    @Test func pairSketchSaturationCountsTheCountersAtTwo() {
        let sketch = PairSketch(counters: 1 << 14)
        var rng = OrderRandom(s: 5)
        var checked = 0
        for round in 0..<12 {
            for _ in 0..<(1 << round) {
                sketch.add(caller: Party(raw: rng.next() % 300 + 1), callee: Party(raw: rng.next() % 300 + 1))
            }
            let high = sketch.withWords { w in w.reduce(0) { $0 + ($1 & 0xAAAA_AAAA_AAAA_AAAA).nonzeroBitCount } }
            #expect(sketch.saturation == Double(high) / Double(sketch.counters))
            if high > 0 { checked += 1 }
        }
        #expect(checked >= 8)
        #expect(sketch.saturation > 0.3)
    }

    /// The oracle: exact pair counts. Whatever the threads and however their adds interleave,
    /// one call at a time or queued runs of them (``PairSketch/add(hashes:)``, as `victim` adds
    /// them), every counter ends at min(2, its updates), the same words as one thread adding the
    /// same pairs one by one; a pair called twice is always usual, and the share of strangers
    /// taken for usual stays near ``PairSketch/falseUsualRate``.
    @Test func pairSketchSharedByThreadsMatchesOneThread() async {
        var rng = OrderRandom(s: 11)
        let pairs = (0..<60_000).map { _ in (Party(raw: rng.next() % 20_000), Party(raw: rng.next() % 20_000)) }
        let one = PairSketch(counters: 1 << 18)
        for (a, b) in pairs { one.add(caller: a, callee: b) }
        let shared = PairSketch(counters: 1 << 18)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    // Each task takes every fourth pair, in its own order: two one at a time, two
                    // in queued runs of uneven length (1 to 40 pairs, shorter than the lookahead
                    // and longer).
                    let mine = pairs.enumerated().reversed().filter { $0.offset % 4 == t }.map(\.element)
                    guard t >= 2 else {
                        for (a, b) in mine { shared.add(caller: a, callee: b) }
                        return
                    }
                    var start = 0
                    var run = t
                    while start < mine.count {
                        let end = min(mine.count, start + run % 40 + 1)
                        let queue = mine[start..<end].map { PairSketch.hash(caller: $0.0, callee: $0.1) }
                        queue.withUnsafeBufferPointer { shared.add(hashes: $0) }
                        start = end
                        run = (run * 7 + 3) % 1_000
                    }
                }
            }
        }
        #expect(shared.withWords { Array($0) } == one.withWords { Array($0) })
        var counts: [Pair: Int] = [:]
        for (a, b) in pairs { counts[Pair(a: a, b: b), default: 0] += 1 }
        for (p, n) in counts where n >= 2 { #expect(one.usual(caller: p.a, callee: p.b)) }
        var strangers = 0
        var taken = 0
        while strangers < 20_000 {
            let p = Pair(a: Party(raw: 100_000 + rng.next() % 50_000), b: Party(raw: rng.next() % 20_000))
            strangers += 1
            if one.usual(caller: p.a, callee: p.b) { taken += 1 }
        }
        let rate = one.falseUsualRate
        #expect(rate > 0.0005 && rate < 0.2)
        #expect(Double(taken) / Double(strangers) < rate * 3 + 0.002)
        #expect(Double(taken) / Double(strangers) > rate / 3 - 0.002)
    }

    struct Pair: Hashable {
        var a: Party
        var b: Party
    }
}

@Suite struct StableHashTests {
    /// Every byte of a row counts, at every length (the two lanes, the eight-byte step and the
    /// overlapping tail load): changing any one byte, or the length, changes the hash.
    @Test func wordsHashSeesEveryByte() {
        var rng = OrderRandom(s: 9)
        var bytes = (0..<80).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        func hash(_ n: Int) -> UInt64 {
            bytes.withUnsafeBytes { StableHash.words(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        var byLength = Set<UInt64>()
        for n in 0...80 {
            let h = hash(n)
            byLength.insert(h)
            #expect(hash(n) == h)
            for k in 0..<n {
                bytes[k] ^= 0x5A
                #expect(hash(n) != h, "length \(n), byte \(k)")
                bytes[k] ^= 0x5A
            }
        }
        #expect(byLength.count == 81)
        // Zero bytes at the end still count (the length is hashed).
        let zeros = [UInt8](repeating: 0, count: 24)
        let hashes = Set(
            (0...24).map { n in zeros.withUnsafeBytes { StableHash.words(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            })
        #expect(hashes.count == 25)
    }

    /// A window entry keeps its site, cell key and answered flag in one word: 40-byte pool nodes.
    @Test(arguments: [false, true])
    func windowEntriesPackSiteCellAndAnswered(answered: Bool) {
        #expect(MemoryLayout<EntryPool.Node>.stride == 40)
        let ref = SourceRef(input: 1, offset: 2, line: 3)
        for (site, cellKey) in [
            (0, 0), (7, 0), (1 << 30 - 1, 0), (Int(CallRecord.unlocated), 0), (Int(CallRecord.unlocated), 5),
        ] {
            let e = WindowEntry(
                start: 9, other: Party(raw: 4), durationMs: .max, answered: answered, site: UInt32(site),
                cellKey: UInt32(cellKey), ref: ref)
            #expect(e.site == UInt32(site))
            #expect(e.cellKey == UInt32(cellKey))
            #expect(e.answered == answered)
            #expect(e.durationMs == .max && e.ref == ref && e.start == 9 && e.other == Party(raw: 4))
        }
    }
}

/// The site table's cell map against a `Dictionary`: cells that share their PLMN and area and
/// differ in a few bits of the cell identity (where a weak hash would cluster), growth from an
/// empty map, and the cell with no PLMN kept aside.
struct CellMapTests {
    @Test(arguments: [0, 300])
    func cellMapAnswersAsADictionary(capacity: Int) {
        var rng = OrderRandom(s: 7 + UInt64(capacity))
        var map = CellMap(capacity: capacity)
        var model: [CellID: UInt32] = [:]
        func cell(_ rng: inout OrderRandom) -> CellID {
            let r = rng.next()
            switch r % 4 {
            case 0: return .none
            case 1: return CellID(plmn: 334_020, lac: 23_480, ci: r >> 56)
            case 2: return CellID(plmn: 334_020 + UInt32(r >> 62), lac: UInt32(r >> 40 & 0xFF), ci: r >> 20 & 0xFFF)
            default: return CellID(plmn: UInt32(r >> 44 | 1), lac: UInt32(r >> 8 & 0xFFFF), ci: r >> 2)
            }
        }
        for step in 0..<6_000 {
            let c = cell(&rng)
            if model[c] == nil, rng.next() % 2 == 0 {
                let site = UInt32(step)
                map.insert(c, site: site)
                model[c] = site
            }
            let probe = cell(&rng)
            #expect(map.get(probe) == model[probe])
            #expect(map.get(c) == model[c])
        }
        #expect(map.count == model.keys.filter { !$0.isNone }.count)
        #expect(model.count > 500)
        for (c, site) in model { #expect(map.get(c) == site) }
    }
}
