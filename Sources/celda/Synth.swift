import ArgumentParser
import CeldaCore
import CeldaIngest
import CeldaSynth

/// `celda synth`: writes a synthetic dump, its towers and its truth.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realistic synthetic dump with planted rings and look-alikes.",
        discussion: """
            Writes DIR/cdr.csv.gz (or cdr.csv with --no-gzip), DIR/towers.csv (OpenCellID layout) and \
            DIR/truth.json (the planted ring lines and look-alikes). With --pcap, writes DIR/capture.pcap \
            instead of the dump: the same calls as SIP dialogs (UDP, some TCP) carrying their towers in \
            P-Access-Network-Info. Deterministic per seed.
            """
    )

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Approximate number of rows.")
    var rows: Int = 50_000

    @Flag(help: "Write a SIP packet capture (capture.pcap) instead of a CDR dump.")
    var pcap = false

    @Option(help: "With --pcap: approximate number of calls (same as --rows).")
    var calls: Int?

    @Option(help: "Number of days covered.")
    var days: Int = 1

    @Flag(inversion: .prefixedNo, help: "Gzip the dump.")
    var gzip = true

    @Option(help: "Dump layout: foundation (English header, RFC 3339) or sabana (a Mexican carrier export).")
    var layout: String = "foundation"

    func validate() throws {
        if rows < 1_000 || rows > 1_000_000_000 { throw ValidationError("--rows must be between 1000 and 1000000000") }
        if let c = calls, c < 1_000 || c > 100_000_000 {
            throw ValidationError("--calls must be between 1000 and 100000000")
        }
        if calls != nil && !pcap { throw ValidationError("--calls goes with --pcap (use --rows for a dump)") }
        if days < 1 || days > 366 { throw ValidationError("--days must be between 1 and 366") }
        if SyntheticWorld.Layout(rawValue: layout) == nil {
            throw ValidationError("--layout must be foundation or sabana")
        }
    }

    func run() throws {
        let prisons: [Prison]
        do { prisons = try PrisonFile.parse(text: DefaultPrisons.csv, path: "built-in prison list") } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 64)
        }
        var config = SynthConfig()
        config.seed = seed
        config.rows = calls ?? rows
        config.days = days
        let world = SyntheticWorld(config: config, prisons: prisons)
        do {
            try FileSystemLite.makeDirectory(out)
            var failure: InputError?
            let dump: OutputFile
            if pcap {
                dump = try OutputFile(path: out + "/capture.pcap")
                world.writeCapture { chunk in
                    guard failure == nil else { return }
                    do throws(InputError) { try dump.write(chunk) } catch { failure = error }
                }
            } else {
                dump = try OutputFile(path: out + (gzip ? "/cdr.csv.gz" : "/cdr.csv"), gzip: gzip)
                world.writeDump(layout: SyntheticWorld.Layout(rawValue: layout)!) { chunk in
                    guard failure == nil else { return }
                    do throws(InputError) { try dump.write(chunk) } catch { failure = error }
                }
            }
            if let failure { throw failure }
            try dump.close()
            let towers = try OutputFile(path: out + "/towers.csv")
            try towers.write(world.towersCSV())
            try towers.close()
            let truth = try OutputFile(path: out + "/truth.json")
            try truth.write(world.truth.json(seed: seed, rows: world.callCount))
            try truth.close()
        } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
        ProcessInfoLite.stderr(
            "celda: wrote \(world.callCount) calls, \(world.towers.count) towers, \(world.truth.ringLines.count) ring lines "
                + "and \(world.truth.lookalikes.count) look-alikes to \(out)/")
    }
}
