public import CCeldaSupport

/// A growable array of plain values in an anonymous mapping: the entry pools and the blocks and
/// counts of pooled sets and maps, which grow to tens of megabytes and are read at random.
///
/// It grows by doubling its mapping in place (``celda_table_grow``: remapped, never copied), so
/// a growth costs neither a copy nor new pages for what it held, and the room it adds takes no
/// memory until it is written. The mapping is advised for transparent huge pages from the start
/// (fewer TLB misses on random reads: about 5% less CPU on one thread when the arrays were
/// first advised). A copy shares the elements until either copy changes; nothing is mapped until
/// the first append.
@usableFromInline
struct MappedArray<Element: BitwiseCopyable>: @unchecked Sendable {
    @usableFromInline var storage: MappedStorage<Element>?
    /// `storage`'s elements, kept here so a read follows no object (unused while `count` is 0).
    @usableFromInline var base: UnsafeMutablePointer<Element>
    @usableFromInline private(set) var count = 0

    @inlinable init() {
        base = UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!
    }

    @inlinable var isEmpty: Bool { count == 0 }
    @inlinable var capacity: Int { storage?.capacity ?? 0 }

    @inlinable subscript(i: Int) -> Element {
        @inline(__always) get {
            precondition(i >= 0 && i < count, "index out of range")
            return base[i]
        }
        @inline(__always) _modify {
            precondition(i >= 0 && i < count, "index out of range")
            unique()
            yield &base[i]
        }
    }

    /// Makes the elements this array's own before a change (a copy shares them until then).
    @inlinable @inline(__always) mutating func unique() {
        if !isKnownUniquelyReferenced(&storage), let s = storage {
            storage = s.copy(count: count)
            base = storage!.base
        }
    }

    /// The elements, for a run of changes with one uniqueness check (the subscript makes one per
    /// change, a runtime call each). Valid until the array next grows or is copied.
    @inlinable @inline(__always) mutating func mutableBase() -> UnsafeMutablePointer<Element> {
        unique()
        return base
    }

    /// Room for `extra` more elements.
    @inlinable @inline(__always) mutating func reserve(adding extra: Int) {
        unique()
        if count + extra > capacity { grow(toAtLeast: count + extra) }
    }

    @usableFromInline mutating func grow(toAtLeast n: Int) {
        // At least a page's worth to start; then doubling, which costs nothing until written.
        var c = max(capacity, max(16, 4096 / MemoryLayout<Element>.stride))
        while c < n { c *= 2 }
        if let s = storage {
            s.grow(to: c)
        } else {
            storage = MappedStorage(capacity: c)
        }
        base = storage!.base
    }

    @inlinable @inline(__always) mutating func append(_ e: Element) {
        reserve(adding: 1)
        (base + count).initialize(to: e)
        count += 1
    }

    /// Appends `n` copies of `e`.
    @inlinable mutating func append(repeating e: Element, count n: Int) {
        reserve(adding: n)
        (base + count).initialize(repeating: e, count: n)
        count += n
    }

    /// Starts loading element `i` into the cache (a hint; `i` need not be in range).
    @inlinable @inline(__always) func prefetch(_ i: Int) {
        celda_prefetch(UnsafeRawPointer(base + i))
    }

    /// Elements `range` in place (no copy, no allocation), valid until this array next changes.
    @inlinable func buffer(_ range: Range<Int>) -> UnsafeBufferPointer<Element> {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range out of bounds")
        return UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}

/// Plain values in an anonymous mapping of `capacity` elements, zero until written: the storage
/// of ``MappedArray`` and ``KeyTable``. It grows by remapping (``celda_table_grow``), never by
/// copying.
@usableFromInline
final class MappedStorage<Element: BitwiseCopyable> {
    // Unchecked: read on every append (``MappedArray/capacity``), changed only by `grow(to:)`,
    // never while a read is under way; the dynamic check cost a runtime call per append.
    @exclusivity(unchecked) @usableFromInline var base: UnsafeMutablePointer<Element>
    @exclusivity(unchecked) @usableFromInline var capacity: Int

    @usableFromInline init(capacity: Int) {
        self.capacity = capacity
        guard let raw = celda_table_alloc(capacity * MemoryLayout<Element>.stride) else {
            fatalError("out of memory: \(capacity) elements of \(MemoryLayout<Element>.stride) bytes")
        }
        base = raw.bindMemory(to: Element.self, capacity: capacity)
    }

    /// A new mapping of the same capacity with the first `count` elements.
    @usableFromInline func copy(count: Int) -> MappedStorage {
        let s = MappedStorage(capacity: capacity)
        s.base.update(from: base, count: count)
        return s
    }

    /// Extends the mapping to `n` elements (`n` above the capacity); the new ones are zero.
    @usableFromInline func grow(to n: Int) {
        let stride = MemoryLayout<Element>.stride
        guard let raw = celda_table_grow(base, capacity * stride, n * stride) else {
            fatalError("out of memory: \(n) elements of \(stride) bytes")
        }
        base = raw.bindMemory(to: Element.self, capacity: n)
        capacity = n
    }

    deinit { celda_table_free(base, capacity * MemoryLayout<Element>.stride) }
}
