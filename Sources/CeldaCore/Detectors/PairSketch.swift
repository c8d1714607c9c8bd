internal import CCeldaSupport

/// Which (caller, callee) pairs occurred at least twice ("the numbers a line usually calls"),
/// without per-line state: a counting Bloom filter of two-bit saturating counters, six counters
/// in one cache-line block (256 counters) per pair. A pair is usual when its six counters have
/// all counted to two.
///
/// One sketch serves a whole run: the shards of every lane add to it at once. A counter's low bit
/// means "counted once", its high bit "counted twice or more"; an update sets the low bit with an
/// atomic OR and, when the low bit was already set, the high bit with another. However the adds of
/// different threads interleave, a counter ends as `min(2, updates)`, so the sketch (and every
/// alert read from it) is the same for any thread count. Sketches of separate runs (`--shard K/N`
/// processes, cluster partitions) merge by the same saturating sum.
///
/// Its size is `victim.pair_sketch_mib` (default 128 MiB, 2^29 counters). The share of counters
/// at two, `s`, gives the chance that a pair never seen reads as usual, about `s^6`
/// (``falseUsualRate``): at 10M calls about 1e-9, at 50M calls about 1e-6. A fixed size saturates
/// on dumps far bigger than it was sized for, so the kidnapping stage weighs every match against
/// this rate and says so in the alert.
public final class PairSketch: @unchecked Sendable {
    /// Counters per mebibyte (four per byte).
    public static let countersPerMiB = 1 << 22
    /// Counters per block (one 64-byte cache line).
    static let blockCounters = 256

    /// Number of two-bit counters (a multiple of 256).
    public let counters: Int
    let words: UnsafeMutablePointer<UInt64>
    let blocks: UInt64

    /// Words of the sketch (32 counters each).
    public var wordCount: Int { counters / 32 }

    /// A sketch of `mebibytes` MiB. Its memory is taken from the system as pages are first
    /// written, so a sketch that sees few calls costs little.
    public convenience init(mebibytes: Int) {
        self.init(counters: max(1, mebibytes) * Self.countersPerMiB)
    }

    /// A sketch of `counters` counters, rounded up to a whole number of blocks.
    public init(counters: Int) {
        let n = max(1, (counters + Self.blockCounters - 1) / Self.blockCounters) * Self.blockCounters
        self.counters = n
        blocks = UInt64(n / Self.blockCounters)
        let bytes = n / 4
        guard let raw = celda_table_alloc(bytes) else {
            fatalError("out of memory: the pair sketch needs \(bytes) bytes")
        }
        words = raw.bindMemory(to: UInt64.self, capacity: n / 32)
    }

    deinit { celda_table_free(words, counters / 4) }

    /// A pair's hash, which alone places its counters (``positions(hash:)``): what a detector
    /// queues for ``add(hashes:)``.
    @inline(__always) public static func hash(caller a: Party, callee b: Party) -> UInt64 {
        StableHash.combine(StableHash.mix(a.raw), b.raw)
    }

    /// The six counters of a pair, all in one 64-byte block (one cache line per update).
    @inline(__always) func positions(_ a: Party, _ b: Party) -> (Int, Int, Int, Int, Int, Int) {
        positions(hash: Self.hash(caller: a, callee: b))
    }

    /// The first counter of a pair's block.
    @inline(__always) func block(hash h1: UInt64) -> Int {
        Int(h1.multipliedFullWidth(by: blocks).high) * Self.blockCounters
    }

    /// The six counters of the pair with hash `h1`.
    @inline(__always) func positions(hash h1: UInt64) -> (Int, Int, Int, Int, Int, Int) {
        let h2 = StableHash.mix(h1 ^ 0x5851_F42D_4C95_7F2D)
        let block = block(hash: h1)
        return (
            block + Int(h2 & 255), block + Int(h2 >> 8 & 255), block + Int(h2 >> 16 & 255),
            block + Int(h2 >> 24 & 255), block + Int(h2 >> 32 & 255), block + Int(h2 >> 40 & 255)
        )
    }

    /// The "counted once" bit of counter `i` in its word.
    @inline(__always) static func once(_ i: Int) -> UInt64 { 1 << UInt64((i & 31) * 2) }

    /// Counts one call from `caller` to `callee`. Safe to call from several threads at once.
    public func add(caller: Party, callee: Party) {
        add(hash: Self.hash(caller: caller, callee: callee))
    }

