import Benchmark
import CeldaCore
import CeldaIngest
import CeldaSynth

/// Celda's hot paths over one synthetic, seeded workload of 100,000 CDR rows.
///
/// | Benchmark | One sample is |
/// | --- | --- |
/// | `Ingest.csvScan.100kRows` | `CSVScanner.scan` over every row of the in-memory CSV (header excluded) |
/// | `Ingest.decode.100kRows` | `CDRDecoder.decode` of every pre-tokenised row into a `CallRecord` |
/// | `Ingest.rowCursor.100kRows` | a `RowCursor` over the CSV as a stream (128 KiB reads), every row |
/// | `Core.burst.100kRecords` | a fresh `BurstDetector`, `observe` of every record, one reused `DetectorOutput` |
/// | `Core.engine.100kRecords` | a fresh `Engine` with one `BurstDetector`, `ingest` of every record, `finish()` |
/// | `Core.burst.steady.100kRecords` | `observe` of the next 36 hours into a detector that saw the first 36 |
/// | `Core.engine.steady.100kRecords` | `ingest` of the next 36 hours into an engine that saw the first 36 |
/// | `Core.engine.all.steady.100kRecords` | the same with every detector `celda analyze` runs |
/// | `Core.engine.all.quiet.steady.100kRecords` | every detector, a third 36 hours of ordinary traffic only (no extortion lines, so no alerts) after two |
/// | `Ingest.mappedDump.100kRows` | a `DumpReader` over the CSV as a mapped file (the chunked decode `analyze` uses), every record |
/// | `Ingest.capture.15kCalls` | a `CaptureReader` (libpcap, decoding thread, assembly) over a synthetic capture of 15,000 calls and 99,223 packets (``captureFile``), every call |
///
/// Every sample processes all ``Workload/rows`` rows once (`scalingFactor: .one`, so
/// `b.scaledIterations` runs the pass once), so the figures are per 100,000 rows:
///
/// - **malloc per record = `mallocCountTotal` / 100,000** (the p50 or p90 of the column);
/// - rows per second = throughput (passes/s) × 100,000.
///
/// The data (CSV bytes, row spans, records, site table) is built once, outside the measured
/// region, by the `setup` hook; per-file work that is not per row (`CDRLayout.detect`, the
/// field array's capacity, the alert array) happens before `b.startMeasurement()`.
///
/// Metrics: people read `[.throughput, .wallClock, .mallocCountTotal, .peakMemoryResident]`
/// (the sampler behind `.peakMemoryResident` adds ~20–30 mallocs to each sample of that run);
/// CI gates on `mallocCountTotal` alone, by running the threshold commands with
/// `--metric mallocCountTotal` (see README.md), which measures nothing else and so counts exactly.
/// `.cpuTotal`/`.instructions` are left out on purpose: next to the malloc counters they add
/// phantom allocations to every sample.
let benchmarks: @Sendable () -> Void = {
    let rows = Workload.rows

    /// Warms the shared workload (builds and validates it) before any measurement.
    let setup: Benchmark.BenchmarkSetupHook = { precondition(workload.records.count == rows) }

    // MARK: Ingest

    Benchmark("Ingest.csvScan.100kRows", configuration: configuration(setup: setup)) { b in
        let data = workload
        let scanner = CSVScanner()
        var fields = [FieldSpan]()
        fields.reserveCapacity(32)
        data.csv.withUnsafeBytes { buf in
            b.startMeasurement()
            for _ in b.scaledIterations {
                var pos = data.headerEnd
                var seen = 0
                var spans = 0
                while pos < buf.count {
                    switch scanner.scan(buf, from: pos, eof: true, fields: &fields) {
                    case .row(let next, _):
                        seen &+= 1
                        spans &+= fields.count
                        pos = next
                    case .needMore, .unterminated:
                        preconditionFailure("the generated CSV is well formed")
                    }
                }
                precondition(seen == rows)
                blackHole(spans)
            }
            b.stopMeasurement()
        }
    }

    Benchmark("Ingest.decode.100kRows", configuration: configuration(setup: setup)) { b in
        let data = workload
        var decoder = CDRDecoder(layout: CDRLayout.detect(header: data.header), plan: .mexico, zone: Workload.zone)
        var row = Workload.makeRow()
        data.csv.withUnsafeBytes { buf in
            row.buffer = buf
            b.startMeasurement()
            for _ in b.scaledIterations {
                var checksum: Int64 = 0
                var rejected = 0
                for i in 0..<rows {
                    data.point(&row, at: i)
                    switch decoder.decode(row, source: SourceRef(input: 0, offset: row.offset, line: row.line)) {
                    case .record(let r): checksum &+= r.start &+ Int64(truncatingIfNeeded: r.callee.raw)
                    case .skipped, .rejected: rejected &+= 1
                    }
                }
                precondition(rejected == 0)
                blackHole(checksum)
            }
            b.stopMeasurement()
        }
    }

    Benchmark("Ingest.rowCursor.100kRows", configuration: configuration(setup: setup)) { b in
        let data = workload
        b.startMeasurement()
        for _ in b.scaledIterations {
            let cursor = RowCursor(stream: MemorySource(data.csv))
            var seen = 0
            var spans = 0
            do {
                while try cursor.next() {
                    seen &+= 1
                    spans &+= cursor.row.fields.count
                }
            } catch {
                preconditionFailure("reading memory failed: \(error)")
            }
            precondition(seen == rows + 1)  // and the header
            blackHole(spans)
        }
        b.stopMeasurement()
    }

    // MARK: Core

    Benchmark("Core.burst.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        let context = DetectorContext(sites: data.sites)
        var output = DetectorOutput()
        output.alerts.reserveCapacity(1024)
        b.startMeasurement()
        for _ in b.scaledIterations {
            output.alerts.removeAll(keepingCapacity: true)
            var det = BurstDetector(config: BurstConfig())
            for r in data.records {
                det.observe(r, role: .primary, context: context, output: &output)
            }
            blackHole(det.keyCount)
            blackHole(output.alerts.count)
        }
        b.stopMeasurement()
    }

    Benchmark("Core.engine.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        b.startMeasurement()
        for _ in b.scaledIterations {
            var engine = Engine(detectors: [BurstDetector()], sites: data.sites, config: EngineConfig())
            for r in data.records {
                engine.ingest(r)
            }
            let alerts = engine.finish()
            blackHole(alerts.count)
        }
        b.stopMeasurement()
    }

    // Steady state: the detector or engine has already seen the whole workload (outside the
    // measured region), then takes the same traffic again, shifted to the following 36 hours.
    // Line state for every caller exists by then, so what still allocates here allocates per
    // record (or per idle line coming back), not per new key.

    Benchmark("Core.burst.steady.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        let context = DetectorContext(sites: data.sites)
        var output = DetectorOutput()
        output.alerts.reserveCapacity(1024)
        var det = BurstDetector(config: BurstConfig())
        for r in data.records {
            det.observe(r, role: .primary, context: context, output: &output)
        }
        output.alerts.removeAll(keepingCapacity: true)
        b.startMeasurement()
        for _ in b.scaledIterations {
            for r in data.nextRecords {
                det.observe(r, role: .primary, context: context, output: &output)
            }
        }
        b.stopMeasurement()
        blackHole(output.alerts.count)
    }

    Benchmark("Core.engine.all.steady.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        var engine = Engine(detectors: allDetectors(), sites: data.sites, config: EngineConfig())
        for r in data.records {
            engine.ingest(r)
        }
        b.startMeasurement()
        for _ in b.scaledIterations {
            for r in data.nextRecords {
                engine.ingest(r)
            }
        }
        b.stopMeasurement()
        blackHole(engine.finish().count)
    }

    Benchmark("Core.engine.all.quiet.steady.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        var engine = Engine(detectors: allDetectors(), sites: data.sites, config: EngineConfig())
        for r in data.records {
            engine.ingest(r)
        }
        for r in data.quietNextRecords {
            engine.ingest(r)
        }
        b.startMeasurement()
        for _ in b.scaledIterations {
            for r in data.quietNextRecords {
                var later = r
                later.start += Workload.span
                engine.ingest(later)
            }
        }
        b.stopMeasurement()
        blackHole(engine.finish().count)
    }

    Benchmark("Ingest.mappedDump.100kRows", configuration: configuration(setup: setup)) { b in
        let path = workloadFile
        b.startMeasurement()
        for _ in b.scaledIterations {
            let reader = DumpReader(path: path, inputIndex: 0, options: ReaderOptions())
            var n = 0
            do { try reader.run { _ in n += 1 } } catch { fatalError("\(error)") }
            precondition(n == rows)
            blackHole(n)
        }
        b.stopMeasurement()
    }

    // Calls from SIP: per call, the strings an `AssembledCall` holds (Call-ID, caller, callee,
    // charging id) are allocated, so this one is not "no allocation per record".
    Benchmark(
        "Ingest.capture.15kCalls", configuration: configuration(setup: { precondition(captureFile.calls > 10_000) })
    ) { b in
        let (path, expected) = captureFile
        b.startMeasurement()
        for _ in b.scaledIterations {
            do {
                let reader = try CaptureReader(path: path)
                var n = 0
                while try reader.nextCall() != nil { n += 1 }
                precondition(n == expected && reader.stats.faults.isEmpty)
                blackHole(reader.stats.packets)
            } catch {
                fatalError("\(error)")
            }
        }
        b.stopMeasurement()
    }

    Benchmark("Core.engine.steady.100kRecords", configuration: configuration(setup: setup)) { b in
        let data = workload
        var engine = Engine(detectors: [BurstDetector()], sites: data.sites, config: EngineConfig())
        for r in data.records {
            engine.ingest(r)
        }
        b.startMeasurement()
        for _ in b.scaledIterations {
            for r in data.nextRecords {
                engine.ingest(r)
            }
        }
        b.stopMeasurement()
        blackHole(engine.finish().count)
    }
}

