public import CCeldaSupport

/// Per-key detector state: an open-addressing hash table from nonzero 64-bit keys (packed
/// numbers, IMEIs, cell hashes) to values stored in the slots themselves.
///
/// A lookup is one multiply and, at the table's load (at most 70%), a few probes into
/// one array, so the key and its state usually share a cache line; there is no per-key
/// allocation. Values are mutated in place through their slot (`table[slot]`). Removal closes the
/// probe chain by backward shifting (no tombstones build up under key churn), which moves other
/// keys, so slots are valid only until the next insertion or removal.
///
/// Iteration order follows the hash, so nothing that reaches the output may depend on it;
/// detectors iterate only to evict.
public struct KeyTable<Value>: Sendable where Value: Sendable {
    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var value: Value
        @inlinable init(key: UInt64, value: Value) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline var slots: [Slot]
    @usableFromInline let empty: Value
    @usableFromInline var shift: UInt64
    @usableFromInline var used = 0

    /// Keys held.
    @inlinable public var count: Int { used }

    /// A table whose absent values read as `empty`, sized for `capacity` keys before it grows.
    public init(empty: Value, capacity: Int = 64) {
        var bits = 4
        while (1 << bits) * 7 < capacity * 10 { bits += 1 }
        self.empty = empty
        slots = Array(repeating: Slot(key: 0, value: empty), count: 1 << bits)
        shift = UInt64(64 - bits)
    }

    @inlinable public var isEmpty: Bool { used == 0 }
    /// Slots (occupied or not), for visiting every key.
    @inlinable public var capacity: Int { slots.count }

    @inlinable @inline(__always) func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: ((key ^ key >> 29) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The value in an occupied slot.
    @inlinable public subscript(slot: Int) -> Value {
        @inline(__always) get { slots[slot].value }
        @inline(__always) _modify { yield &slots[slot].value }
    }

    /// The key in a slot (0 when empty).
    @inlinable @inline(__always) public func key(at slot: Int) -> UInt64 { slots[slot].key }

    /// Starts loading the home slot of `key` into the cache (a hint for a lookup soon after).
    @inlinable @inline(__always)
    public func prefetch(_ key: UInt64) {
        slots.withUnsafeBufferPointer { celda_prefetch($0.baseAddress! + home(key)) }
    }

    /// The slot of `key`, or `nil`.
    @inlinable @inline(__always)
    public func find(_ key: UInt64) -> Int? {
        let mask = slots.count - 1
        var i = home(key)
        return slots.withUnsafeBufferPointer { s in
            while true {
                let k = s[i].key
                if k == key { return i }
                if k == 0 { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// The slot of `key`, inserting the empty value first when it is absent.
    @inlinable @inline(__always)
    public mutating func findOrInsert(_ key: UInt64) -> Int {
        precondition(key != 0, "KeyTable keys are nonzero")
        if (used + 1) * 10 > slots.count * 7 { grow() }
        let mask = slots.count - 1
        var i = home(key)
        while true {
            let k = slots[i].key
            if k == key { return i }
            if k == 0 { break }
            i = (i + 1) & mask
        }
        slots[i].key = key
        used += 1
        return i
    }

    @inlinable
    mutating func grow() {
        let old = slots
        let bits = 64 - Int(shift) + 1
        slots = Array(repeating: Slot(key: 0, value: empty), count: 1 << bits)
        shift = UInt64(64 - bits)
        let mask = slots.count - 1
        for s in old where s.key != 0 {
            var i = home(s.key)
            while slots[i].key != 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }

    /// Removes the key in `slot` (backward shift: later keys of its probe chain move up).
    @inlinable
    public mutating func remove(at slot: Int) {
        let mask = slots.count - 1
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let k = slots[j].key
            if k == 0 { break }
            let h = home(k)
            // Move k into the hole when its home is not cyclically within (hole, j].
            let inRange = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !inRange {
                slots[hole] = slots[j]
                hole = j
            }
        }
        slots[hole] = Slot(key: 0, value: empty)
        used -= 1
    }

    /// Removes every key whose value `drop` selects (idle-key sweeps). `drop` may change the
    /// value it is given (to release what it holds) and may see a value twice.
    @inlinable
    public mutating func removeAll(where drop: (inout Value) -> Bool) {
        var i = 0
        while i < slots.count {
            if slots[i].key != 0, drop(&slots[i].value) {
                remove(at: i)
                continue  // a later key may have moved into slot i
            }
            i += 1
        }
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

    var nodes: [Node] = []
    var free: Int32 = -1

    /// Appends `e` to `list` at its place in time order (at the tail unless it is late).
    /// `newest`, when given, is a time no earlier than the list's newest entry (it saves reading
    /// the tail entry).
    @inline(__always)
    mutating func insert(_ e: WindowEntry, into list: inout EntryList, newest: EventTime = .max) {
        let n = allocate(e)
        if list.tail < 0 {
            list.head = n
            list.tail = n
        } else if newest <= e.start || nodes[Int(list.tail)].entry.start <= e.start {
            nodes[Int(list.tail)].next = n
            list.tail = n
        } else if nodes[Int(list.head)].entry.start > e.start {
            nodes[Int(n)].next = list.head
            list.head = n
        } else {
            // Late: after the last entry not later than it.
            var p = list.head
            while true {
                let q = nodes[Int(p)].next
                if q < 0 || nodes[Int(q)].entry.start > e.start { break }
                p = q
            }
            nodes[Int(n)].next = nodes[Int(p)].next
            nodes[Int(p)].next = n
        }
        list.count += 1
    }

    @inline(__always)
    private mutating func allocate(_ e: WindowEntry) -> Int32 {
        if free >= 0 {
            let n = free
            free = nodes[Int(n)].next
            nodes[Int(n)] = Node(entry: e, next: -1)
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
        list.head = nodes[Int(n)].next
        if list.head < 0 { list.tail = -1 }
        nodes[Int(n)].next = free
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
            nodes[Int(list.tail)].next = free
            free = list.head
        }
        list = EntryList()
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

/// Sets of parties held by handle, so the per-key state that refers to them stays plain data
/// (copied and moved as bytes when a table grows or shifts). Handle -1 is the empty set.
struct PartySets: Sendable {
    var sets: [Set<Party>] = []
    var free: [Int32] = []

    @inline(__always) func contains(_ h: Int32, _ p: Party) -> Bool { h >= 0 && sets[Int(h)].contains(p) }

    @inline(__always) func count(_ h: Int32) -> Int { h >= 0 ? sets[Int(h)].count : 0 }

    /// Inserts `p` into the set behind `h`, making one when `h` is -1.
    mutating func insert(_ p: Party, into h: inout Int32) {
        if h < 0 {
            if let f = free.popLast() {
                h = f
            } else {
                sets.append([])
                h = Int32(sets.count - 1)
            }
        }
        sets[Int(h)].insert(p)
    }

    /// The set behind a handle (empty for -1).
    func set(_ h: Int32) -> Set<Party> { h >= 0 ? sets[Int(h)] : [] }

    /// Frees a handle's set.
    mutating func release(_ h: inout Int32) {
        guard h >= 0 else { return }
        sets[Int(h)].removeAll(keepingCapacity: sets[Int(h)].capacity <= 32)
        free.append(h)
        h = -1
    }
}
