internal import CCeldaSupport

/// Releases records in event-time order behind a watermark.
///
/// Dumps are not sorted by start time (switches write a record when a call ends, and dumps are
/// merged from several switches). Records wait until the watermark (`max start seen −
/// maxDisorder`) passes them, then go out in ``CallRecord/precedes(_:_:)`` order: by start, ties
/// broken by record content, so the release order does not depend on arrival order within the
/// allowed disorder. A record that arrives when the watermark has already passed its start time
/// is *late*: it is counted and processed, never dropped; it goes out at once, with the
/// ``CallRecord/Flags/late`` flag when a later record has already been released.
///
/// Held records wait in a calendar of one-second buckets covering the allowed disorder (a ring,
/// since held records always lie between the watermark and the newest start): a push appends to
/// its bucket, and a bucket is sorted once, when the watermark reaches it. That is the order a
/// heap would give, at a fraction of its comparisons.
///
/// The last ``lookahead`` records pushed wait in a small ring before they are placed, and each
/// one's bucket is prefetched as it enters the ring: records arrive up to the disorder apart,
/// so consecutive ones fall in buckets last touched long before, whose storage is not in the
/// cache. The ring delays every record by the same number of pushes, so what goes out, and in
/// what order, is what it would be without it; ``flush(into:)`` places the ring's records first.
public struct ReorderBuffer {
    struct Bucket {
        var items: [CallRecord] = []
        /// `items.count`, kept beside the bucket so a prefetch can find the next append's place
        /// without reading the array's header.
        var stored: Int32 = 0
        var head = 0
        var sorted = true
        /// Room to take at the bucket's first record: what it held last time round, and a
        /// little more (the same second of the next cycle is about as busy), and at least
        /// ``minimumRoom``.
        var hint: Int32 = Int32(minimumRoom)
    }

    public let maxDisorder: EventTime
    static let width: EventTime = 1_000_000
    /// A bucket's least storage, in records. Quiet seconds hold a varying handful; with room
    /// for 4, a second busier than any before it took storage again (516 mallocs per 100,000
    /// records of steady traffic at about one record a second). Sixteen costs 1.4 KiB a bucket.
    static let minimumRoom = 16
    private var buckets: [Bucket]
    /// The second of the oldest bucket that may hold records.
    private var cursor: Int64 = 0
    private var held = 0
    private var maxSeen: EventTime = .min
    /// The time of the last released record.
    public private(set) var released: EventTime = .min
    /// Records that arrived later than the allowed disorder.
    public private(set) var lateCount = 0
    private var work = SortWork()
    /// Records pushed and not placed yet, oldest at `pendingHead` (a ring once full).
    private var pending: [CallRecord] = []
    private var pendingHead = 0
    /// How many pushes a record waits in the ring.
    static let lookahead = 8

    public init(maxDisorder: EventTime) {
        self.maxDisorder = max(0, maxDisorder)
        let seconds = Int(min(self.maxDisorder / Self.width, 366 * 86_400))
        buckets = Array(repeating: Bucket(), count: seconds + 2)
    }

    /// Records held.
    public var count: Int { held + pending.count }

    /// The current watermark.
    public var watermark: EventTime { maxSeen == .min ? .min : maxSeen &- maxDisorder }

    @inline(__always) static func second(_ t: EventTime) -> Int64 {
        t >= 0 ? t / width : (t - width + 1) / width
    }

    @inline(__always) private func slot(_ second: Int64) -> Int {
        let n = Int64(buckets.count)
        if second >= 0 { return Int(UInt64(second) % UInt64(n)) }
        return Int(((second % n) + n) % n)
    }

    /// Adds a record and appends every record that is now due to `due`, in order. The record is
    /// placed ``lookahead`` pushes later (see the type's notes), so what a push releases is
    /// what the push that many before would have released.
    public mutating func push(_ record: CallRecord, into due: inout [CallRecord]) {
        prefetchBucket(of: record.start)
        if pending.count < Self.lookahead {
            if pending.capacity < Self.lookahead { pending.reserveCapacity(Self.lookahead) }
            pending.append(record)
            return
        }
        let r = pending[pendingHead]
        pending[pendingHead] = record
        pendingHead = pendingHead + 1 == Self.lookahead ? 0 : pendingHead + 1
        place(r, into: &due)
    }

