public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The engine with its lanes on threads: the caller's thread runs the serial front (locate,
/// order, ticks) and publishes batches; every worker dispatches every batch to its own shard of
/// each detector family, taking only the keys of its lane. The merged findings are the same as
/// one thread's (``DetectorOutput/merged(_:)`` is canonical), so the alert log is byte-identical
/// whatever the thread count.
public final class ParallelEngine {
    public let config: EngineConfig
    let stages: [any SecondStage]
    let allowlist: NumberList
    let watchlist: NumberList
    @exclusivity(unchecked) var front: EngineFront
    @exclusivity(unchecked) var batch = Batch()
    let channel: BatchChannel
    var workers: [Worker] = []
    /// With one thread the lane runs here, in the caller's thread.
    @exclusivity(unchecked) var inline: ShardRunner?
    var snapshot: SiteTable
    var snapshotVersion: Int
    /// The inline lane's prison-linked calls, out of memory until the end.
    let spill = FindingSpill()
    public let threads: Int
    /// Prison-linked calls a lane gathers before they go to its ``FindingSpill``.
    let spillBlock: Int
    /// Records per batch. With 8 batches in flight, the front runs up to 262,144 records (23 MB)
    /// ahead of the lanes. Batches of 4,096 made the lanes wait and wake 2.5 times as often: on
    /// 2 cores, with 5 threads, a 10M-row run took about 10% longer and 9% more CPU (medians of
    /// 6 alternating runs). 65,536 was faster still, but took a 50M-row run past 1 GB.
    static let batchSize = 32_768

    public init(
        detectors: [any Detector], sites: SiteTable, config: EngineConfig, stages: [any SecondStage],
        allowlist: NumberList, watchlist: NumberList, threads: Int, spillBlock: Int = 1 << 16
    ) {
        self.config = config
        self.spillBlock = max(1, spillBlock)
        self.stages = stages
        self.allowlist = allowlist
        self.watchlist = watchlist
        self.threads = max(1, threads)
        front = EngineFront(sites: sites, config: config, allowlist: allowlist)
        snapshot = sites.snapshot()
        snapshotVersion = sites.version
        channel = BatchChannel(readers: self.threads, capacity: 8)
        let detectors = detectors.map { $0.startingRun() }
        if self.threads == 1 {
            inline = ShardRunner(detectors: detectors, lane: 0, lanes: 1, partition: config.partition)
            return
        }
        for lane in 0..<self.threads {
            let w = Worker(
                runner: ShardRunner(detectors: detectors, lane: lane, lanes: self.threads, partition: config.partition),
                channel: channel, allowlist: allowlist, watchlist: watchlist, spillBlock: self.spillBlock)
            w.start()
            workers.append(w)
        }
    }

    public var stats: EngineStats { front.stats }

    public func ingest(_ record: CallRecord) {
        front.ingest(record, into: &batch)
        if batch.records.count >= Self.batchSize { publish() }
    }

    func publish() {
        guard !batch.isEmpty else { return }
        // Towers added inline since the last batch: the workers get a fresh copy.
        if inline == nil, front.sites.version != snapshotVersion {
            snapshot = front.sites.snapshot()
            snapshotVersion = front.sites.version
        }
        batch.sites = snapshot
        if inline != nil {
            inline!.run(batch, context: DetectorContext(sites: front.sites, allowlist: allowlist, watchlist: watchlist))
            inline!.offloadPrisonCalls(atLeast: spillBlock, spill.write)
            batch.removeAll()
            return
        }
        channel.put(batch)
        batch = Batch()
        batch.records.reserveCapacity(Self.batchSize)
    }

    /// Ends the input; returns the keyed detectors' merged findings.
    public func finishFindings() -> DetectorOutput {
        while front.flush(into: &batch, limit: Self.batchSize) { publish() }
        publish()
        if inline != nil {
            let context = DetectorContext(sites: front.sites, allowlist: allowlist, watchlist: watchlist)
            var out = inline!.finish(context: context)
            out.prisonCalls = spill.readAll(then: out.prisonCalls)
            return DetectorOutput.merged([out])
        }
        channel.close()
        var parts: [DetectorOutput] = []
        for w in workers {
            w.join()
            parts.append(w.result)
        }
        return DetectorOutput.merged(parts)
    }

    /// Ends the input; returns every alert, second stages included.
    public func finish() -> [Alert] {
        let found = finishFindings()
        let context = DetectorContext(sites: front.sites, allowlist: allowlist, watchlist: watchlist)
        return Engine.complete(found, stages: stages, context: context)
    }
}

/// A lane on its own thread.
final class Worker: @unchecked Sendable {
    var runner: ShardRunner
    let channel: BatchChannel
    let allowlist: NumberList
    let watchlist: NumberList
    var result = DetectorOutput()
    var thread = pthread_t()
    /// This lane's prison-linked calls, out of memory until the end.
    let spill = FindingSpill()
    let spillBlock: Int

    init(runner: ShardRunner, channel: BatchChannel, allowlist: NumberList, watchlist: NumberList, spillBlock: Int) {
        self.runner = runner
        self.spillBlock = spillBlock
        self.channel = channel
        self.allowlist = allowlist
        self.watchlist = watchlist
    }

    func start() {
        thread = Threads.start("a worker thread", name: "celda-lane", stackSize: 16 << 20) { self.main() }
    }

    func main() {
        var seq = 0
        var context: DetectorContext?
        var sites: SiteTable?
        while let b = channel.get(seq) {
            if let s = b.sites, s !== sites {
                sites = s
                context = DetectorContext(sites: s, allowlist: allowlist, watchlist: watchlist)
            }
            if let context { runner.run(b, context: context) }
            channel.done(seq)
            runner.offloadPrisonCalls(atLeast: spillBlock, spill.write)
            seq += 1
        }
        let s = sites ?? SiteTable(towers: [], prisons: [])
        result = runner.finish(
            context: context ?? DetectorContext(sites: s, allowlist: allowlist, watchlist: watchlist))
        result.prisonCalls = spill.readAll(then: result.prisonCalls)
    }

    func join() { pthread_join(thread, nil) }
}

/// Batches broadcast to every worker in order; a batch is dropped when all have read it, and the
/// producer waits while `capacity` batches are outstanding (bounded memory).
final class BatchChannel: @unchecked Sendable {
    let readers: Int
    let capacity: Int
    var slots: [(batch: Batch, remaining: Int)?]
    var produced = 0
    var oldest = 0
    var closed = false
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(readers: Int, capacity: Int) {
        self.readers = readers
        self.capacity = capacity
        slots = Array(repeating: nil, count: capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(changed)
        mutex.deallocate()
        changed.deallocate()
    }

    func put(_ b: Batch) {
        pthread_mutex_lock(mutex)
        while produced - oldest >= capacity { pthread_cond_wait(changed, mutex) }
        slots[produced % capacity] = (b, readers)
        produced += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// Batch number `seq`, waiting for it; `nil` once the channel is closed and drained.
    func get(_ seq: Int) -> Batch? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while seq >= produced {
            if closed { return nil }
            pthread_cond_wait(changed, mutex)
        }
        return slots[seq % capacity]!.batch
    }

    /// A reader is through with batch `seq`.
    func done(_ seq: Int) {
        pthread_mutex_lock(mutex)
        let i = seq % capacity
        slots[i]!.remaining -= 1
        if slots[i]!.remaining == 0 {
            slots[i] = nil
            while oldest < produced, slots[oldest % capacity] == nil { oldest += 1 }
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }

    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }
}
