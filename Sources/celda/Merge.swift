import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda merge`: finishes the log of N `--shard K/N` runs.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge the findings of `celda analyze --shard K/N` runs into one alert log.",
        discussion: """
            Each shard run writes the findings of its part of the key space (keyed detectors, and what the \
            second stages need) to its --alerts file. Given all N of them, merge runs the second stages over the \
            union and writes the alert log a single `celda analyze` of the same input would have written, byte for \
            byte. Every part 0..N-1 must be present once, with the same settings and prison list.
            """
    )

    @Argument(help: "Shard findings files (any order).")
    var shards: [String]

    @Option(name: .shortAndLong, help: "The alert log to write (- for standard output).")
    var output: String = "alerts.jsonl"

    @Flag(help: "No summary on standard error.")
    var quiet = false

    func validate() throws {
        if shards.isEmpty { throw ValidationError("no shard findings given") }
    }

    func run() throws {
        var parts: [ShardFindings] = []
        // Each shard's pair sketch (128 MiB by default) is added into the first one as it is
        // read, so a merge of N shards holds one sketch, not N. Sketches of another size belong
        // to other settings, which the check below refuses; they are left with their part.
        var sketch: PairSketch?
        for path in shards {
            do {
                let bytes = try FileSystemLite.read(path)
                var f = try ShardFindings.decode(bytes, path: path)
                f.output.pairSketches.removeAll { PairSketch.accumulate($0, into: &sketch) }
                parts.append(f)
            } catch {
                ProcessInfoLite.stderr("celda: \(error)")
                throw CeldaExit(code: 1)
            }
        }
        if let sketch { parts[0].output.pairSketches.append(sketch) }
        let n = parts[0].parts
        let seen = parts.map(\.part).sorted()
        guard parts.allSatisfy({ $0.parts == n }), seen == Array(0..<n) else {
            ProcessInfoLite.stderr(
                "celda: merge needs each of the parts 0..\(n - 1) once; got \(parts.map { "\($0.part)/\($0.parts)" }.joined(separator: ", "))"
            )
            throw CeldaExit(code: 64)
        }
        let first = parts[0]
        guard
            parts.allSatisfy({
                $0.settings == first.settings && $0.prisons == first.prisons && $0.records == first.records
                    && $0.allowExact == first.allowExact
            })
        else {
            ProcessInfoLite.stderr(
                "celda: the shards did not run with the same input, settings, prisons and allowlist; refusing to merge")
            throw CeldaExit(code: 64)
        }
        let settings: DetectorSettings
        do { settings = try SettingsFile.parse(first.settings, path: "shard settings") } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
        var resolver = FindingsResolver()
        for p in parts { resolver.add(p) }
        let found = DetectorOutput.merged(parts.map(\.output))
        let sites = SiteTable(towers: [], prisons: first.prisons)
        let context = DetectorContext(sites: sites, allowlist: first.allowlist)
        let alerts = Engine.complete(found, stages: Analyze.detectors(settings).stages, context: context)
        do {
            let out = try OutputFile(path: output)
            let counts = try AlertLog.write(alerts, prisons: first.prisons, resolver: resolver, to: out)
            try out.close()
            if !quiet {
                ProcessInfoLite.stderr(
                    "celda: merged \(n) shard\(n == 1 ? "" : "s") of \(first.records) records: \(counts.alerts) alerts written to \(output)"
                )
            }
        } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
    }
}