/// A synthetic capture (`celda synth --pcap`'s generator, seed 1) of about 15,000 calls, written
/// once to a temporary file: its path and its calls.
let captureFile: (path: String, calls: Int) = {
    let prisons = try! PrisonFile.parse(text: DefaultPrisons.csv, path: "built-in prison list")
    var config = SynthConfig()
    config.rows = 15_000
    let world = SyntheticWorld(config: config, prisons: prisons)
    let path = "/tmp/celda-benchmark-\(config.rows)-calls.pcap"
    let out = try! OutputFile(path: path)
    world.writeCapture { try! out.write($0) }
    try! out.close()
    return (path, world.callCount)
}()

/// Every keyed detector `celda analyze` runs, with default settings.
func allDetectors() -> [any Detector] {
    BurstDetector.lineDetectors(burst: BurstConfig(), sequential: SequentialConfig()) + [
        VictimDetector(), TowerSurgeDetector(), SimChurnDetector(mode: .device), SimChurnDetector(mode: .line),
        WatchlistDetector(),
    ]
}

/// The workload's CSV written to a temporary file once (for the mapped-file reader).
let workloadFile: String = {
    let path = "/tmp/celda-benchmark-\(Workload.rows).csv"
    let out = try! OutputFile(path: path)
    try! out.write(workload.csv)
    try! out.close()
    return path
}()

