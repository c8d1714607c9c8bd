import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda spark`: the modes a Spark job (`Samples/spark/celda_spark.py`) pipes partitions
/// through with SQL `TRANSFORM`; together they give the log of one `celda analyze`.
struct Spark: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Celda inside a Spark job (normalise, one keyed pass per detector family, second stages).",
        discussion: """
            Stage 0 `normalize` turns raw rows into normalised records and says under which key group each \
            detector family takes them; stage 1 `family` runs one family over whole key groups sorted by record \
            key and writes its findings; stage 2 `finish` merges every pass's findings, runs the second stages \
            (victim confirmation, alliance, virtual kidnapping) and writes the alert log. Every stage reads \
            standard input and writes standard output as tab-separated lines, and exits non-zero on any error \
            (Spark then fails the job). Pass every stage the same --towers, --prisons, --config, --allowlist, \
            --watchlist and reading options as `celda analyze` would get. Samples/spark/README section \
            "Running on Spark" in the main README gives the job.
            """,
        subcommands: [SparkNormalize.self, SparkFamilyPass.self, SparkFinish.self]
    )
}

/// Reference data and settings shared by the stages.
struct SparkSetup: ParsableArguments {
    @OptionGroup var sources: ReferenceOptions

    @OptionGroup var reading: ReadingOptions

    /// Loads everything; a problem is a configuration error (one line, exit 64).
    func load() throws(CeldaExit) -> ReferenceData {
        do throws(ConfigError) {
            return try sources.load(reading: reading)
        } catch {
            ProcessInfoLite.stderr("celda: \(error.description)")
            throw CeldaExit(code: 64)
        }
    }
}

/// Prints an input error and exits 65 (the job fails, with this line in its error).
func sparkFail(_ error: InputError) -> CeldaExit {
    ProcessInfoLite.stderr("celda spark: \(error)")
    return CeldaExit(code: 65)
}

struct SparkNormalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Stage 0: raw dump rows on standard input to normalised records.",
        discussion: """
            Input: one row a line, INPUT<TAB>POSITION<TAB> then the dump's columns in --columns order, each with \
            backslash, tab, LF and CR escaped as \\\\, \\t, \\n, \\r. INPUT is the file's index in the sorted input \
            list, POSITION Spark's monotonically_increasing_id(). Output: R lines (record key, start in µs, \
            10-minute bucket, row hash, then the key group of each family, primary and secondary: line_p, line_s, \
            victim_p, victim_s, tower_p, device_p, -1 for none; then call id, caller name, callee name, cell \
            name), X lines for rejected rows, and C counter lines.
            """
    )

    @Option(help: "The dump's column names, comma-separated, in the order of the input fields.")
    var columns: String

    @OptionGroup var setup: SparkSetup

    func run() throws {
        let loaded = try setup.load()
        let names = columns.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        do throws(InputError) {
            let normalizer = try SparkNormalizer(
                columns: names, options: loaded.options, detectors: Analyze.detectors(loaded.settings).keyed,
                context: loaded.context)
            try normalizer.run(LineReader(), LineWriter())
        } catch {
            throw sparkFail(error)
        }
    }
}

struct SparkFamilyPass: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "family",
        abstract: "Stage 1: one detector family over sorted records of whole key groups.",
        discussion: """
            Families: line (burst, sequential, sim-churn by line, watchlist), victim, tower (tower-surge), \
            device (sim-churn by handset). Input: ROLE<TAB>KEY<TAB>ROW_HASH<TAB>CALL_ID<TAB>CALLER_NAME<TAB>\
            CALLEE_NAME<TAB>CELL_NAME, sorted by KEY then ROLE (P before S), ROLE P where the record came under \
            the family's primary key group and S under its secondary one. Unsorted input is an error. Output: \
            F lines (TAG, SEQ/TOTAL, base64 findings for `finish`) and C counter lines.
            """
    )

    @Option(help: "The detector family: line, victim, tower or device.")
    var family: String

    @Option(help: "File of the earliest record start (µs) in each 10-minute bucket, one a line (the job writes it).")
    var ticks: String

    @OptionGroup var setup: SparkSetup

    func validate() throws {
        if SparkFamily(rawValue: family) == nil {
            throw ValidationError("--family must be one of line, victim, tower, device")
        }
    }

    func run() throws {
        let loaded = try setup.load()
        var starts: [EventTime] = []
        do {
            let text = String(decoding: try FileSystemLite.read(ticks), as: UTF8.self)
            for (i, line) in text.split(separator: "\n").enumerated() {
                let t = line.trimmingCharacters()
                if t.isEmpty { continue }
                guard let v = EventTime(t) else {
                    ProcessInfoLite.stderr("celda: --ticks \(ticks):\(i + 1): not a number of microseconds: \(t)")
                    throw CeldaExit(code: 64)
                }
                starts.append(v)
            }
        } catch let e as CeldaExit {
            throw e
        } catch {
            ProcessInfoLite.stderr("celda: --ticks \(error)")
            throw CeldaExit(code: 64)
        }
        let f = SparkFamily(rawValue: family)!
        var names = loaded.towerLoad.siteNames
        names.merge(SiteNames())
        let pass = SparkFamilyRun(
            family: f, detectors: Analyze.detectors(loaded.settings).keyed, context: loaded.context,
            bucketStarts: starts, siteNames: names)
        var rng = SystemRandomNumberGenerator()
        let tag = f.rawValue + "-" + StableHash.hex(rng.next())
        do throws(InputError) {
            try pass.run(
                LineReader(), settings: loaded.settings.rendered(), prisons: loaded.prisons, LineWriter(), tag: tag)
        } catch {
            throw sparkFail(error)
        }
    }
}

struct SparkFinish: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finish",
        abstract: "Stage 2: merge every pass's findings, run the second stages, write the alert log.",
        discussion: """
            Input: the F lines of every `family` pass (any order; other lines are ignored). The settings, prison \
            list and allowlist must be those the passes ran with. Output: the alert log, sorted as \
            `celda analyze` sorts it, byte for byte the same as its log of the same rows.
            """
    )

    @Option(help: "The alert log to write (- for standard output).")
    var alerts: String = "-"

    @OptionGroup var setup: SparkSetup

    func run() throws {
        let loaded = try setup.load()
        var set = SparkFindingsSet(
            settings: loaded.settings.rendered(), prisons: loaded.prisons, allowlist: loaded.allow)
        let found: DetectorOutput
        do throws(InputError) {
            let input = LineReader()
            while try input.next({ (line: UnsafeRawBufferPointer) throws(InputError) in
                try set.add(line, number: input.line)
            }) {}
            found = try set.findings()
        } catch {
            throw sparkFail(error)
        }
        let resolver = set.resolver
        let context = DetectorContext(
            sites: SiteTable(towers: [], prisons: loaded.prisons), allowlist: loaded.allow, watchlist: loaded.watch)
        let all = Engine.complete(found, stages: Analyze.detectors(loaded.settings).stages, context: context)
        do {
            let out = try OutputFile(path: alerts)
            _ = try AlertLog.write(all, prisons: loaded.prisons, resolver: resolver, to: out)
            try out.close()
        } catch {
            ProcessInfoLite.stderr("celda spark: \(error)")
            throw CeldaExit(code: 1)
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(
            self.drop(while: { $0 == " " || $0 == "\r" || $0 == "\t" }).reversed().drop(while: {
                $0 == " " || $0 == "\r" || $0 == "\t"
            }).reversed())
    }
}
