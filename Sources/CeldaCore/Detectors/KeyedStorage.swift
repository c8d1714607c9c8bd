public import CCeldaSupport

/// Per-key detector state: an open-addressing hash table from nonzero 64-bit keys (packed
/// numbers, IMEIs, cell hashes) to values stored in the slots themselves.
///
/// A lookup is two multiplies and, at the table's load (at most 70%), a few probes into one
/// block of memory, so the key and its state usually share a cache line; there is no per-key
/// allocation. The probing is linear and ordered (Robin Hood): the keys of a run of occupied
/// slots are kept in the order of their hash, whose high bits give a key's home slot, so a key
/// is always as close to its home as that order allows and a lookup of an absent key stops at
/// the first key that would come after it (most lookups of a call's callee find none). A slot
/// holds its key's hash, not the key: the hash is a bijection, so it identifies the key (which
/// ``key(at:)`` gives back), and a probe orders and places keys without hashing them again.
///
/// The slots live in an anonymous mapping. A full table grows by half and then by a third in
/// turn (16, 24, 32, 48, … slots, not doubling: a big table is about a sixth smaller on
/// average) in place: the mapping is extended (remapped, never copied) and, because a home is
/// the hash scaled to the table's size, every key's new slot is at or after its old one, so the
/// keys move up from the last one down with no second table. Only the added part is new memory.
/// Values are mutated in place through their slot (`table[slot]`). Removal closes the run by
/// shifting the keys after it back (no tombstones build up under key churn), which moves other
/// keys, so slots are valid only until the next insertion or removal.
///
/// Iteration order follows the hash, so nothing that reaches the output may depend on it;
/// detectors iterate only to evict. A copy shares the slots until either copy changes.
public struct KeyTable<Value>: @unchecked Sendable where Value: Sendable & BitwiseCopyable {
    /// A key's hash (0: empty) and its value.
    @usableFromInline
    struct Slot: BitwiseCopyable {
        @usableFromInline var hash: UInt64
        @usableFromInline var value: Value
        @inlinable init(hash: UInt64, value: Value) {
            self.hash = hash
            self.value = value
        }
    }

    /// The mapping (shared by copies until one of them changes).
    @usableFromInline var storage: MappedStorage<Slot>
    /// `storage`'s slots and their number, kept here so a lookup reads no object.
    @usableFromInline var base: UnsafeMutablePointer<Slot>
    @usableFromInline var size: Int
    /// What a new key's value starts as (an empty slot holds only a zero hash).
    @usableFromInline let empty: Value
    @usableFromInline var used = 0

    /// Keys held.
    @inlinable public var count: Int { used }

    /// A table whose absent values read as `empty`, sized for `capacity` keys before it grows.
    public init(empty: Value, capacity: Int = 64) {
        var bits = 4
        while (1 << bits) * 7 < capacity * 10 { bits += 1 }
        self.empty = empty
        storage = MappedStorage(capacity: 1 << bits)
        base = storage.base
        size = storage.capacity
    }

    @inlinable public var isEmpty: Bool { used == 0 }
    /// Slots (occupied or not), for visiting every key.
    @inlinable public var capacity: Int { size }

    /// A key's hash: a bijection of 64-bit integers (so two keys never tie), whose high bits
    /// spread clustered keys (consecutive numbers) over the table.
    @inlinable @inline(__always) static func hash(_ key: UInt64) -> UInt64 {
        (key ^ key >> 29) &* 0x9E37_79B9_7F4A_7C15
    }

    /// The key of a hash (``hash(_:)`` undone: the multiply by its inverse, then the shift).
    @inlinable static func unhash(_ h: UInt64) -> UInt64 {
        let x = h &* 0xF1DE_83E1_9937_733D
        return x ^ x >> 29 ^ x >> 58
    }

    /// The home slot of a hash in a table of `count` slots: the hash scaled to the size, so it
    /// never decreases as the table grows.
    @inlinable @inline(__always) static func home(hash h: UInt64, count: Int) -> Int {
        Int(truncatingIfNeeded: h.multipliedFullWidth(by: UInt64(truncatingIfNeeded: count)).high)
    }

    /// The slot where a key's probe starts.
    @inlinable @inline(__always) static func home(_ key: UInt64, count: Int) -> Int {
        home(hash: hash(key), count: count)
    }

    @inlinable @inline(__always) func home(_ key: UInt64) -> Int { Self.home(key, count: size) }