    /// Starts loading the storage of the bucket a record at `start` goes to: its header and the
    /// place of the next append. (An array's storage is its header, 32 bytes on 64-bit
    /// platforms, then the elements: a wrong guess costs only a useless prefetch.)
    @inline(__always) private func prefetchBucket(of start: EventTime) {
        let b = slot(Self.second(start))
        let object = unsafeBitCast(buckets[b].items, to: UnsafeRawPointer.self)
        let next = object + 32 + Int(buckets[b].stored) * MemoryLayout<CallRecord>.stride
        celda_prefetch(object)
        celda_prefetch(next)
        celda_prefetch(next + (MemoryLayout<CallRecord>.size - 1))
    }

    /// Places the ring's records, oldest first.
    private mutating func drainPending(into due: inout [CallRecord]) {
        let n = pending.count
        for k in 0..<n { place(pending[(pendingHead + k) % n], into: &due) }
        pending.removeAll(keepingCapacity: true)
        pendingHead = 0
    }

    private mutating func place(_ record: CallRecord, into due: inout [CallRecord]) {
        if record.start < watermark {
            // Later than the allowed disorder: counted as late. Everything before the watermark
            // has gone out already, so it goes out now: in order when nothing after it has
            // been released yet, otherwise flagged.
            lateCount += 1
            var r = record
            if record.start < released {
                r.flags.insert(.late)
            } else {
                released = r.start
            }
            due.append(r)
            return
        }
        if record.start > maxSeen {
            maxSeen = record.start
            // Empty the seconds the watermark passed before the ring wraps onto them.
            release(upTo: watermark, into: &due)
        }
        let s = Self.second(record.start)
        if held == 0 || s < cursor { cursor = s }
        let b = slot(s)
        if buckets[b].sorted, let last = buckets[b].items.last, !CallRecord.precedes(last, record) {
            buckets[b].sorted = false
        }
        let count = buckets[b].items.count
        if count == buckets[b].items.capacity {
            // Grown by a quarter, not doubled: the buckets hold the whole disorder window, and
            // doubling left them a third empty on average (162 of 996 MB at the peak of a
            // 50M-row dump).
            buckets[b].items.reserveCapacity(count == 0 ? Int(buckets[b].hint) : count + count / 4 + 4)
        }
        buckets[b].items.append(record)
        buckets[b].stored += 1
        held += 1
        release(upTo: watermark, into: &due)
    }

    private mutating func release(upTo w: EventTime, into due: inout [CallRecord], limit: Int = .max) {
        let last = Self.second(w)
        var budget = limit
        while held > 0, cursor <= last {
            let b = slot(cursor)
            if buckets[b].head < buckets[b].items.count {
                if !buckets[b].sorted {
                    Self.sort(&buckets[b].items, from: buckets[b].head, work: &work)
                    buckets[b].sorted = true
                }
                // The due run is found first and appended in one go (an append per record made a
                // uniqueness check, a runtime call, per record).
                var rest = false
                do {
                    let items = buckets[b].items
                    let head = buckets[b].head
                    var end = head
                    while end < items.count, budget > 0, items[end].start <= w {
                        end += 1
                        budget -= 1
                    }
                    if end > head {
                        due.append(contentsOf: items[head..<end])
                        held -= end - head
                        released = items[end - 1].start
                        buckets[b].head = end
                    }
                    rest = end < items.count
                }
                if rest { return }  // the rest of this second is not due yet
                // Storage that fits what this second held is kept; storage far bigger than that
                // is freed, and the next cycle starts from the count seen.
                let held = buckets[b].items.count
                let capacity = buckets[b].items.capacity
                buckets[b].hint = Int32(max(Self.minimumRoom, min(4096, held + held / 8 + 4)))
                buckets[b].items.removeAll(
                    keepingCapacity: capacity <= 4096 && capacity <= max(2 * Self.minimumRoom, held + held / 4 + 8))
                buckets[b].stored = 0
                buckets[b].head = 0
                buckets[b].sorted = true
            }
            cursor += 1
        }
    }

