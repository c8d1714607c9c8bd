public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Several files read as one dump: records are merged by start time across inputs (so
/// overlapping exports and files from several switches interleave as one stream), exact
/// duplicate rows are counted once, and towers carried inline are added to the site table.
public final class DumpSet {
    public let readers: [DumpReader]
    /// Inputs that failed (missing, unreadable, cut short); the others are still read.
    @exclusivity(unchecked) public private(set) var errors: [InputError] = []
    /// Towers placed from coordinates inside the dump.
    public private(set) var inlineTowers = 0
    /// Inline coordinates more than 1 km from the tower file's position for the same cell.
    public private(set) var towerDisagreements = 0
    /// Charging ids seen (legs of one call at several hops count once).
    @exclusivity(unchecked) var legs: DuplicateFilter

    public init(readers: [DumpReader], maxDisorder: EventTime) {
        self.readers = readers
        self.legs = DuplicateFilter(horizon: maxDisorder + CivilTime.minute)
    }

    /// Reads every input, calling `sink` with each record in merged order.
    public func run(sites: SiteTable, sink: (CallRecord) -> Void) {
        var heads: [CallRecord?] = []
        var hashes: [UInt64] = []
        for r in readers {
            do throws(InputError) {
                if r.detection == nil { try r.open() }
                heads.append(try pull(r, sites: sites))
            } catch {
                errors.append(error)
                heads.append(nil)
            }
            hashes.append(r.lastRowHash)
        }
        while true {
            var best = -1
            for i in heads.indices {
                guard let h = heads[i] else { continue }
                if best < 0 || h.start < heads[best]!.start { best = i }
            }
            if best < 0 { break }
            var record = heads[best]!
            record.rowHash = hashes[best]
            let leg = readers[best].lastLegKey
            // Exact repeats of a row are found by the engine, where they sort next to each other.
            if leg != 0, legs.isDuplicate(leg, start: record.start, nearby: true) {
                readers[best].countDuplicate(sameCall: true)
            } else {
                sink(record)
            }
            do throws(InputError) {
                heads[best] = try pull(readers[best], sites: sites)
                hashes[best] = readers[best].lastRowHash
            } catch {
                errors.append(error)
                heads[best] = nil
            }
        }
    }

    private func pull(_ r: DumpReader, sites: SiteTable) throws(InputError) -> CallRecord? {
        let record = try r.next()
        for t in r.takeNewTowers() {
            if let known = sites.tower(of: t.cell) {
                if Geo.distance(known.location, t.location) > 1_000 { towerDisagreements += 1 }
            } else {
                sites.add(t)
                inlineTowers += 1
            }
        }
        return record
    }

    /// Every record in event-time order as the engine receives it (exact repeats of a row
    /// removed and counted against their input), for tools and tests that want the records
    /// rather than alerts.
    public func orderedRecords(sites: SiteTable, maxDisorder: EventTime = 2 * CivilTime.hour) -> [CallRecord] {
        var config = EngineConfig()
        config.maxDisorder = maxDisorder
        var front = EngineFront(sites: sites, config: config, allowlist: NumberList())
        var batch = Batch()
        run(sites: sites) { front.ingest($0, into: &batch) }
        front.flush(into: &batch)
        for (input, n) in front.stats.duplicatesByInput where input < readers.count {
            for _ in 0..<n { readers[input].countDuplicate() }
        }
        return batch.records
    }

    /// Progress: bytes read over every input, and the total when every size is known.
    public var progress: (done: Int, total: Int?) {
        var done = 0
        var total = 0
        var known = true
        for r in readers {
            if r.capture != nil || r.path == "-" || r.kind == .gzip {
                known = false
            } else {
                done += r.position
                total += r.bytes
            }
        }
        return (done, known ? total : nil)
    }

    /// Capture counts over every input that is a capture.
    public var captureStats: CaptureStats? {
        let captures = readers.compactMap { $0.capture?.stats }
        guard !captures.isEmpty else { return nil }
        var s = CaptureStats()
        for c in captures { s.add(c) }
        return s
    }

    /// Row counts over every input.
    public var stats: RowStats {
        var s = RowStats()
        for r in readers { s.add(r.stats) }
        return s
    }
}

/// Remembers the hashes of recent rows with the minute of their start time, for as long as a
/// duplicate can still arrive (the allowed disorder); older ones are forgotten, so memory stays
/// bounded. An exact duplicate row has the same start, hence the same minute.
struct DuplicateFilter {
    let horizon: EventTime
    /// Row hash → latest minute seen (`Int64.min` for a key just inserted).
    var seen = KeyTable<Int64>(empty: .min, capacity: 1 << 14)
    var maxSeen: EventTime = .min
    var lastSweep: EventTime = .min

    init(horizon: EventTime) { self.horizon = horizon }

    /// A hint that `hash` will be checked soon.
    func prefetch(_ hash: UInt64) { seen.prefetch(hash == 0 ? 1 : hash) }

    /// Whether `hash` was seen in the minute of `start` (or, with `nearby`, the minutes either side).
    mutating func isDuplicate(_ hash: UInt64, start: EventTime, nearby: Bool = false) -> Bool {
        let minute = start / CivilTime.minute
        if start > maxSeen {
            maxSeen = start
            if lastSweep == .min {
                lastSweep = start
            } else if maxSeen - lastSweep >= horizon / 4 {
                lastSweep = maxSeen
                let oldest = (maxSeen - horizon) / CivilTime.minute
                seen.removeAll { $0 < oldest }
            }
        }
        let i = seen.findOrInsert(hash == 0 ? 1 : hash)
        let previous = seen[i]
        if previous == .min {
            seen[i] = minute
            return false
        }
        seen[i] = max(previous, minute)
        return previous == minute || (nearby && abs(previous - minute) <= 1)
    }
}

/// Time zones by IANA name from the system's zoneinfo (`TZDIR`, else `/usr/share/zoneinfo`), or
/// fixed offsets (`UTC`, `UTC-6`, `-06:00`).
public enum ZoneLoader {
    public static func load(_ name: String) throws(InputError) -> ZoneRules {
        if let fixed = ZoneRules.fixedOffset(name) { return fixed }
        let valid =
            !name.isEmpty && !name.hasPrefix("/") && !name.contains("..")
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789/_-+".unicodeScalars.contains($0))
            }
        guard valid else { throw InputError(.notFound, path: name, "unknown time zone '\(name)'") }
        var dirs: [String] = []
        if let t = getenv("TZDIR") { dirs.append(String(cString: t)) }
        dirs += ["/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo"]
        for dir in dirs {
            let path = dir + "/" + name
            guard let bytes = try? readSmallFile(path) else { continue }
            if let rules = ZoneRules.tzif(bytes, name: name) { return rules }
        }
        throw InputError(
            .notFound, path: name, "unknown time zone '\(name)' (an IANA name such as America/Mexico_City, or UTC-6)")
    }
}

extension FileSystemLite {
    /// Expands directories to the regular files inside them (sorted by name, hidden files
    /// skipped); other paths are returned as they are.
    public static func expand(_ paths: [String]) -> [String] {
        var out: [String] = []
        for p in paths {
            var st = stat()
            guard p != "-", stat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(p) else {
                out.append(p)
                continue
            }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name.hasPrefix(".") { continue }
                var fst = stat()
                let full = (p.hasSuffix("/") ? p : p + "/") + name
                if stat(full, &fst) == 0, (fst.st_mode & S_IFMT) == S_IFREG { names.append(full) }
            }
            closedir(dir)
            out.append(contentsOf: names.sorted())
        }
        return out
    }
}