// MARK: - Configuration

/// What people read in `swift package benchmark`.
private let humanMetrics: [BenchmarkMetric] = [.throughput, .wallClock, .mallocCountTotal, .peakMemoryResident]

/// Tolerance of the `thresholds check` gate, on `mallocCountTotal` only (its p90 is what the
/// static check compares). The counts are exact per sample; the slack absorbs a handful of
/// allocations that the runtime or the harness may make once per sample, while one allocation
/// per row (+100,000) or per calling line (≈ +16,000) still fails the check by far.
private var mallocTolerance: BenchmarkThresholds { BenchmarkThresholds(absolute: [.p90: 1_000]) }

private func configuration(setup: @escaping Benchmark.BenchmarkSetupHook) -> Benchmark.Configuration {
    .init(
        metrics: humanMetrics,
        timeUnits: .milliseconds,
        warmupIterations: 2,
        // One sample = one pass over every row; per-record figures divide by Workload.rows.
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 60,
        thresholds: [.mallocCountTotal: mallocTolerance],
        setup: setup
    )
}

// MARK: - Workload

/// The shared input, built on first use (in the benchmarks' `setup` hook).
let workload = Workload.make(seed: 0xCE1DA)

/// A seeded, deterministic day-and-a-half of Mexican mobile traffic rendered as a CDR dump.
///
/// - 20,000 subscribers whose activity is heavy-tailed (Pareto, α = 1, capped at 200× the
///   quietest), calling mostly their own few contacts (85 %) and sometimes a new number;
///   72 % of their calls are answered, with long-tailed durations, daytime-weighted start times.
/// - 25 extortion lines that place bursts of short, mostly unanswered calls to ever-new numbers
///   every 1–3 minutes for 1–2 hours, three times each: the pattern `burst` flags.
/// - About 10 % of the rows have a quoted field (`"+52 55 1234 5678"`, `"55-3344-5566"`,
///   a quoted cell or call id).
///
/// `make` renders the CSV, then tokenises and decodes it once and checks that every row decodes
/// to the record it was made from, so the decode benchmark never measures a rejection path.
struct Workload: Sendable {
    /// Data rows (the header is not counted).
    static let rows = 100_000
    static let subscribers = 20_000
    static let extortionLines = 25