    /// Reused buffers for sorting a bucket: `keys` and `out` hold at least as many elements as the
    /// largest bucket sorted so far, and a sort uses the first ones.
    struct SortWork {
        var keys: [SortKey] = []
        var stack: [(Int, Int)] = []
        var out: [CallRecord] = []
    }

    /// Sorts `items[from...]` by ``CallRecord/precedes(_:_:)``: small keys (start and caller,
    /// which settle almost every comparison) are sorted, then the records are moved once.
    static func sort(_ items: inout [CallRecord], from: Int, work: inout SortWork) {
        let n = items.count - from
        if n < 2 { return }
        // The keys and the sorted records go through reused buffers written in place (an append
        // per record made a uniqueness check, a runtime call, per record).
        if work.keys.count < n {
            work.keys = Array(repeating: SortKey(start: 0, caller: 0, index: 0), count: max(n, work.keys.count * 2))
        }
        if work.out.count < n { work.out += items[from..<(from + n - work.out.count)] }
        work.stack.removeAll(keepingCapacity: true)
        items.withUnsafeMutableBufferPointer { rec in
            work.keys.withUnsafeMutableBufferPointer { all in
                let k = UnsafeMutableBufferPointer(rebasing: all[0..<n])
                for i in 0..<n {
                    let r = rec[from + i]
                    k[i] = SortKey(start: r.start, caller: r.caller.raw, index: Int32(from + i))
                }
                @inline(__always) func less(_ a: SortKey, _ b: SortKey) -> Bool {
                    if a.start != b.start { return a.start < b.start }
                    if a.caller != b.caller { return a.caller < b.caller }
                    return CallRecord.precedes(rec[Int(a.index)], rec[Int(b.index)])
                }
                // Quicksort (median of three) down to runs of 16, then one insertion pass.
                work.stack.append((0, n - 1))
                while let (lo0, hi0) = work.stack.popLast() {
                    var lo = lo0
                    var hi = hi0
                    while hi - lo > 16 {
                        let mid = lo + (hi - lo) / 2
                        if less(k[mid], k[lo]) { k.swapAt(mid, lo) }
                        if less(k[hi], k[lo]) { k.swapAt(hi, lo) }
                        if less(k[hi], k[mid]) { k.swapAt(hi, mid) }
                        let pivot = k[mid]
                        var i = lo
                        var j = hi
                        while i <= j {
                            while less(k[i], pivot) { i += 1 }
                            while less(pivot, k[j]) { j -= 1 }
                            if i <= j {
                                k.swapAt(i, j)
                                i += 1
                                j -= 1
                            }
                        }
                        // The smaller side waits on the stack; loop on the larger.
                        if j - lo < hi - i {
                            if lo < j { work.stack.append((lo, j)) }
                            lo = i
                        } else {
                            if i < hi { work.stack.append((i, hi)) }
                            hi = j
                        }
                    }
                }
                k.insertionSort(by: less)
                // The sorted records go through the reused buffer and back, so the bucket keeps its
                // storage.
                work.out.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n { out[i] = rec[Int(k[i].index)] }
                    for i in 0..<n { rec[from + i] = out[i] }
                }
            }
        }
    }

    struct SortKey {
        var start: EventTime
        var caller: UInt64
        var index: Int32
    }

    /// Releases everything left, in order.
    public mutating func flush(into due: inout [CallRecord]) {
        drainPending(into: &due)
        release(upTo: .max, into: &due)
    }

    /// Releases up to `limit` of the records left, in order (end of input, a batch at a time).
    public mutating func flush(into due: inout [CallRecord], limit: Int) {
        drainPending(into: &due)
        release(upTo: .max, into: &due, limit: limit)
    }
}
