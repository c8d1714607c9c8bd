import Foundation
import Testing

/// The `celda spark` stages wired as the Spark job wires them, without Spark: rows split over
/// input partitions, records grouped by key group into N partitions (any grouping that keeps key
/// groups whole, as Spark's Murmur3 does), each sorted by key and role, then `finish`.
@Suite(.serialized) struct SparkModeTests {
    static let world: String = {
        let dir = CLI.tempDir()
        _ = try? CLI.run(["synth", "--out", dir, "--seed", "21", "--rows", "20000", "--days", "3", "--no-gzip"])
        return dir
    }()

    /// Runs celda with standard input and output through files (the stages read and write a lot,
    /// more than a pipe holds).
    static func run(_ args: [String], stdin: String) throws -> CLI.Result {
        let dir = world + "/io-" + UUID().uuidString
        try stdin.write(toFile: dir + ".in", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: dir + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + ".err", contents: nil)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = args
        p.currentDirectoryURL = CLI.root
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir + ".in"))
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + ".err"))
        try p.run()
        p.waitUntilExit()
        defer { for e in [".in", ".out", ".err"] { try? FileManager.default.removeItem(atPath: dir + e) } }
        return CLI.Result(
            status: p.terminationStatus, stdout: try String(contentsOfFile: dir + ".out", encoding: .utf8),
            stderr: try String(contentsOfFile: dir + ".err", encoding: .utf8))
    }

    static let families = ["line": (5, 6), "victim": (7, 8), "tower": (9, 10), "device": (11, 12)]

    static func escape(_ s: Substring) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
    }

    /// Stage 0 over the dump's rows, given as `splits` input partitions (rows in file order).
    static func normalize(splits: Int, extra: [String] = []) throws -> (records: [[Substring]], counters: String) {
        let lines = try CLI.lines(world + "/cdr.csv")
        let header = lines[0]
        let body = Array(lines.dropFirst())
        var stdin = ""
        let per = (body.count + splits - 1) / splits
        for (i, row) in body.enumerated() {
            // monotonically_increasing_id(): the split above bit 33, the row within it below.
            let id = (i / per) << 33 | (i % per)
            stdin +=
                "0\t\(id)\t"
                + row.split(separator: ",", omittingEmptySubsequences: false).map(escape).joined(
                    separator: "\t") + "\n"
        }
        let r = try Self.run(
            ["spark", "normalize", "--columns", header, "--towers", world + "/towers.csv"] + extra,
            stdin: stdin)
        #expect(r.status == 0, "\(r.stderr)")
        let out = r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        return (
            out.filter { $0[0] == "R" },
            out.filter { $0[0] == "C" }.map { $0.joined(separator: " ") }.joined(separator: ", ")
        )
    }

    static func ticks(_ records: [[Substring]]) throws -> String {
        var first: [Int: Int] = [:]
        for r in records {
            let b = Int(r[3])!
            let t = Int(r[2])!
            first[b] = min(first[b] ?? t, t)
        }
        let path = world + "/ticks-\(UUID().uuidString).txt"
        try first.values.sorted().map(String.init).joined(separator: "\n").appending("\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Stages 1 and 2; `keys` says which normalised columns each family is distributed by.
    static func cluster(
        _ records: [[Substring]], partitions n: Int, keys: [String: (Int, Int)] = families, extra: [String] = []
    ) throws -> String {
        let tickFile = try ticks(records)
        var findings = ""
        for family in ["line", "victim", "tower", "device"] {
            let (p, s) = keys[family]!
            var parts = Array(repeating: [(key: Substring, role: String, line: String)](), count: n)
            for r in records {
                for (role, column) in [("P", p), ("S", s)] {
                    guard let g = Int(r[column]), g >= 0 else { continue }
                    let line = ([Substring(role), r[1], r[4]] + r[13...]).joined(separator: "\t")
                    parts[(g * 7919) % n].append((r[1], role, line))
                }
            }
            for part in parts where !part.isEmpty {
                let sorted = part.sorted { ($0.key, $0.role) < ($1.key, $1.role) }
                let stdin = sorted.map(\.line).joined(separator: "\n") + "\n"
                let r = try Self.run(
                    ["spark", "family", "--family", family, "--ticks", tickFile, "--towers", world + "/towers.csv"]
                        + extra,
                    stdin: stdin)
                #expect(r.status == 0, "\(r.stderr)")
                findings += r.stdout
            }
        }
        lastFindings = findings
        let f = try Self.run(
            ["spark", "finish", "--towers", world + "/towers.csv"] + extra, stdin: findings)
        #expect(f.status == 0, "\(f.stderr)")
        return f.stdout
    }

    nonisolated(unsafe) static var lastFindings = ""

    static let single: String = {
        let log = world + "/single.jsonl"
        _ = try? CLI.run([
            "analyze", world + "/cdr.csv", "--towers", world + "/towers.csv", "--alerts", log, "--quiet",
        ])
        return (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }()

    @Test(arguments: [(1, 1), (2, 3), (3, 7)])
    func stagesGiveTheSingleProcessLog(splits: Int, partitions: Int) throws {
        let (records, counters) = try Self.normalize(splits: splits)
        #expect(records.count == (try CLI.lines(Self.world + "/cdr.csv")).count - 1, "\(counters)")
        let log = try Self.cluster(records, partitions: partitions)
        #expect(Self.single.split(separator: "\n").count > 20)
        for detector in ["burst", "sequential", "victim", "sim-churn", "tower-surge", "alliance"] {
            #expect(Self.single.contains("\"detector\":\"\(detector)\""), "no \(detector) alert to compare")
        }
        #expect(log == Self.single)
    }

    /// Lists: allowlisted lines are dropped before the passes, watched numbers are keyed twice.
    @Test func allowlistAndWatchlistGiveTheSingleProcessLog() throws {
        let rows = try CLI.lines(Self.world + "/cdr.csv").dropFirst().map { $0.split(separator: ",") }
        var count: [Substring: Int] = [:]
        for r in rows { count[r[2], default: 0] += 1 }
        let busy = count.sorted { ($0.value, $0.key) > ($1.value, $1.key) }.map(\.key)
        let allow = Self.world + "/allow.txt"
        let watch = Self.world + "/watch.txt"
        try "\(busy[3])\n".write(toFile: allow, atomically: true, encoding: .utf8)
        try "\(busy[40])\n\(rows[7][3])\n".write(toFile: watch, atomically: true, encoding: .utf8)
        let lists = ["--allowlist", allow, "--watchlist", watch]
        let log = Self.world + "/lists.jsonl"
        let single = try CLI.run(
            ["analyze", Self.world + "/cdr.csv", "--towers", Self.world + "/towers.csv", "--alerts", log, "--quiet"]
                + lists)
        #expect(single.status == 0, "\(single.stderr)")
        let expected = try String(contentsOfFile: log, encoding: .utf8)
        #expect(expected.contains("\"detector\":\"watchlist\""))
        #expect(expected != Self.single)
        let (records, counters) = try Self.normalize(splits: 2, extra: lists)
        #expect(counters.contains("records_allowlisted"), "\(counters)")
        #expect(try Self.cluster(records, partitions: 5, extra: lists) == expected)
    }

    /// Findings chunks in any order give the same log; a missing chunk, or other settings, fail.
    @Test func findingsInAnyOrderAndAMissingChunk() throws {
        let (records, _) = try Self.normalize(splits: 1)
        #expect(try Self.cluster(records, partitions: 3) == Self.single)
        let lines = Self.lastFindings.split(separator: "\n").filter { $0.hasPrefix("F") }
        #expect(lines.contains { !$0.split(separator: "\t")[2].hasSuffix("/1") }, "no pass with several chunks")
        let setup = ["--towers", Self.world + "/towers.csv"]
        let shuffled = try Self.run(["spark", "finish"] + setup, stdin: lines.reversed().joined(separator: "\n"))
        #expect(shuffled.status == 0, "\(shuffled.stderr)")
        #expect(shuffled.stdout == Self.single)
        let cut = lines.filter { !$0.split(separator: "\t")[2].hasPrefix("1/") }.joined(separator: "\n")
        let missing = try Self.run(["spark", "finish"] + setup, stdin: cut)
        #expect(missing.status == 65)
        #expect(missing.stderr.contains("missing"), "\(missing.stderr)")
        let config = Self.world + "/other.toml"
        try "[burst]\nmin_calls = 25\n".write(toFile: config, atomically: true, encoding: .utf8)
        let other = try Self.run(["spark", "finish", "--config", config] + setup, stdin: lines.joined(separator: "\n"))
        #expect(other.status == 65)
        #expect(other.stderr.contains("other settings"), "\(other.stderr)")
    }

    /// The test has teeth: the victim family distributed by the calling line gives another log.
    @Test func aWrongPartitioningKeyChangesTheLog() throws {
        let (records, _) = try Self.normalize(splits: 1)
        var keys = Self.families
        keys["victim"] = keys["line"]
        #expect(try Self.cluster(records, partitions: 7, keys: keys) != Self.single)
    }

    @Test func unsortedInputAndBadSettingsFailTheStage() throws {
        let (records, _) = try Self.normalize(splits: 1)
        let tickFile = try Self.ticks(records)
        let lines = records.prefix(50).map { (["P", $0[1], $0[4]] + $0[13...]).joined(separator: "\t") }
        let r = try Self.run(
            ["spark", "family", "--family", "line", "--ticks", tickFile],
            stdin: lines.sorted().reversed().joined(separator: "\n") + "\n")
        #expect(r.status == 65)
        #expect(r.stderr.contains("not sorted by key"), "\(r.stderr)")
        let bad = try Self.run(
            ["spark", "family", "--family", "cell", "--ticks", tickFile], stdin: "")
        #expect(bad.status == 64)
        let missing = try Self.run(
            ["spark", "normalize", "--columns", "a,b", "--config", "/nonexistent.toml"], stdin: "")
        #expect(missing.status == 64)
        #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        // A layout without a call-id column cannot cite evidence.
        let noCallID = try Self.run(
            ["spark", "normalize", "--columns", "start_time,caller,callee"], stdin: "")
        #expect(noCallID.status == 65)
        #expect(noCallID.stderr.contains("call-id"), "\(noCallID.stderr)")
    }

    @Test func escapedFieldsAndRejectsAreHandled() throws {
        let header = "call_id,start_time,caller,callee,duration_s,cell_id"
        let stdin =
            "0\t0\tc\\t1\t2026-01-19T00:00:25-06:00\t+528110059667\t+525504780100\t37\t334-020-1-2\n"
            + "0\t1\tc2\tnot a time\t+528110059667\t+525504780100\t37\t334-020-1-2\n"
        let r = try Self.run(
            ["spark", "normalize", "--columns", header], stdin: stdin)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        let record = try #require(lines.first { $0[0] == "R" })
        #expect(record[13] == "c\\t1")
        #expect(lines.contains { $0[0] == "X" })
        #expect(lines.contains { $0 == ["C", "rows_rejected", "1"] })
    }
}