    /// The whole CSV file, header first.
    let csv: [UInt8]
    /// Offset of the first data row.
    let headerEnd: Int
    /// The header's field names.
    let header: [String]
    /// Fields of each data row, as `CSVScanner` returns them.
    let rowFields: [[FieldSpan]]
    /// Byte offset of each data row.
    let rowOffsets: [Int]
    /// The records the rows encode, in start order, `source` set as the decoder sets it.
    let records: [CallRecord]
    /// The same records shifted by ``span`` (the next 36 hours), for the steady-state benchmarks.
    let nextRecords: [CallRecord]
    /// ``nextRecords`` without the extortion lines' calls (96,487 of the 100,000): the next 36
    /// hours of ordinary traffic, which raises no alert.
    let quietNextRecords: [CallRecord]
    /// No towers, no prisons: every record stays unlocated.
    let sites: SiteTable

    /// The time the workload covers.
    static let span: EventTime = 36 * CivilTime.hour

    static let headerLine = "call_id,start_time,caller,callee,duration_s,cell_id,imei,imsi,answered"

    /// A call before rendering.
    private struct Draft {
        var seq: Int
        var start: EventTime
        var caller: UInt64  // national number
        var callee: UInt64  // national number
        var seconds: Int
        var answered: Bool
        var cell: CellID
        var imei: UInt64
        var imsi: UInt64
    }

    private struct Subscriber {
        var number: UInt64  // national number, 10 digits
        var imei: UInt64
        var imsi: UInt64
        var home: CellID
        var roam: (CellID, CellID)
        var contacts: [UInt64]
    }