    /// The slot after `i` (the probe wraps at the end).
    @inlinable @inline(__always) func after(_ i: Int) -> Int { i + 1 == size ? 0 : i + 1 }

    /// Whether the key in slot `p` comes after a key of hash `h` whose probe reached `p` after
    /// `d` slots: its home is later (it is fewer slots from it), or the same with a larger hash.
    @inlinable @inline(__always) func comesAfter(slot p: Int, probe d: Int, hash h: UInt64) -> Bool {
        let he = base[p].hash
        let e = Self.home(hash: he, count: size)
        let de = p >= e ? p - e : p + size - e
        return de < d || (de == d && he > h)
    }

    /// Makes the slots this table's own before a change (a copy shares them until then).
    @inlinable @inline(__always) mutating func unique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy(count: size)
            base = storage.base
        }
    }

    /// The value in an occupied slot.
    @inlinable public subscript(slot: Int) -> Value {
        @inline(__always) get {
            precondition(slot >= 0 && slot < size)
            return base[slot].value
        }
        @inline(__always) _modify {
            precondition(slot >= 0 && slot < size)
            unique()
            yield &base[slot].value
        }
    }

    /// The value in an occupied slot, for a run of changes with one uniqueness check (the
    /// subscript makes one per change, a runtime call each). Valid until the table next inserts,
    /// removes, grows or is copied.
    @inlinable @inline(__always) public mutating func valuePointer(at slot: Int) -> UnsafeMutablePointer<Value> {
        precondition(slot >= 0 && slot < size)
        unique()
        // `Slot` is the hash word, then the value at its alignment.
        let a = MemoryLayout<Value>.alignment
        let offset = (MemoryLayout<UInt64>.size + a - 1) / a * a
        assert(offset == MemoryLayout<Slot>.offset(of: \Slot.value))
        return (UnsafeMutableRawPointer(base + slot) + offset).assumingMemoryBound(to: Value.self)
    }

    /// The key in a slot (0 when empty).
    @inlinable @inline(__always) public func key(at slot: Int) -> UInt64 {
        precondition(slot >= 0 && slot < size)
        let h = base[slot].hash
        return h == 0 ? 0 : Self.unhash(h)
    }

    /// Starts loading the home slot of `key` into the cache (a hint for a lookup soon after).
    @inlinable @inline(__always)
    public func prefetch(_ key: UInt64) {
        let slot = UnsafeRawPointer(base + home(key))
        celda_prefetch(slot)
        // A slot wider than a few words may straddle two cache lines: load the line of its end too.
        if MemoryLayout<Slot>.stride > 16 { celda_prefetch(slot + (MemoryLayout<Slot>.size - 1)) }
    }

    /// Where the probe for hash `h` ends: the key's slot (`found`), or else the slot the key
    /// would take (empty, or holding the first key ordered after it).
    @inlinable @inline(__always)
    func probe(_ h: UInt64) -> (slot: Int, found: Bool) {
        var p = Self.home(hash: h, count: size)
        var d = 0
        while true {
            let k = base[p].hash
            if k == h { return (p, true) }
            if k == 0 || comesAfter(slot: p, probe: d, hash: h) { return (p, false) }
            p = after(p)
            d += 1
        }
    }

    /// The slot of `key`, or `nil`.
    @inlinable @inline(__always)
    public func find(_ key: UInt64) -> Int? {
        let (p, found) = probe(Self.hash(key))
        return found ? p : nil
    }

    /// The slot of `key`, inserting the empty value first when it is absent.
    @inlinable @inline(__always)
    public mutating func findOrInsert(_ key: UInt64) -> Int {
        precondition(key != 0, "KeyTable keys are nonzero")
        unique()
        if (used + 1) * 10 > size * 7 { grow() }
        let h = Self.hash(key)
        let (p, found) = probe(h)
        if found { return p }
        if base[p].hash != 0 { openSlot(p) }
        base[p] = Slot(hash: h, value: empty)
        used += 1
        return p
    }

    /// Frees slot `p` by moving the keys from it to the end of its run one slot on.
    @inlinable
    mutating func openSlot(_ p: Int) {
        var q = after(p)
        while base[q].hash != 0 { q = after(q) }
        let stride = MemoryLayout<Slot>.stride
        if q > p {
            UnsafeMutableRawPointer(base + p + 1).copyMemory(from: base + p, byteCount: (q - p) * stride)
        } else {
            // The run wraps at the end.
            UnsafeMutableRawPointer(base + 1).copyMemory(from: base, byteCount: q * stride)
            base[0] = base[size - 1]
            UnsafeMutableRawPointer(base + p + 1).copyMemory(from: base + p, byteCount: (size - 1 - p) * stride)
        }
    }

    /// Puts `s`, whose key is absent, at its place.
    @inlinable
    mutating func place(_ s: Slot) {
        let (p, _) = probe(s.hash)
        if base[p].hash != 0 { openSlot(p) }
        base[p] = s
    }

    /// Grows the slots in place, 2^k → 1.5 · 2^k → 2^(k+1).
    @inlinable
    mutating func grow() {
        let n = size
        let m = n & (n - 1) == 0 ? n + n / 2 : n / 3 * 4
        // The keys of the run that wraps past the end: a prefix of the slots, before their homes.
        var w = 0
        while base[w].hash != 0, Self.home(hash: base[w].hash, count: n) > w { w += 1 }
        guard n + w <= m else {
            regrow(to: m)
            return
        }
        storage.grow(to: m)
        base = storage.base
        size = m
        // Unwrapped, they continue that run past the old end…
        for i in 0..<w {
            base[n + i] = base[i]
            base[i].hash = 0
        }
        // …and the keys after them in the first run move back to where they would be without them.
        var next = 0
        var p = w
        while p < n, base[p].hash != 0 {
            let t = max(Self.home(hash: base[p].hash, count: n), next)
            if t < p {
                base[t] = base[p]
                base[p].hash = 0
            }
            next = t + 1
            p += 1
        }
        // Now each key is at max(its home, the previous key's slot + 1), in hash order with no
        // wrap. The same rule with the new homes, which are no smaller, gives slots no smaller:
        // moving the keys from the last one down never overwrites a key still to move.
        var targets: [Int32] = []
        targets.reserveCapacity(used)
        var last = -1
        for p in 0..<(n + w) where base[p].hash != 0 {
            last = max(Self.home(hash: base[p].hash, count: m), last + 1)
            targets.append(Int32(truncatingIfNeeded: last))
        }
        // Keys whose slot would be past the end wrap to the start: placed last, as insertions.
        var wrapped: [Slot] = []
        var i = targets.count - 1
        p = n + w - 1
        while i >= 0 {
            if base[p].hash != 0 {
                let t = Int(targets[i])
                i -= 1
                if t >= m {
                    wrapped.append(base[p])
                    base[p].hash = 0
                } else if t != p {
                    base[t] = base[p]
                    base[p].hash = 0
                }
            }
            p -= 1
        }
        for s in wrapped { place(s) }
    }

    /// Grows to `m` slots by inserting every key again (when the wrapped run is too long to unwrap
    /// into the added slots, which only a tiny table's can be).
    @usableFromInline
    mutating func regrow(to m: Int) {
        var keys: [Slot] = []
        keys.reserveCapacity(used)
        for p in 0..<size where base[p].hash != 0 {
            keys.append(base[p])
            base[p].hash = 0
        }
        storage.grow(to: m)
        base = storage.base
        size = m
        for s in keys { place(s) }
    }

    /// Removes the key in `slot` (backward shift: the later keys of its run that are not at home
    /// move back one slot).
    @inlinable
    public mutating func remove(at slot: Int) {
        precondition(slot >= 0 && slot < size && base[slot].hash != 0)
        unique()
        var hole = slot
        while true {
            let j = after(hole)
            let k = base[j].hash
            if k == 0 || Self.home(hash: k, count: size) == j { break }
            base[hole] = base[j]
            hole = j
        }
        base[hole].hash = 0
        used -= 1
    }

    /// Removes every key whose value `drop` selects (idle-key sweeps). `drop` may change the
    /// value it is given (to release what it holds); it sees each value once.
    ///
    /// One pass, starting after an empty slot so no run wraps past the start. A removed key
    /// leaves a hole; each key after a hole in its run moves to the first hole at or after its
    /// home, which keeps the run in hash order with every key reachable from its home. Unlike
    /// ``remove(at:)`` once per key, which shifts the rest of the run for each removal, a run is
    /// scanned once however many of its keys go (a sweep drops about a fifth of them).
    @inlinable
    public mutating func removeAll(where drop: (inout Value) -> Bool) {
        removeAllHashed { _, value in drop(&value) }
    }

    /// ``removeAll(where:)`` with each value's key.
    @inlinable
    public mutating func removeAll(whereKey drop: (UInt64, inout Value) -> Bool) {
        removeAllHashed { h, value in drop(Self.unhash(h), &value) }
    }

    /// The sweep, `drop` given each slot's hash and value.
    @inlinable @inline(__always)
    mutating func removeAllHashed(_ drop: (UInt64, inout Value) -> Bool) {
        guard used > 0 else { return }
        unique()
        let n = size
        let s = base
        var removed = 0
        var start = 0
        while s[start].hash != 0 { start += 1 }  // the load is at most 70%: there is one
        // Offsets from `start`, so a run's positions compare without wrapping.
        @inline(__always) func offset(_ i: Int) -> Int { i >= start ? i - start : i + n - start }
        var j = start
        /// Whether the current run has a hole yet (until then nothing in it moves).
        var holed = false
        for _ in 1..<n {
            j = j + 1 == n ? 0 : j + 1
            let k = s[j].hash
            if k == 0 {
                holed = false
                continue
            }
            if drop(k, &s[j].value) {
                s[j].hash = 0
                removed += 1
                holed = true
                continue
            }
            guard holed else { continue }
            // The first hole at or after the key's home: all slots from the home to j were
            // occupied before this pass, so every empty slot among them is a hole of this run.
            let h = Self.home(hash: k, count: n)
            let limit = offset(j)
            var p = h
            var d = offset(h)
            while d < limit, s[p].hash != 0 {
                p = p + 1 == n ? 0 : p + 1
                d += 1
            }
            if d < limit {
                s[p] = s[j]
                s[j].hash = 0
            }
        }
        used -= removed
    }
}

