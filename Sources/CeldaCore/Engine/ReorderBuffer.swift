import HeapModule

/// Releases records in event-time order behind a watermark.
///
/// Dumps are not sorted by start time (switches write a record when a call ends, and dumps are
/// merged from several switches). Records wait in a min-heap until the watermark
/// (`max start seen − maxDisorder`) passes them. A record that arrives when the watermark has
/// already passed its start time is *late*: it is counted, and processed, never dropped; if a
/// later record has already been released it goes out at once with the ``CallRecord/Flags/late``
/// flag.
///
/// Ties on start time are broken by record content (``CallRecord/precedes(_:_:)``), so the
/// release order does not depend on arrival order within the allowed disorder.
public struct ReorderBuffer {
    struct Item: Comparable {
        var record: CallRecord
        static func < (a: Item, b: Item) -> Bool { CallRecord.precedes(a.record, b.record) }
        static func == (a: Item, b: Item) -> Bool { a.record == b.record }
    }

    public let maxDisorder: EventTime
    private var heap = Heap<Item>()
    /// Records held that arrived in order, oldest first from `runHead`.
    private var run: [CallRecord] = []
    private var runHead = 0
    private var maxSeen: EventTime = .min
    /// The time of the last released record.
    public private(set) var released: EventTime = .min
    /// Records that arrived later than the allowed disorder.
    public private(set) var lateCount = 0

    public init(maxDisorder: EventTime) { self.maxDisorder = max(0, maxDisorder) }

    /// Records held.
    public var count: Int { heap.count + run.count - runHead }

    /// The current watermark.
    public var watermark: EventTime { maxSeen == .min ? .min : maxSeen &- maxDisorder }

    /// Adds a record and appends every record that is now due to `due`, in order.
    public mutating func push(_ record: CallRecord, into due: inout [CallRecord]) {
        if record.start < watermark {
            // Later than the allowed disorder: counted as late. It is still released in order when
            // nothing after it has gone out yet; otherwise it goes out at once, flagged.
            lateCount += 1
            if record.start < released {
                var r = record
                r.flags.insert(.late)
                due.append(r)
                return
            }
        }
        if record.start > maxSeen { maxSeen = record.start }
        // Records that come in order (the common case for sorted dumps) queue in a FIFO instead
        // of the heap; release takes the smaller of the two heads, so the order is the same.
        if let last = run.last, CallRecord.precedes(last, record) {
            run.append(record)
        } else if run.count == runHead {
            run.removeAll(keepingCapacity: true)
            runHead = 0
            run.append(record)
        } else {
            heap.insert(Item(record: record))
        }
        let w = watermark
        while true {
            let fromRun = runHead < run.count && run[runHead].start <= w
            let fromHeap = heap.min.map { $0.record.start <= w } ?? false
            if !fromRun && !fromHeap { break }
            let r: CallRecord
            if fromRun && (!fromHeap || CallRecord.precedes(run[runHead], heap.min!.record)) {
                r = run[runHead]
                runHead += 1
            } else {
                r = heap.removeMin().record
            }
            released = r.start
            due.append(r)
        }
        if runHead > 4096, runHead * 2 > run.count {
            run.removeFirst(runHead)
            runHead = 0
        }
    }

    /// Releases everything left, in order.
    public mutating func flush(into due: inout [CallRecord]) {
        while runHead < run.count || !heap.isEmpty {
            let r: CallRecord
            if runHead < run.count && (heap.isEmpty || CallRecord.precedes(run[runHead], heap.min!.record)) {
                r = run[runHead]
                runHead += 1
            } else {
                r = heap.removeMin().record
            }
            released = r.start
            due.append(r)
        }
        run.removeAll(keepingCapacity: true)
        runHead = 0
    }
}
