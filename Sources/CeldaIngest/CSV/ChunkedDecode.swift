import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The rows of one stretch of a mapped dump, decoded (possibly on another thread) into records
/// and everything the reader needs to hand them on exactly as a row-by-row read would: row
/// hashes for the duplicate filter, charging-id keys, inline towers with the record they come
/// before, rejects, counts, and the names of text identities and site codes.
///
/// Line numbers in records and rejects are relative (0 = the chunk's first line); the reader adds
/// the chunk's first line number when it takes the chunk, because only then is it known.
struct DecodedChunk {
    var start = 0
    /// Where the row after the chunk's last row starts.
    var end = 0
    /// Line breaks in the chunk's rows.
    var newlines = 0
    var records: [CallRecord] = []
    var rowHashes: [UInt64] = []
    /// Parallel to `records` when the layout has a charging-id column, else empty.
    var legKeys: [UInt64] = []
    /// New inline towers, each to be added before `records[at]` is handed on.
    var towers: [(at: Int, tower: Tower)] = []
    var rejects: [(line: Int, reason: RejectReason, raw: Range<Int>)] = []
    var stats = RowStats()
    var identities = IdentityTable()
    var siteNames = SiteNames()
}

/// Decodes `[from, limit)` of a mapped dump: every row that starts before `limit` (the last may
/// run past it).
struct ChunkDecoder {
    let template: CDRDecoder
    let inputIndex: Int
    let delimiter: UInt8

    func decode(_ buf: UnsafeRawBufferPointer, from: Int, limit: Int) -> DecodedChunk {
        var out = DecodedChunk()
        out.start = from
        var decoder = template
        let scanner = CSVScanner(delimiter: delimiter)
        var row = Row(buffer: buf, fields: [], offset: 0, line: 0, rawRange: 0..<0, malformed: false)
        row.fields.reserveCapacity(32)
        out.records.reserveCapacity(max(16, (limit - from) / 96))
        out.rowHashes.reserveCapacity(out.records.capacity)
        let legs = template.icidColumn >= 0
        var pos = from
        var line = 0
        while pos < limit {
            let rowStart = pos
            switch scanner.scan(buf, from: pos, eof: true, fields: &row.fields) {
            case .row(let next, let newlines):
                var end = next
                if end > rowStart, buf[end - 1] == 0x0A { end -= 1 }
                if end > rowStart, buf[end - 1] == 0x0D { end -= 1 }
                row.rawRange = rowStart..<max(rowStart, end)
                row.malformed = false
                row.offset = rowStart
                row.line = line
                line += newlines
                pos = next
            case .unterminated(let lineEnd, let lineNext):
                row.fields.removeAll(keepingCapacity: true)
                row.rawRange = rowStart..<lineEnd
                row.malformed = true
                row.offset = rowStart
                row.line = line
                line += 1
                pos = lineNext
            case .needMore:
                // Not reached with `eof: true`; stop rather than loop.
                pos = buf.count
                continue
            }
            if row.isBlank {
                out.stats.blankLines += 1
                continue
            }
            out.stats.read += 1
            if row.malformed {
                out.reject(row, RejectReason("unterminated-quote", "a quoted field never closes"))
                continue
            }
            let source = SourceRef(input: inputIndex, offset: row.offset, line: row.line)
            if let record = decoder.decodeCommon(row, source: source) {
                out.stats.accepted += 1
                out.records.append(record)
                out.rowHashes.append(StableHash.words(row.raw))
                if legs { out.legKeys.append(decoder.legKey(row)) }
                continue
            }
            let towersBefore = decoder.newTowers.count
            switch decoder.decode(row, source: source) {
            case .record(let record):
                out.stats.accepted += 1
                if decoder.newTowers.count > towersBefore {
                    for t in decoder.newTowers[towersBefore...] { out.towers.append((out.records.count, t)) }
                }
                out.records.append(record)
                out.rowHashes.append(StableHash.words(row.raw))
                if legs { out.legKeys.append(decoder.legKey(row)) }
            case .skipped(let why):
                out.stats.skipped += 1
                out.stats.skippedByReason[why, default: 0] += 1
            case .rejected(let reason):
                out.reject(row, reason)
            }
        }
        out.end = pos
        out.newlines = line
        out.identities = decoder.identities
        out.siteNames = decoder.sites
        return out
    }
}