/// Time-ordered lists of window entries for many keys in one pool: each key holds a
/// ``EntryList`` (head, tail, count) and the entries are linked by index, so a key's window
/// grows and expires without an allocation of its own and freed entries are reused.
struct EntryPool: Sendable {
    struct Node: Sendable {
        var entry: WindowEntry
        var next: Int32
    }

    var nodes = MappedArray<Node>()
    /// The free chain: nodes linked by `next` up to one whose `next` is -1.
    var free: Int32 = -1
    /// Heads of whole lists released while the chain was not empty, taken up in turn as the
    /// chain runs out. A released list is already a chain ending at -1, so releasing one writes
    /// no node: its tail, last touched an hour or more before, is not read back into the cache.
    var chains: [Int32] = []

    /// The start of a list's newest entry (`nil` for an empty list).
    @inline(__always) func newest(_ list: EntryList) -> EventTime? {
        list.tail < 0 ? nil : nodes[Int(list.tail)].entry.start
    }

    /// Appends `e` to `list` at its place in time order (at the tail unless it is late).
    /// `newest`, when given, is a time no earlier than the list's newest entry (it saves reading
    /// the tail entry).
    @inline(__always)
    mutating func insert(_ e: WindowEntry, into list: inout EntryList, newest: EventTime = .max) {
        let n = allocate(e)
        if list.tail < 0 {
            list.head = n
            list.tail = n
            list.count += 1
            return
        }
        // After `allocate`, which may grow the nodes: one uniqueness check for the links below.
        let b = nodes.mutableBase()
        if newest <= e.start || b[Int(list.tail)].entry.start <= e.start {
            b[Int(list.tail)].next = n
            list.tail = n
        } else if b[Int(list.head)].entry.start > e.start {
            b[Int(n)].next = list.head
            list.head = n
        } else {
            // Late: after the last entry not later than it.
            var p = list.head
            while true {
                let q = b[Int(p)].next
                if q < 0 || b[Int(q)].entry.start > e.start { break }
                p = q
            }
            b[Int(n)].next = b[Int(p)].next
            b[Int(p)].next = n
        }
        list.count += 1
    }