    /// Counts one call of the pair with hash `h1`.
    @inline(__always) func add(hash h1: UInt64) {
        let p = positions(hash: h1)
        @inline(__always) func bump(_ i: Int) {
            let w = words + (i >> 5)
            let once = Self.once(i)
            // Already at two (a pair called often): nothing to write.
            if celda_load_relaxed(w) & (once << 1) != 0 { return }
            if celda_fetch_or(w, once) & once != 0 { _ = celda_fetch_or(w, once << 1) }
        }
        bump(p.0)
        bump(p.1)
        bump(p.2)
        bump(p.3)
        bump(p.4)
        bump(p.5)
    }

    /// Counts one call for each pair in `hashes` (``hash(caller:callee:)``): the same as
    /// ``add(caller:callee:)`` for each in turn, each pair's block loaded 16 pairs ahead. A
    /// detector queues its calls and adds them this way: an atomic update waits for the loads
    /// before it, so among a detector's own lookups each one stalled them (29% of the samples of
    /// `victim`'s loop sat right after the prefetch of the block). Safe to call from several
    /// threads at once.
    public func add(hashes: UnsafeBufferPointer<UInt64>) {
        let ahead = 16
        for i in 0..<min(ahead, hashes.count) { celda_prefetch(words + (block(hash: hashes[i]) >> 5)) }
        for i in 0..<hashes.count {
            if i + ahead < hashes.count { celda_prefetch(words + (block(hash: hashes[i + ahead]) >> 5)) }
            add(hash: hashes[i])
        }
    }

    /// Starts loading the block of a pair.
    @inline(__always)
    public func prefetch(caller: Party, callee: Party) {
        celda_prefetch(words + (positions(caller, callee).0 >> 5))
    }

    /// Whether `caller` called `callee` at least twice (a false yes at about
    /// ``falseUsualRate``, never a false no). Read once the run's adds are done.
    public func usual(caller: Party, callee: Party) -> Bool {
        let p = positions(caller, callee)
        @inline(__always) func twice(_ i: Int) -> Bool { words[i >> 5] & Self.once(i) << 1 != 0 }
        return twice(p.0) && twice(p.1) && twice(p.2) && twice(p.3) && twice(p.4) && twice(p.5)
    }

    /// Adds another run's counts (saturating at two). Both must have the same size.
    public func merge(_ o: PairSketch) {
        guard o !== self else { return }
        precondition(o.counters == counters, "pair sketches of different sizes")
        let low: UInt64 = 0x5555_5555_5555_5555
        for i in 0..<wordCount {
            let a = words[i]
            let b = o.words[i]
            if b == 0 { continue }
            // Once and once is twice; any twice stays twice.
            words[i] = a | b | (a & b & low) << 1
        }
    }

    /// Whether no pair was ever added.
    public var isEmpty: Bool {
        for i in 0..<wordCount where words[i] != 0 { return false }
        return true
    }

    /// Share of counters that counted to two.
    public var saturation: Double {
        let n = celda_count_bits(words, wordCount, 0xAAAA_AAAA_AAAA_AAAA)
        return Double(n) / Double(counters)
    }

    /// The chance that a pair never added reads as usual: all six of its counters at two.
    public var falseUsualRate: Double {
        let s = saturation
        return s * s * s * s * s * s
    }

    /// The words (for saving the sketch with a shard's findings).
    public func withWords<R, E: Error>(_ body: (UnsafeBufferPointer<UInt64>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: words, count: wordCount))
    }

    /// The words, to fill a sketch read back from saved findings.
    public func withMutableWords<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<UInt64>) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeMutableBufferPointer(start: words, count: wordCount))
    }

    /// Adds `s` into `total` (or makes it the total when there is none yet); `false`, leaving
    /// both as they are, when the two differ in size (sketches of other settings).
    @discardableResult
    public static func accumulate(_ s: PairSketch, into total: inout PairSketch?) -> Bool {
        guard let t = total else {
            total = s
            return true
        }
        guard t.counters == s.counters else { return false }
        t.merge(s)
        return true
    }

    /// One sketch from several of one size (the first, with the others added in); `nil` for none.
    public static func merged(_ sketches: [PairSketch]) -> PairSketch? {
        var total: PairSketch?
        for s in sketches { accumulate(s, into: &total) }
        return total
    }
}