extension DecodedChunk {
    mutating func reject(_ row: Row, _ reason: RejectReason) {
        stats.rejected += 1
        stats.rejectedByReason[reason.code, default: 0] += 1
        rejects.append((row.line, reason, row.rawRange))
    }
}

/// Cuts a mapped dump into chunks at line breaks and decodes them ahead of the reader on worker
/// threads (or, with no workers, when the reader asks).
///
/// A chunk is cut at the first line break after a multiple of `chunkBytes`, which is a row
/// boundary unless a quoted field holds line breaks there. The reader checks: a chunk counts
/// only if the previous chunk's rows ended exactly where it begins; otherwise it is decoded
/// again from where they did end. So the records are those of one row-by-row pass, whatever the
/// quoting, and the same for any number of threads.
final class ChunkPipeline: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    /// Keeps the mapping alive while workers read it.
    let owner: AnyObject
    let decoder: ChunkDecoder
    /// Nominal chunk starts; `starts[k + 1]` is chunk `k`'s limit (the last is the buffer's end).
    let starts: [Int]
    let window: Int
    private var results: [Int: DecodedChunk] = [:]
    private var nextToClaim = 0
    private var consumed = 0
    private var cancelled = false
    private var workers = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    static let defaultChunkBytes = 4 << 20

    /// `lineBreak(at:)` gives the offset of the first line break at or after an offset (nil when
    /// none); the reader passes one that reads the file with `pread`, because touching the
    /// mapping at every boundary would make those pages resident all at once.
    init(
        buffer: UnsafeRawBufferPointer, owner: AnyObject, from: Int, decoder: ChunkDecoder, workers: Int,
        chunkBytes: Int, lineBreak: ((Int) -> Int?)? = nil
    ) {
        self.buffer = buffer
        self.owner = owner
        self.decoder = decoder
        var starts = [from]
        let size = max(4096, chunkBytes)
        var cut = from + size
        let find =
            lineBreak ?? { at in
                guard let nl = memchr(buffer.baseAddress! + at, 0x0A, buffer.count - at) else { return nil }
                return buffer.baseAddress!.distance(to: UnsafeRawPointer(nl))
            }
        while cut < buffer.count {
            guard let nl = find(cut) else { break }
            let s = nl + 1
            if s >= buffer.count { break }
            starts.append(s)
            cut = s + size
        }
        starts.append(buffer.count)
        self.starts = starts
        self.window = max(2, workers * 2)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        for _ in 0..<workers { start() }
    }

    /// Number of chunks.
    var count: Int { starts.count - 1 }

    private func start() {
        pthread_detach(Threads.start("a decoding thread", name: "celda-decode") { self.work() })
        workers += 1
    }

    private func work() {
        while true {
            pthread_mutex_lock(mutex)
            while !cancelled, nextToClaim < count, nextToClaim >= consumed + window {
                pthread_cond_wait(changed, mutex)
            }
            if cancelled || nextToClaim >= count {
                pthread_mutex_unlock(mutex)
                return
            }
            let k = nextToClaim
            nextToClaim += 1
            pthread_mutex_unlock(mutex)
            let chunk = decoder.decode(buffer, from: starts[k], limit: starts[k + 1])
            pthread_mutex_lock(mutex)
            results[k] = chunk
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
    }

    /// Chunk `k` as decoded from `from` (its nominal start, unless the rows before ran past it).
    func take(_ k: Int, from: Int) -> DecodedChunk {
        var chunk: DecodedChunk?
        if workers > 0 {
            pthread_mutex_lock(mutex)
            while results[k] == nil { pthread_cond_wait(changed, mutex) }
            chunk = results.removeValue(forKey: k)
            consumed = k + 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        if let chunk, chunk.start == from { return chunk }
        return decoder.decode(buffer, from: from, limit: max(from, starts[k + 1]))
    }

    /// Stops the workers (the reader is done or abandoned); they finish the chunk in hand.
    func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        results.removeAll()
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(changed)
        mutex.deallocate()
        changed.deallocate()
    }
}