    @inline(__always)
    private mutating func allocate(_ e: WindowEntry) -> Int32 {
        if free >= 0 {
            let n = free
            let b = nodes.mutableBase()
            free = b[Int(n)].next
            if free < 0, let next = chains.popLast() { free = next }
            b[Int(n)] = Node(entry: e, next: -1)
            // The next node to hand out may have been freed long ago (a swept list): start
            // loading it now, so the next insertion does not wait for it.
            if free >= 0 { nodes.prefetch(Int(free)) }
            return n
        }
        nodes.append(Node(entry: e, next: -1))
        return Int32(nodes.count - 1)
    }

    /// The oldest entry of a non-empty list.
    @inline(__always) func first(_ list: EntryList) -> WindowEntry { nodes[Int(list.head)].entry }

    /// Removes the oldest entry of a non-empty list.
    @inline(__always)
    mutating func removeFirst(_ list: inout EntryList) {
        let n = list.head
        let b = nodes.mutableBase()
        list.head = b[Int(n)].next
        if list.head < 0 { list.tail = -1 }
        b[Int(n)].next = free
        free = n
        list.count -= 1
    }

    /// Drops the entries at or before `from`.
    @inline(__always)
    mutating func expire(_ list: inout EntryList, before from: EventTime) {
        while list.head >= 0, nodes[Int(list.head)].entry.start <= from { removeFirst(&list) }
    }