    static func make(seed: UInt64) -> Workload {
        var rng = SplitMix64(seed: seed)
        let e164Base: UInt64 = 52 * 10_000_000_000

        // Cells: 2,000 sectors of one operator (MCC 334, MNC 020).
        let cells = (0..<2_000).map { _ in
            CellID(mcc: 334, mnc: 20, lac: UInt32(7_000 + rng.below(120)), ci: UInt64(100_000 + rng.below(268_000_000)))
        }
        func nationalNumber(_ rng: inout SplitMix64) -> UInt64 {
            // Area codes by rough population weight (2- and 3-digit codes, 10 digits in all).
            let areas: [(UInt64, UInt64)] = [
                (55, 100_000_000), (55, 100_000_000), (55, 100_000_000), (33, 100_000_000), (81, 100_000_000),
                (222, 10_000_000), (664, 10_000_000), (998, 10_000_000), (442, 10_000_000), (477, 10_000_000),
            ]
            let (area, scale) = areas[rng.below(areas.count)]
            return area * scale + UInt64(rng.below(Int(scale)))
        }

        // Subscribers and their heavy-tailed activity.
        var subs = [Subscriber]()
        subs.reserveCapacity(subscribers)
        var weights = [Double]()
        weights.reserveCapacity(subscribers)
        for _ in 0..<subscribers {
            let w = min(200, 1 / max(rng.unit(), 1e-9))  // Pareto α = 1, capped
            weights.append(w)
            subs.append(
                Subscriber(
                    number: nationalNumber(&rng), imei: 350_000_000_000_000 + UInt64(rng.below(10_000_000_000_000)),
                    imsi: 334_020_000_000_000 + UInt64(rng.below(1_000_000_000)),
                    home: cells[rng.below(cells.count)],
                    roam: (cells[rng.below(cells.count)], cells[rng.below(cells.count)]), contacts: []))
        }
        for i in subs.indices {
            let n = 3 + rng.below(10) + Int(min(weights[i], 100) / 5)
            subs[i].contacts = (0..<n).map { _ in
                rng.unit() < 0.7 ? subs[rng.below(subscribers)].number : nationalNumber(&rng)
            }
        }
        var cdf = [Double]()
        cdf.reserveCapacity(subscribers)
        var total = 0.0
        for w in weights {
            total += w
            cdf.append(total)
        }
        func pickCaller(_ rng: inout SplitMix64) -> Int {
            let x = rng.unit() * total
            var lo = 0
            var hi = cdf.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cdf[mid] > x { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }

        // Time: 2026-01-19T00:00-06:00 for 36 hours, daytime-weighted.
        let day0 = Int64(CivilTime.daysFromCivil(year: 2026, month: 1, day: 19)) * 86_400 + 6 * 3_600
        let span = Self.span / CivilTime.second
        let hourWeight: [Double] = [
            0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.0, 1.4, 1.6, 1.7, 1.7,
            1.6, 1.6, 1.6, 1.6, 1.7, 1.8, 1.8, 1.6, 1.3, 1.0, 0.7, 0.4,
        ]
        func startTime(_ rng: inout SplitMix64) -> Int64 {
            while true {
                let s = Int64(rng.below(Int(span)))
                if rng.unit() * 1.8 < hourWeight[Int(s / 3_600 % 24)] { return day0 + s }
            }
        }

        var drafts = [Draft]()
        drafts.reserveCapacity(rows)

        // Extortion lines: three sessions each of short calls to new numbers.
        var lines = Set<UInt64>()
        for _ in 0..<extortionLines {
            let line = nationalNumber(&rng)
            lines.insert(line)
            let imei = 350_000_000_000_000 + UInt64(rng.below(10_000_000_000_000))
            let imsi = 334_020_000_000_000 + UInt64(rng.below(1_000_000_000))
            let cell = cells[rng.below(cells.count)]
            for _ in 0..<3 {
                var t = day0 + 8 * 3_600 + Int64(rng.below(Int(span - 12 * 3_600)))
                let end = t + 3_600 + Int64(rng.below(3_600))
                while t < end {
                    let answered = rng.unit() < 0.35
                    drafts.append(
                        Draft(
                            seq: drafts.count, start: t * CivilTime.second, caller: line, callee: nationalNumber(&rng),
                            seconds: answered ? 5 + rng.below(40) : 0, answered: answered, cell: cell, imei: imei,
                            imsi: imsi))
                    t += 60 + Int64(rng.below(120))
                }
            }
        }

        // Ordinary traffic fills the rest.
        while drafts.count < rows {
            let s = subs[pickCaller(&rng)]
            let callee: UInt64
            if rng.unit() < 0.85 {
                let u = rng.unit()
                callee = s.contacts[Int(Double(s.contacts.count) * u * u)]
            } else {
                callee = nationalNumber(&rng)
            }
            let answered = rng.unit() < 0.72
            let u = rng.unit()
            let where_ = rng.unit()
            drafts.append(
                Draft(
                    seq: drafts.count, start: startTime(&rng) * CivilTime.second, caller: s.number, callee: callee,
                    seconds: answered ? 3 + Int(u * u * u * 900) : 0, answered: answered,
                    cell: where_ < 0.7 ? s.home : where_ < 0.85 ? s.roam.0 : s.roam.1, imei: s.imei, imsi: s.imsi))
        }
        drafts.sort { ($0.start, $0.seq) < ($1.start, $1.seq) }

        // Render.
        var csv = [UInt8]()
        csv.reserveCapacity(rows * 140)
        csv.append(contentsOf: headerLine.utf8)
        csv.append(0x0A)
        let headerEnd = csv.count
        var offsets = [Int]()
        offsets.reserveCapacity(rows)
        var records = [CallRecord]()
        records.reserveCapacity(rows)
        for (i, d) in drafts.enumerated() {
            offsets.append(csv.count)
            // call_id
            let quoteID = rng.unit() < 0.01
            if quoteID { csv.append(0x22) }
            csv.append(0x63)  // c
            csv.appendDigits(UInt64(i + 1), width: 8)
            if quoteID { csv.append(0x22) }
            csv.append(0x2C)
            // start_time, local time at -06:00
            csv.appendLocalTime(seconds: d.start / CivilTime.second, offsetHours: -6)
            csv.append(0x2C)
            // caller: +52 and ten digits, sometimes quoted with spaces
            if rng.unit() < 0.04 {
                csv.append(contentsOf: "\"+52 ".utf8)
                csv.appendDigits(d.caller / 100_000_000, width: 2)
                csv.append(0x20)
                csv.appendDigits(d.caller / 10_000 % 10_000, width: 4)
                csv.append(0x20)
                csv.appendDigits(d.caller % 10_000, width: 4)
                csv.append(0x22)
            } else {
                csv.append(contentsOf: "+52".utf8)
                csv.appendDigits(d.caller, width: 10)
            }
            csv.append(0x2C)
            // callee: national number, sometimes quoted with dashes
            if rng.unit() < 0.03 {
                csv.append(0x22)
                csv.appendDigits(d.callee / 100_000_000, width: 2)
                csv.append(0x2D)
                csv.appendDigits(d.callee / 10_000 % 10_000, width: 4)
                csv.append(0x2D)
                csv.appendDigits(d.callee % 10_000, width: 4)
                csv.append(0x22)
            } else {
                csv.appendDigits(d.callee, width: 10)
            }
            csv.append(0x2C)
            csv.appendDigits(UInt64(d.seconds), width: 1)
            csv.append(0x2C)
            // cell_id: MCC-MNC-LAC-CI
            let quoteCell = rng.unit() < 0.02
            if quoteCell { csv.append(0x22) }
            csv.appendDigits(UInt64(d.cell.mcc), width: 3)
            csv.append(0x2D)
            csv.appendDigits(UInt64(d.cell.mnc), width: 3)
            csv.append(0x2D)
            csv.appendDigits(UInt64(d.cell.lac), width: 1)
            csv.append(0x2D)
            csv.appendDigits(d.cell.ci, width: 1)
            if quoteCell { csv.append(0x22) }
            csv.append(0x2C)
            csv.appendDigits(d.imei, width: 15)
            csv.append(0x2C)
            csv.appendDigits(d.imsi, width: 15)
            csv.append(0x2C)
            csv.append(d.answered ? 0x31 : 0x30)
            csv.append(0x0A)
            let flags: CallRecord.Flags = d.answered ? .answered : []
            let source = SourceRef(input: 0, offset: offsets[i], line: i + 2)
            records.append(
                CallRecord(
                    start: d.start, durationMs: UInt32(d.seconds * 1_000), flags: flags,
                    caller: .e164(e164Base + d.caller), callee: .e164(e164Base + d.callee), imei: d.imei, imsi: d.imsi,
                    cell: d.cell, site: CallRecord.unlocated, source: source))
        }

        // Tokenise once and check that every row decodes to its record.
        var header = [String]()
        var rowFields = [[FieldSpan]]()
        rowFields.reserveCapacity(rows)
        csv.withUnsafeBytes { buf in
            let scanner = CSVScanner()
            var fields = [FieldSpan]()
            guard case .row(let first, _) = scanner.scan(buf, from: 0, eof: true, fields: &fields), first == headerEnd
            else { preconditionFailure("header") }
            header = fields.map { CSVScanner.text($0, in: buf) }
            var pos = headerEnd
            while pos < buf.count {
                guard case .row(let next, _) = scanner.scan(buf, from: pos, eof: true, fields: &fields) else {
                    preconditionFailure("row \(rowFields.count) does not scan")
                }
                precondition(offsets[rowFields.count] == pos)
                rowFields.append(fields)
                pos = next
            }
        }
        precondition(rowFields.count == rows)
        let nextRecords = records.map { r in
            var next = r
            next.start += Self.span
            return next
        }
        let workload = Workload(
            csv: csv, headerEnd: headerEnd, header: header, rowFields: rowFields, rowOffsets: offsets,
            records: records, nextRecords: nextRecords,
            quietNextRecords: nextRecords.filter { r in !lines.contains(r.caller.raw - e164Base) },
            sites: SiteTable(towers: [], prisons: []))
        workload.check()
        return workload
    }

    /// The zone of the dump (its timestamps carry their offset, so it is not consulted).
    static let zone = ZoneRules.fixed(seconds: -6 * 3_600, name: "UTC-6")

    /// A ``Row`` to point at the rows of ``csv`` (`Row` has no public initialiser: a cursor makes one).
    static func makeRow() -> Row {
        let cursor = RowCursor(stream: MemorySource(Array(headerLine.utf8)))
        guard (try? cursor.next()) == true else { preconditionFailure("no header row") }
        return cursor.row
    }

    /// Points `row` at data row `i` (its buffer must already be ``csv``).
    @inline(__always)
    func point(_ row: inout Row, at i: Int) {
        let start = rowOffsets[i]
        let next = i + 1 < rowOffsets.count ? rowOffsets[i + 1] : csv.count
        row.fields = rowFields[i]
        row.offset = start
        row.line = i + 2
        row.rawRange = start..<(next - 1)
        row.malformed = false
    }

    /// Decodes every row once and checks it against the record it was made from.
    private func check() {
        var decoder = CDRDecoder(layout: CDRLayout.detect(header: header), plan: .mexico, zone: Self.zone)
        var row = Self.makeRow()
        csv.withUnsafeBytes { buf in
            row.buffer = buf
            for i in 0..<Self.rows {
                point(&row, at: i)
                let outcome = decoder.decode(row, source: SourceRef(input: 0, offset: row.offset, line: row.line))
                guard case .record(let r) = outcome, r == records[i] else {
                    preconditionFailure("row \(i) decodes to \(outcome), not \(records[i])")
                }
            }
        }
    }
}

/// An in-memory stream, as a pipe or a gzip member would deliver it.
struct MemorySource: ByteSource {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        let n = Swift.min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }

