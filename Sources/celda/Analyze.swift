import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda analyze`: the main job.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse CDR dumps and write the alert log.",
        discussion: """
            INPUT is a CSV dump (or .gz, or - for standard input) with a header row: call_id, start_time \
            (RFC 3339 with offset), caller, callee, duration_s, cell_id (MCC-MNC-LAC-CI), and optionally imei, \
            imsi, answered; or a pcap/pcapng capture of SIP signalling, whose calls are assembled per dialog \
            with the cell from P-Access-Network-Info. Captures and dumps mix freely.
            """
    )

    @Argument(help: "CDR dumps (CSV, gzip, or - for standard input) and packet captures (pcap, pcapng).")
    var inputs: [String]

    @OptionGroup var sources: ReferenceOptions

    @Option(help: "Alert log to write (JSON Lines; - for standard output).")
    var alerts: String = "alerts.jsonl"

    @Option(name: .customLong("summary-json"), help: "Also write the run summary as JSON here.")
    var summaryJSON: String?

    @Option(help: "Write every rejected row here (CSV: file,line,reason,message,raw).")
    var rejects: String?

    @Option(name: .customLong("max-disorder"), help: "How far out of start-time order rows may arrive (default 2h).")
    var maxDisorder: Duration?

    @Option(name: .customLong("burst-window"), help: "burst: sliding window length (default 60m).")
    var burstWindow: Duration?

    @Option(
        name: .customLong("burst-min-calls"),
        help: "burst: calls within the window before the rule can hold (default 20).")
    var burstMinCalls: Int?

    @Option(name: .customLong("burst-min-distinct"), help: "burst: distinct callees within the window (default 15).")
    var burstMinDistinct: Int?

    @Option(name: .customLong("short-call"), help: "Calls shorter than this many seconds are short (default 60).")
    var shortCall: Int?

    @Option(help: "No repeat alert for the same entity within this time unless it escalates (default 6h).")
    var cooldown: Duration?

    @OptionGroup var reading: ReadingOptions

    @Flag(name: .customLong("hash-inputs"), help: "Record each input's SHA-256 in the summary.")
    var hashInputs = false

    @Option(help: "Worker threads for the detectors (default: every core). The log is the same for any count.")
    var threads: Int?

    @Option(
        help: ArgumentHelp(
            "Only the keys of shard K of N (K from 0): N runs merged with `celda merge` give the one-run log.",
            valueName: "K/N"))
    var shard: ShardSpec?

    @Flag(help: "No summary or progress on standard error.")
    var quiet = false

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("no input given (a CDR dump path, or - for standard input)") }
        if let v = burstMinCalls, v < 2 { throw ValidationError("--burst-min-calls must be at least 2") }
        if let v = burstMinDistinct, v < 1 { throw ValidationError("--burst-min-distinct must be at least 1") }
        if let v = burstWindow, v.micros < CivilTime.minute {
            throw ValidationError("--burst-window must be at least 1m")
        }
        if let v = shortCall, v < 1 { throw ValidationError("--short-call must be at least 1 second") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input (-) can be read only once") }
        if let t = threads, t < 1 || t > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    /// The settings from `--config` (or the defaults), then the flags.
    func settings(_ base: DetectorSettings) -> DetectorSettings {
        var st = base
        if let v = maxDisorder { st.maxDisorder = v.micros }
        if let v = burstWindow { st.burst.window = v.micros }
        if let v = burstMinCalls { st.burst.minCalls = v }
        if let v = burstMinDistinct { st.burst.minDistinctCallees = v }
        if let v = shortCall {
            st.burst.shortCallSeconds = v
            st.victim.shortCallSeconds = v
        }
        if let v = cooldown {
            st.burst.cooldown = v.micros
            st.sequential.cooldown = v.micros
            st.victim.cooldown = v.micros
            st.simChurn.cooldown = v.micros
            st.watchlist.cooldown = v.micros
        }
        return st
    }

    /// Every detector, and the second stages. `burst` runs the `sequential` rule too when their
    /// windows are equal, unless `separate` (the alerts are the same).
    static func detectors(
        _ st: DetectorSettings, separate: Bool = false
    ) -> (keyed: [any Detector], stages: [any SecondStage]) {
        (
            BurstDetector.lineDetectors(burst: st.burst, sequential: st.sequential, together: !separate)
                + [
                    VictimDetector(config: st.victim), TowerSurgeDetector(config: st.towerSurge),
                    SimChurnDetector(mode: .device, config: st.simChurn),
                    SimChurnDetector(mode: .line, config: st.simChurn),
                    WatchlistDetector(config: st.watchlist),
                ],
            [VictimStage(), AllianceStage(config: st.alliance), KidnapStage(config: st.victim)]
        )
    }

    func run() throws {
        let started = ProcessInfoLite.now()
        // Reference data: a problem here is a configuration error (exit 64).
        let reference: ReferenceData
        do {
            reference = try sources.load(reading: reading)
        } catch { return fail(configuration: error.description) }
        let prisonList = reference.prisons
        let prisonText = reference.prisonSource
        let towerLoad = reference.towerLoad
        let sites = reference.sites
        let options = reference.options
        let allow = reference.allow
        let watch = reference.watch
        let st = settings(reference.settings)
        let output: OutputFile
        do { output = try OutputFile(path: alerts) } catch { return fail(configuration: "--alerts \(error)") }
        let rejectWriter: RejectWriter
        do { rejectWriter = try RejectWriter(path: rejects) } catch { return fail(configuration: "--rejects \(error)") }

        var engineConfig = EngineConfig()
        engineConfig.maxDisorder = st.maxDisorder
        if let shard { engineConfig.partition = KeyPartition(part: shard.part, parts: shard.parts) }
        // A profiling aid (Benchmarks/README.md): `decode` reads the dump only, `front` orders it
        // with no detector, `only:NAME` runs one detector family (`burst` without `sequential`).
        let phase = ProcessInfoLite.environment("CELDA_PROFILE_PHASE") ?? ""
        var (detectors, stages) = Self.detectors(st, separate: phase.hasPrefix("only:"))
        if phase == "front" { detectors = []; stages = [] }
        if phase.hasPrefix("only:") { detectors = detectors.filter { "only:" + $0.name == phase }; stages = [] }
        let threadCount = threads ?? ProcessInfoLite.cores
        let engine = ParallelEngine(
            detectors: detectors, sites: sites, config: engineConfig, stages: stages, allowlist: allow,
            watchlist: watch, threads: threadCount)

        let paths = FileSystemLite.expand(inputs)
        let readers = paths.enumerated().map { i, path in
            let r = DumpReader(path: path, inputIndex: i, options: options)
            r.hashing = hashInputs
            r.rejects = rejectWriter
            r.decodeThreads = threadCount > 1 ? threadCount : 0
            return r
        }
        let dump = DumpSet(readers: readers, maxDisorder: st.maxDisorder)
        let progress = Progress(quiet: quiet)
        let decodeOnly = phase == "decode"
        dump.run(sites: sites) {
            if !decodeOnly { engine.ingest($0) }
            progress.tick(dump)
        }
        progress.end()
        let inputErrors = dump.errors
        for e in inputErrors { ProcessInfoLite.stderr("celda: \(e)") }
        let found = engine.finishFindings()
        for (input, n) in engine.stats.duplicatesByInput where input < readers.count {
            for _ in 0..<n { readers[input].countDuplicate() }
        }
        let rows = dump.stats
        var identities = IdentityTable()
        var siteNames = towerLoad.siteNames
        for r in readers {
            identities.merge(r.identities)
            siteNames.merge(r.siteNames)
        }
        let resolver = Resolver(readers: readers, identities: identities, sites: siteNames)
        var counts = AlertLog.Counts()
        do {
            if let shard {
                // A part of the key space: the findings go out for `celda merge` to finish.
                let f = ShardFindings(
                    part: shard.part, parts: shard.parts, settings: st.rendered(), prisons: prisonList,
                    allowlist: allow, output: found, records: engine.stats.records, resolver: resolver)
                try output.write(f.encoded())
                counts.alerts = found.alerts.count
            } else {
                let context = DetectorContext(sites: sites, allowlist: allow, watchlist: watch)
                let all = Engine.complete(found, stages: stages, context: context)
                counts = try AlertLog.write(all, prisons: prisonList, resolver: resolver, to: output)
            }
            try output.close()
            try rejectWriter.close()
        } catch {
            return fail(configuration: "\(error)")
        }
        let (byDetector, bySeverity, byPrison) = (counts.byDetector, counts.bySeverity, counts.byPrison)

        let seconds = ProcessInfoLite.now() - started
        var summary = Summary()
        summary.rows = rows
        summary.stats = engine.stats
        summary.alerts = counts.alerts
        summary.byDetector = byDetector
        summary.byPrison = byPrison
        summary.bySeverity = bySeverity
        summary.seconds = seconds
        summary.peakRSS = ProcessInfoLite.peakRSS()
        summary.inputs = readers.map { r in
            Summary.Input(
                path: r.path, bytes: r.bytes, sha256: r.sha256,
                error: inputErrors.first(where: { $0.path == r.path })?.message)
        }
        summary.configSHA256 = SHA256.hash(configText(prisons: prisonText, towers: sources.towers, settings: st))
        summary.towers = sites.towers.count
        summary.towersRejected = towerLoad.rejected
        summary.prisonTowers = sites.prisonSiteCount
        summary.prisons = prisonList.count
        summary.alertsPath = alerts
        summary.rejectsShown = rejectWriter.shown
        summary.towerProblems = towerLoad.problems
        summary.hasTowerFile = sources.towers != nil
        summary.timezone = options.zone.name
        summary.inlineTowers = dump.inlineTowers
        summary.towerDisagreements = dump.towerDisagreements
        summary.capture = dump.captureStats
        summary.layouts = readers.compactMap { r in r.detection.map { "\(r.path): \($0.notes.joined(separator: "; "))" }
        }
        if !quiet { ProcessInfoLite.stderr(summary.human()) }
        if let path = summaryJSON {
            do {
                let f = try OutputFile(path: path)
                try f.write(summary.json())
                try f.close()
            } catch {
                return fail(configuration: "--summary-json \(error)")
            }
        }
        if !inputErrors.isEmpty { throw CeldaExit(code: 1) }
    }

    /// The effective configuration as canonical text (its SHA-256 goes in the summary).
    func configText(prisons: String, towers: String?, settings st: DetectorSettings) -> String {
        """
        celda=\(Celda.version)
        country_code=\(reading.countryCode)
        timezone=\(reading.timezone)
        layout=\(reading.layout ?? "auto")
        mapping=\(reading.mapping ?? "")
        date_order=\(reading.dateOrder.rawValue)
        prisons=\(prisons)
        towers=\(towers ?? "")
        allowlist=\(sources.allowlist ?? "")
        watchlist=\(sources.watchlist ?? "")
        \(st.canonical)

        """
    }

    func fail(configuration message: String) {
        ProcessInfoLite.stderr("celda: \(message)")
        Celda.exit(withCode: 64)
    }
}

/// Resolves party names and evidence ids for the alert encoder.
struct Resolver: AlertResolver {
    let readers: [DumpReader]
    let identities: IdentityTable
    let sites: SiteNames

    func name(of party: Party) -> String { identities.name(of: party) }

    func towerName(_ cell: CellID) -> String { sites.name(of: cell) }

    func callID(of ref: SourceRef) -> String {
        guard ref.input < readers.count else { return "?:\(ref.line)" }
        return readers[ref.input].callID(of: ref)
    }
}

/// Writes `--rejects` and keeps the first few messages for the summary.
final class RejectWriter: RejectSink {
    let file: OutputFile?
    var shown: [String] = []

    init(path: String?) throws(InputError) {
        if let path {
            file = try OutputFile(path: path)
            try file!.write("file,line,reason,message,raw\n")
        } else {
            file = nil
        }
    }

    func rejectPacket(path: String, packet: Int, code: String, message: String) {
        if shown.count < 5 { shown.append("\(path)#\(packet): \(message)") }
        guard let file else { return }
        let row = [path, "#" + String(packet), code, message, ""].map(Self.quote).joined(separator: ",") + "\n"
        try? file.write(row)
    }

    func reject(path: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer) {
        if shown.count < 5 { shown.append("\(path):\(line): \(reason.message)") }
        guard let file else { return }
        let text = String(decoding: raw, as: UTF8.self)
        let row = [path, String(line), reason.code, reason.message, text].map(Self.quote).joined(separator: ",") + "\n"
        try? file.write(row)
    }

    static func quote(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    func close() throws(InputError) { try file?.close() }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// The alert log: sorted in the order the spec fixes and written one line at a time.
enum AlertLog {
    struct Counts {
        var alerts = 0
        var byDetector: [String: Int] = [:]
        var bySeverity: [String: Int] = [:]
        var byPrison: [String: Int] = [:]
    }

    /// Writes `alerts` sorted by detected_at, detector, entity kind, entity id and id.
    static func write(
        _ alerts: [Alert], prisons: [Prison], resolver: some AlertResolver, to output: OutputFile
    )
        throws(InputError) -> Counts
    {
        let encoder = AlertEncoder(prisons: prisons)
        let keyed = alerts.map { a in (a: a, entity: AlertEncoder.entityID(a.entity, resolver: resolver), id: a.id) }
        let sorted = keyed.sorted {
            ($0.a.detectedAt, $0.a.detector, $0.a.entity.kind, $0.entity, $0.id)
                < ($1.a.detectedAt, $1.a.detector, $1.a.entity.kind, $1.entity, $1.id)
        }
        var c = Counts()
        for item in sorted {
            try output.writeLine(encoder.encode(item.a, resolver: resolver))
            c.alerts += 1
            c.byDetector[item.a.detector, default: 0] += 1
            c.bySeverity[item.a.severity.name, default: 0] += 1
            if let p = item.a.prison { c.byPrison[prisons[p.index].name, default: 0] += 1 }
        }
        return c
    }
}