    /// Frees a whole list.
    mutating func release(_ list: inout EntryList) {
        if list.head >= 0 {
            if free < 0 { free = list.head } else { chains.append(list.head) }
        }
        list = EntryList()
    }

    /// Starts loading a list's oldest and newest entries (a hint before an append and expiry).
    @inline(__always) func prefetch(_ list: EntryList) {
        guard list.head >= 0 else { return }
        nodes.prefetch(Int(list.head))
        nodes.prefetch(Int(list.tail))
    }

    /// Whether any entry of the list has `other`.
    func contains(_ list: EntryList, other: Party) -> Bool {
        var p = list.head
        while p >= 0 {
            if nodes[Int(p)].entry.other == other { return true }
            p = nodes[Int(p)].next
        }
        return false
    }

    /// The list's entries, oldest first, into `out` (replacing its contents).
    func collect(_ list: EntryList, into out: inout [WindowEntry]) {
        out.removeAll(keepingCapacity: true)
        var p = list.head
        while p >= 0 {
            out.append(nodes[Int(p)].entry)
            p = nodes[Int(p)].next
        }
    }
}

/// One key's entries in an ``EntryPool``.
struct EntryList: Sendable {
    var head: Int32 = -1
    var tail: Int32 = -1
    var count: Int32 = 0
    var isEmpty: Bool { head < 0 }
}

/// Where a pooled set or map past its inline block is (``PartySets``, ``PartyTimes``): its tier
/// (blocks of `8 << tier`), its block in that tier and how many entries it holds.
struct TierBlock: Sendable {
    var tier: Int32 = 0
    var block: Int32 = 0
    var count: Int32 = 0
}

/// The handle bookkeeping shared by ``PartySets`` and ``PartyTimes``: per handle, how many
/// entries its inline block holds, or where in the tiers it spilled to; freed handles and freed
/// spill records are reused.
struct InlineHandles: Sendable {
    /// Per handle: entries in its block (0...inline), or `-1 - i` for `big[i]`.
    var counts = MappedArray<Int32>()
    var free: [Int32] = []
    var big: [TierBlock] = []
    var bigFree: [Int32] = []

    /// The entries in `h`'s block, or `nil` once it spilled (then ``bigIndex(_:)``).
    @inline(__always) func inlineCount(_ h: Int32) -> Int? {
        let c = Int(counts[Int(h)])
        return c < 0 ? nil : c
    }

    @inline(__always) func bigIndex(_ h: Int32) -> Int { -1 - Int(counts[Int(h)]) }

    /// Makes a handle when `h` is -1; `addBlock` grows the caller's block arrays by one block.
    @inline(__always)
    mutating func open(_ h: inout Int32, addBlock: () -> Void) {
        guard h < 0 else { return }
        if let f = free.popLast() {
            h = f
        } else {
            addBlock()
            counts.append(0)
            h = Int32(counts.count - 1)
        }
    }

    /// Records that `h` spilled to `block`.
    mutating func spill(_ h: Int32, to block: TierBlock) {
        let b: Int
        if let f = bigFree.popLast() {
            b = Int(f)
            big[b] = block
        } else {
            big.append(block)
            b = big.count - 1
        }
        counts[Int(h)] = Int32(-1 - b)
    }

    /// Frees a handle (the caller frees its tier block, if it had one).
    mutating func release(_ h: inout Int32) {
        guard h >= 0 else { return }
        unspill(h, count: 0)
        free.append(h)
        h = -1
    }

    /// Moves `h` back to its inline block, which now holds `count` entries.
    mutating func unspill(_ h: Int32, count: Int) {
        if inlineCount(h) == nil { bigFree.append(Int32(bigIndex(h))) }
        counts[Int(h)] = Int32(count)
    }
}