    mutating func close() {}
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence on every run.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

extension [UInt8] {
    /// Appends `value` in decimal, zero-padded to at least `width` digits.
    fileprivate mutating func appendDigits(_ value: UInt64, width: Int) {
        var digits = 1
        var p: UInt64 = 1
        while value / p >= 10 {
            p &*= 10
            digits += 1
        }
        for _ in digits..<Swift.max(digits, width) { append(0x30) }
        while p > 0 {
            append(0x30 + UInt8(value / p % 10))
            p /= 10
        }
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS±HH:00` for a UTC time in seconds shown at a whole-hour offset.
    fileprivate mutating func appendLocalTime(seconds utc: Int64, offsetHours: Int) {
        let local = utc + Int64(offsetHours) * 3_600
        let days = Int(local / 86_400)
        let rem = Int(local % 86_400)
        let (y, m, d) = CivilTime.civilFromDays(days)
        appendDigits(UInt64(y), width: 4)
        append(0x2D)
        appendDigits(UInt64(m), width: 2)
        append(0x2D)
        appendDigits(UInt64(d), width: 2)
        append(0x54)
        appendDigits(UInt64(rem / 3_600), width: 2)
        append(0x3A)
        appendDigits(UInt64(rem / 60 % 60), width: 2)
        append(0x3A)
        appendDigits(UInt64(rem % 60), width: 2)
        append(offsetHours < 0 ? 0x2D : 0x2B)
        appendDigits(UInt64(abs(offsetHours)), width: 2)
        append(contentsOf: ":00".utf8)
    }
}