/// Sets of parties held by handle, so the per-key state that refers to them stays plain data
/// (copied and moved as bytes when a table grows or shifts). Handle -1 is the empty set.
///
/// Most sets hold a party or two (a watched number's contacts, the lines already reported), so a
/// set starts as a block of four slots in one shared array, found by a scan with no hashing and
/// no allocation of its own. A set that outgrows it moves into a hash block of 8 slots, then
/// 16, 32, … (a tier of blocks of one size in shared arrays, kept at most three quarters full
/// and probed linearly from the party's hash; a freed block is taken by the next set that needs
/// one of its size). There is no allocation per set, so the heap does not fragment as keys come
/// and go. (A `Set` per spilled set, as before, held 30 MB per run on a 50M-row dump, 28 times
/// its 10M-row size: `victim` keeps a watched number's contacts for as long as it is watched.)
struct PartySets: Sendable {
    static let inline = 4
    /// Blocks of ``inline`` parties, one per handle.
    var small = MappedArray<Party>()
    var handles = InlineHandles()
    /// Hash blocks of `8 << k` slots for tier `k`.
    var tiers: [Tier] = []

    typealias Spilled = TierBlock

    /// A tier's slots hold a party's raw value inverted (0: empty). No party has the two top
    /// bits of its raw value set (``Party``), so no party's slot reads as empty.
    struct Tier: Sendable {
        var slots = MappedArray<UInt64>()
        var free: [Int32] = []
    }

    /// Slots in a block of tier `k` (a power of two).
    @inline(__always) static func size(ofTier k: Int) -> Int { 8 << k }

    /// The most parties a block of tier `k` takes (three quarters of its slots).
    @inline(__always) static func limit(ofTier k: Int) -> Int { 6 << k }

    /// Where the probe for `p` starts in a block of tier `k`: the high bits of its hash.
    @inline(__always) static func home(_ p: Party, tier k: Int) -> Int {
        Int(truncatingIfNeeded: KeyTable<Int32>.hash(p.raw) >> UInt64(61 - k))
    }

    @inline(__always) func contains(_ h: Int32, _ p: Party) -> Bool {
        guard h >= 0 else { return false }
        guard let c = handles.inlineCount(h) else {
            let s = handles.big[handles.bigIndex(h)]
            return find(p, in: s).found
        }
        let base = Int(h) * Self.inline
        for k in 0..<c where small[base + k] == p { return true }
        return false
    }

    /// The slot of `p` in a spilled set's block, or the empty slot where it would go.
    @inline(__always) func find(_ p: Party, in s: Spilled) -> (slot: Int, found: Bool) {
        let k = Int(s.tier)
        let mask = Self.size(ofTier: k) - 1
        let base = Int(s.block) * Self.size(ofTier: k)
        let want = ~p.raw
        var i = Self.home(p, tier: k)
        while true {
            let v = tiers[k].slots[base + i]
            if v == want { return (base + i, true) }
            if v == 0 { return (base + i, false) }
            i = (i + 1) & mask
        }
    }

    /// Starts loading the set behind `h`: its count and its block.
    @inline(__always) func prefetch(_ h: Int32) {
        guard h >= 0 else { return }
        handles.counts.prefetch(Int(h))
        small.prefetch(Int(h) * Self.inline)
    }

    @inline(__always) func count(_ h: Int32) -> Int {
        guard h >= 0 else { return 0 }
        return handles.inlineCount(h) ?? Int(handles.big[handles.bigIndex(h)].count)
    }

    /// A free (all empty) block of tier `k`.
    mutating func takeBlock(tier k: Int) -> Int32 {
        while tiers.count <= k { tiers.append(Tier()) }
        let n = Self.size(ofTier: k)
        if let f = tiers[k].free.popLast() {
            let base = Int(f) * n
            for i in base..<(base + n) { tiers[k].slots[i] = 0 }
            return f
        }
        let b = tiers[k].slots.count / n
        tiers[k].slots.append(repeating: 0, count: n)
        return Int32(b)
    }

    /// Puts `p`, which the set lacks, into its block (which has room).
    @inline(__always) mutating func place(_ p: Party, in s: inout Spilled) {
        let (slot, _) = find(p, in: s)
        tiers[Int(s.tier)].slots[slot] = ~p.raw
        s.count += 1
    }

    /// Moves a spilled set's parties into a new block of the next tier, freeing the old one.
    mutating func grow(_ s: inout Spilled) {
        let old = s
        let k = Int(old.tier)
        s = Spilled(tier: Int32(k + 1), block: takeBlock(tier: k + 1), count: 0)
        let from = Int(old.block) * Self.size(ofTier: k)
        for i in from..<(from + Self.size(ofTier: k)) {
            let v = tiers[k].slots[i]
            if v != 0 { place(Party(raw: ~v), in: &s) }
        }
        tiers[k].free.append(old.block)
    }

    /// Inserts `p` into the set behind `h`, making one when `h` is -1.
    mutating func insert(_ p: Party, into h: inout Int32) {
        precondition(p.raw >> 62 != 3, "not a party")
        handles.open(&h) {
            small.append(repeating: Party(raw: 0), count: Self.inline)
        }
        guard let c = handles.inlineCount(h) else {
            let b = handles.bigIndex(h)
            var s = handles.big[b]
            if find(p, in: s).found { return }
            if Int(s.count) == Self.limit(ofTier: Int(s.tier)) { grow(&s) }
            place(p, in: &s)
            handles.big[b] = s
            return
        }
        if contains(h, p) { return }
        let base = Int(h) * Self.inline
        if c < Self.inline {
            small[base + c] = p
            handles.counts[Int(h)] = Int32(c + 1)
            return
        }
        // The block is full: its four parties and this one go to a block of the first tier.
        var s = Spilled(tier: 0, block: takeBlock(tier: 0), count: 0)
        for i in 0..<Self.inline { place(small[base + i], in: &s) }
        place(p, in: &s)
        handles.spill(h, to: s)
    }

    /// Frees a handle's set.
    mutating func release(_ h: inout Int32) {
        guard h >= 0 else { return }
        if handles.inlineCount(h) == nil {
            let s = handles.big[handles.bigIndex(h)]
            tiers[Int(s.tier)].free.append(s.block)
        }
        handles.release(&h)
    }
}

/// Maps from party to time held by handle (a watched number's callers by last call). Handle -1
/// is the empty map.
///
/// Up to four pairs live in a shared block of four, like ``PartySets``. A map that outgrows it
/// moves into a block of 8 pairs, then 16, 32, … (a tier of blocks of one size in shared arrays;
/// a freed block is taken by the next map that needs one of its size), and moves back down as it
/// is pruned. Every map is scanned, not hashed: the maps are bounded by the detector (`victim`
/// keeps at most twice `max_callers`), and there is no allocation per map, so the heap does not
/// fragment as numbers come and go. (A `Dictionary` per map past four pairs, as before, held
/// about 25 MB per lane on a 50M-row dump, 7 times its 10M-row size, and more as freed ones left
/// holes.)
struct PartyTimes: Sendable {
    static let inline = 4
    var parties = MappedArray<Party>()
    var times = MappedArray<EventTime>()
    var handles = InlineHandles()
    /// Blocks of `8 << k` pairs for tier `k`.
    var tiers: [Tier] = []

    typealias Spilled = TierBlock

    struct Tier: Sendable {
        var parties = MappedArray<Party>()
        var times = MappedArray<EventTime>()
        var free: [Int32] = []
    }

    /// Pairs in a block of tier `k`.
    @inline(__always) static func size(ofTier k: Int) -> Int { 8 << k }

    /// The smallest tier whose blocks hold `n` pairs.
    static func tier(holding n: Int) -> Int {
        var k = 0
        while size(ofTier: k) < n { k += 1 }
        return k
    }

    @inline(__always) func count(_ h: Int32) -> Int {
        guard h >= 0 else { return 0 }
        return handles.inlineCount(h) ?? Int(handles.big[handles.bigIndex(h)].count)
    }

    /// The time stored for `p`, if any.
    @inline(__always) func time(_ h: Int32, of p: Party) -> EventTime? {
        guard h >= 0 else { return nil }
        guard let c = handles.inlineCount(h) else {
            let s = handles.big[handles.bigIndex(h)]
            let k = Int(s.tier)
            let base = Int(s.block) * Self.size(ofTier: k)
            for i in 0..<Int(s.count) where tiers[k].parties[base + i] == p { return tiers[k].times[base + i] }
            return nil
        }
        let base = Int(h) * Self.inline
        for k in 0..<c where parties[base + k] == p { return times[base + k] }
        return nil
    }

    /// A free block of tier `k`.
    mutating func takeBlock(tier k: Int) -> Int32 {
        while tiers.count <= k { tiers.append(Tier()) }
        if let f = tiers[k].free.popLast() { return f }
        let n = Self.size(ofTier: k)
        let b = tiers[k].parties.count / n
        tiers[k].parties.append(repeating: Party(raw: 0), count: n)
        tiers[k].times.append(repeating: 0, count: n)
        return Int32(b)
    }

    /// Moves a spilled map's `s.count` pairs into a new block of tier `k`, freeing the old one.
    mutating func move(_ s: inout Spilled, toTier k: Int) {
        let block = takeBlock(tier: k)
        let from = Int(s.block) * Self.size(ofTier: Int(s.tier))
        let to = Int(block) * Self.size(ofTier: k)
        for i in 0..<Int(s.count) {
            tiers[k].parties[to + i] = tiers[Int(s.tier)].parties[from + i]
            tiers[k].times[to + i] = tiers[Int(s.tier)].times[from + i]
        }
        tiers[Int(s.tier)].free.append(s.block)
        s.tier = Int32(k)
        s.block = block
    }

    /// Sets `p`'s time, making the map when `h` is -1.
    mutating func set(_ p: Party, _ t: EventTime, in h: inout Int32) {
        handles.open(&h) {
            parties.append(repeating: Party(raw: 0), count: Self.inline)
            times.append(repeating: 0, count: Self.inline)
        }
        guard let c = handles.inlineCount(h) else {
            let b = handles.bigIndex(h)
            var s = handles.big[b]
            var k = Int(s.tier)
            var base = Int(s.block) * Self.size(ofTier: k)
            for i in 0..<Int(s.count) where tiers[k].parties[base + i] == p {
                tiers[k].times[base + i] = t
                return
            }
            if Int(s.count) == Self.size(ofTier: k) {
                move(&s, toTier: k + 1)
                k += 1
                base = Int(s.block) * Self.size(ofTier: k)
            }
            tiers[k].parties[base + Int(s.count)] = p
            tiers[k].times[base + Int(s.count)] = t
            s.count += 1
            handles.big[b] = s
            return
        }
        let base = Int(h) * Self.inline
        for k in 0..<c where parties[base + k] == p {
            times[base + k] = t
            return
        }
        if c < Self.inline {
            parties[base + c] = p
            times[base + c] = t
            handles.counts[Int(h)] = Int32(c + 1)
            return
        }
        // The block is full: the four pairs and this one go to a block of the first tier.
        let block = takeBlock(tier: 0)
        let to = Int(block) * Self.size(ofTier: 0)
        for i in 0..<Self.inline {
            tiers[0].parties[to + i] = parties[base + i]
            tiers[0].times[to + i] = times[base + i]
        }
        tiers[0].parties[to + Self.inline] = p
        tiers[0].times[to + Self.inline] = t
        handles.spill(h, to: Spilled(tier: 0, block: block, count: Int32(Self.inline + 1)))
    }

    /// Keeps only the pairs whose time is after `from` (in their order); a map that shrinks to
    /// ``inline`` pairs moves back into its block, and a spilled one into the smallest tier
    /// that holds it.
    mutating func keep(_ h: Int32, after from: EventTime) {
        guard h >= 0 else { return }
        guard let c = handles.inlineCount(h) else {
            let b = handles.bigIndex(h)
            var s = handles.big[b]
            let k = Int(s.tier)
            let base = Int(s.block) * Self.size(ofTier: k)
            var live = 0
            for i in 0..<Int(s.count) where tiers[k].times[base + i] > from {
                tiers[k].parties[base + live] = tiers[k].parties[base + i]
                tiers[k].times[base + live] = tiers[k].times[base + i]
                live += 1
            }
            if live == Int(s.count) { return }
            s.count = Int32(live)
            if live <= Self.inline {
                let to = Int(h) * Self.inline
                for i in 0..<live {
                    parties[to + i] = tiers[k].parties[base + i]
                    times[to + i] = tiers[k].times[base + i]
                }
                tiers[k].free.append(s.block)
                handles.unspill(h, count: live)
                return
            }
            let fit = Self.tier(holding: live)
            if fit < k { move(&s, toTier: fit) }
            handles.big[b] = s
            return
        }
        let base = Int(h) * Self.inline
        var n = 0
        for k in 0..<c where times[base + k] > from {
            parties[base + n] = parties[base + k]
            times[base + n] = times[base + k]
            n += 1
        }
        handles.counts[Int(h)] = Int32(n)
    }

    /// Frees a handle's map.
    mutating func release(_ h: inout Int32) {
        guard h >= 0 else { return }
        if handles.inlineCount(h) == nil {
            let s = handles.big[handles.bigIndex(h)]
            tiers[Int(s.tier)].free.append(s.block)
        }
        handles.release(&h)
    }
}
