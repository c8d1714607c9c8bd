import Foundation
import Testing

/// Runs the built `celda` binary.
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "celda")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/celda")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ args: [String], stdin: Data? = nil) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = root
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        // Input is written on a thread of its own: a command whose output fills its pipe before
        // it has read all its input would otherwise wait forever.
        let writing = DispatchGroup()
        DispatchQueue.global().async(group: writing) {
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        writing.wait()
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    static func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "celda-e2e-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func json(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

@Suite(.serialized) struct EndToEndTests {
    static let sample = "Samples/cdr/sample.csv.gz"
    static let towers = "Samples/towers/sample-towers.csv"

    @Test func sampleRunFlagsThePlantedRingsAndNoLookalike() throws {
        let dir = CLI.tempDir()
        let r = try CLI.run([
            "analyze", Self.sample, "--towers", Self.towers, "--alerts", dir + "/alerts.jsonl", "--summary-json",
            dir + "/summary.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("written to \(dir)/alerts.jsonl"))
        let alerts = try CLI.lines(dir + "/alerts.jsonl").map(CLI.json)
        let e = try CLI.run([
            "eval", "--truth", "Samples/cdr/sample-truth.json", dir + "/alerts.jsonl", "--json", dir + "/eval.json",
        ])
        #expect(e.status == 0)
        let q = try CLI.json(try String(contentsOfFile: dir + "/eval.json", encoding: .utf8))
        let line = try #require(q["line"] as? [String: Any])
        #expect((line["truth"] as? Int ?? 0) >= 8)
        #expect(line["precision"] as? Double == 1)
        #expect(line["recall"] as? Double == 1)
        #expect(q["lookalikes_flagged"] as? Int == 0)
        #expect((q["lookalikes"] as? Int ?? 0) >= 8)
        #expect(q["line_alerts_with_prison"] as? Int == q["line_alerts"] as? Int)
        // A high alert names its prison, whatever its kind.
        for a in alerts where ["high", "critical"].contains(a["severity"] as? String) {
            #expect(a["prison"] is [String: Any])
        }

        let summary = try CLI.json(try String(contentsOfFile: dir + "/summary.json", encoding: .utf8))
        for key in [
            "rows_read", "rows_accepted", "rows_rejected", "rows_skipped", "rows_duplicate", "records_late",
            "records_unlocated", "alerts", "alerts_by_detector", "alerts_by_prison", "seconds", "rows_per_second",
            "peak_rss_bytes", "timezone", "version", "config_sha256", "inputs",
        ] {
            #expect(summary[key] != nil, "summary lacks \(key)")
        }
        #expect(summary["rows_read"] as? Int == 50_000)
        #expect(summary["alerts"] as? Int == alerts.count)
        #expect((summary["config_sha256"] as? String)?.count == 64)
    }

    @Test func realRunValidatesAgainstTheSchema() throws {
        let schemaURL = CLI.root.deletingLastPathComponent().appendingPathComponent("shared/spec/alert.v1.schema.json")
        let validator = try JSONSchemaValidator(schemaData: try Data(contentsOf: schemaURL))
        let dir = CLI.tempDir()
        // Include unlinked bursts (no tower file) so medium/low alerts are validated as well.
        for towers in [[] as [String], ["--towers", Self.towers]] {
            let r = try CLI.run(["analyze", Self.sample, "--alerts", dir + "/a.jsonl", "--quiet"] + towers)
            #expect(r.status == 0)
            let lines = try CLI.lines(dir + "/a.jsonl")
            #expect(!lines.isEmpty)
            for line in lines { #expect(validator.validate(jsonLine: line) == [], "\(line)") }
            // Sorted by detected_at, then detector, entity kind, entity id, id.
            let keys = try lines.map(CLI.json).map { a -> String in
                let e = a["entity"] as! [String: Any]
                return "\(a["detected_at"]!)|\(a["detector"]!)|\(e["kind"]!)|\(e["id"]!)|\(a["id"]!)"
            }
            #expect(keys == keys.sorted())
        }
    }

    @Test func callEndOrderSortedOrderAndStdinGiveTheSameLog() throws {
        let dir = CLI.tempDir()
        let synth = try CLI.run(["synth", "--out", dir, "--seed", "11", "--rows", "20000", "--no-gzip"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let rows = try CLI.lines(dir + "/cdr.csv")
        let header = rows[0]
        // Rows sorted by start time (column 2) instead of call end.
        let sorted = rows.dropFirst().sorted { $0.split(separator: ",")[1] < $1.split(separator: ",")[1] }
        try ([header] + sorted).joined(separator: "\n").appending("\n").write(
            toFile: dir + "/sorted.csv", atomically: true, encoding: .utf8)
        let a = try CLI.run([
            "analyze", dir + "/cdr.csv", "--towers", dir + "/towers.csv", "--alerts", dir + "/a.jsonl",
        ])
        let b = try CLI.run([
            "analyze", dir + "/sorted.csv", "--towers", dir + "/towers.csv", "--alerts", dir + "/b.jsonl",
        ])
        let c = try CLI.run(
            ["analyze", "-", "--towers", dir + "/towers.csv", "--alerts", dir + "/c.jsonl"],
            stdin: try Data(contentsOf: URL(fileURLWithPath: dir + "/cdr.csv")))
        #expect([a.status, b.status, c.status] == [0, 0, 0])
        let la = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.jsonl"))
        #expect(!la.isEmpty)
        #expect(la == (try Data(contentsOf: URL(fileURLWithPath: dir + "/b.jsonl"))))
        #expect(la == (try Data(contentsOf: URL(fileURLWithPath: dir + "/c.jsonl"))))
        #expect(a.stderr.contains(" 0 late"))
    }

    @Test func missingInputExitsOneAndStillWritesTheAlertsOfTheOthers() throws {
        let dir = CLI.tempDir()
        let r = try CLI.run([
            "analyze", Self.sample, dir + "/nope.csv", "--towers", Self.towers, "--alerts", dir + "/a.jsonl",
            "--summary-json", dir + "/s.json",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(dir)/nope.csv: no such file"))
        #expect(try CLI.lines(dir + "/a.jsonl").count > 5)
        let s = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        let inputs = try #require(s["inputs"] as? [[String: Any]])
        #expect(inputs.count == 2)
        #expect(inputs[1]["error"] as? String == "no such file")
    }

    @Test func truncatedGzipExitsOneNamingTheFileAndKeepsWhatWasRead() throws {
        let dir = CLI.tempDir()
        let data = try Data(contentsOf: CLI.root.appendingPathComponent(Self.sample))
        try data.prefix(data.count * 3 / 4).write(to: URL(fileURLWithPath: dir + "/cut.csv.gz"))
        let r = try CLI.run([
            "analyze", dir + "/cut.csv.gz", "--towers", Self.towers, "--alerts", dir + "/a.jsonl", "--summary-json",
            dir + "/s.json",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cut.csv.gz: gzip stream cut short"))
        let s = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        let read = try #require(s["rows_read"] as? Int)
        #expect(read > 10_000 && read < 50_000)
        #expect(try CLI.lines(dir + "/a.jsonl").count > 0)
    }

    @Test func rejectedRowsAreCountedListedAndNotFatal() throws {
        let dir = CLI.tempDir()
        let text = """
            call_id,start_time,caller,callee,duration_s,cell_id,imei,imsi,answered
            a1,2026-01-20T09:00:00-06:00,5512345678,5533445566,30,334-020-1-2,,,1
            a2,yesterday,5512345678,5533445566,30,334-020-1-2,,,1
            a3,2026-01-20T09:00:00-06:00,55ABC45678,5533445566,30,334-020-1-2,,,1

            """
        try text.write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
        let r = try CLI.run([
            "analyze", dir + "/d.csv", "--alerts", dir + "/a.jsonl", "--rejects", dir + "/rej.csv", "--summary-json",
            dir + "/s.json",
        ])
        #expect(r.status == 0)
        #expect(r.stderr.contains("d.csv:3: start time is not a recognised timestamp"))
        #expect(r.stderr.contains("--towers"))
        let rejects = try CLI.lines(dir + "/rej.csv")
        #expect(rejects.count == 3)
        #expect(rejects[1].hasPrefix(dir + "/d.csv,3,start-time,"))
        #expect(rejects[1].hasSuffix("a2,yesterday,5512345678,5533445566,30,334-020-1-2,,,1\""))
        #expect(rejects[2].contains(",4,caller,"))
        let s = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        #expect(s["rows_read"] as? Int == 3)
        #expect(s["rows_accepted"] as? Int == 1)
        #expect(s["rows_rejected"] as? Int == 2)
        #expect(s["records_unlocated"] as? Int == 1)
    }

    @Test(arguments: [
        (["analyze", "x.csv", "--bogus"], "bogus"),
        (["analyze"], "input"),
        (["analyze", "x.csv", "--max-disorder", "soon"], "max-disorder"),
        (["analyze", "x.csv", "--burst-min-calls", "1"], "burst-min-calls"),
        (["analyze", "Samples/cdr/sample.csv.gz", "--towers", "/nonexistent/towers.csv"], "/nonexistent/towers.csv"),
        (
            ["analyze", "Samples/cdr/sample.csv.gz", "--prisons", "/nonexistent/prisons.csv"],
            "/nonexistent/prisons.csv"
        ),
        (
            ["analyze", "Samples/cdr/sample.csv.gz", "--prisons", "Samples/towers/sample-towers.csv"],
            "not a prison list"
        ),
        (["analyze", "Samples/cdr/sample.csv.gz", "--alerts", "/nonexistent/dir/a.jsonl"], "--alerts"),
        (["synth"], "out"),
    ])
    func usageAndConfigurationErrorsAreOneLineAndExit64(args: [String], mentions: String) throws {
        let r = try CLI.run(args)
        #expect(r.status == 64)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
    }

    @Test func helpAndVersionExitZero() throws {
        let help = try CLI.run(["analyze", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--towers"))
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty)
    }

    @Test func synthIsDeterministicPerSeed() throws {
        let a = CLI.tempDir()
        let b = CLI.tempDir()
        #expect(try CLI.run(["synth", "--out", a, "--seed", "5", "--rows", "5000"]).status == 0)
        #expect(try CLI.run(["synth", "--out", b, "--seed", "5", "--rows", "5000"]).status == 0)
        for f in ["cdr.csv.gz", "towers.csv", "truth.json"] {
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: a + "/" + f))
                    == (try Data(contentsOf: URL(fileURLWithPath: b + "/" + f))))
        }
    }
}

@Suite(.serialized) struct CarrierExportEndToEndTests {
    @Test func sabanaGivesTheSameAlertsAsTheFoundationLayout() throws {
        let f = CLI.tempDir()
        let s = CLI.tempDir()
        #expect(try CLI.run(["synth", "--out", f, "--seed", "21", "--rows", "30000"]).status == 0)
        #expect(
            try CLI.run(["synth", "--out", s, "--seed", "21", "--rows", "30000", "--layout", "sabana"]).status == 0)
        // The sábana is Windows-1252 with Spanish headers after title lines.
        let head = try Data(contentsOf: URL(fileURLWithPath: s + "/cdr.csv.gz"))
        #expect(head.count > 1000)
        let base = try CLI.run([
            "analyze", f + "/cdr.csv.gz", "--towers", f + "/towers.csv", "--alerts", f + "/a.jsonl",
        ])
        #expect(base.status == 0)
        // With the same tower file, and with no tower file at all (coordinates inline).
        let withTowers = try CLI.run([
            "analyze", s + "/cdr.csv.gz", "--towers", f + "/towers.csv", "--alerts", s + "/a.jsonl", "--summary-json",
            s + "/summary.json",
        ])
        let inline = try CLI.run(["analyze", s + "/cdr.csv.gz", "--alerts", s + "/b.jsonl"])
        #expect(withTowers.status == 0)
        #expect(inline.status == 0)
        let expected = try Data(contentsOf: URL(fileURLWithPath: f + "/a.jsonl"))
        #expect(expected.count > 1000)
        #expect(try Data(contentsOf: URL(fileURLWithPath: s + "/a.jsonl")) == expected)
        #expect(try Data(contentsOf: URL(fileURLWithPath: s + "/b.jsonl")) == expected)
        #expect(inline.stderr.contains("towers placed from coordinates in the dump"))
        let summary = try CLI.json(try String(contentsOfFile: s + "/summary.json", encoding: .utf8))
        #expect(summary["timezone"] as? String == "America/Mexico_City")
        #expect(summary["title_lines"] as? Int == 2)
        let skipped = try #require(summary["skipped_by_reason"] as? [String: Int])
        #expect((skipped["incoming"] ?? 0) > 1000)
        #expect((skipped["sms"] ?? 0) > 100)
        #expect(summary["rows_accepted"] as? Int == 30_000)
    }

    @Test func unknownTimeZoneIsAConfigurationError() throws {
        let r = try CLI.run(["analyze", "Samples/cdr/sample.csv.gz", "--timezone", "America/Atlantis"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("America/Atlantis"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func fixedOffsetAndDaylightSavingZones() throws {
        let dir = CLI.tempDir()
        let text =
            "id,fecha,hora,numero a,numero b,duracion\n1,15/01/2026,10:00:00,5512345678,5533445566,30\n2,15/07/2026,10:00:00,5512345678,5533445567,30\n"
        try text.write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
        func starts(_ zone: String) throws -> [String] {
            let r = try CLI.run(["columns", dir + "/d.csv", "--timezone", zone])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").filter { $0.hasPrefix("  line ") }.map {
                String($0.split(separator: " ")[2])
            }
        }
        #expect(try starts("UTC-6") == ["2026-01-15T16:00:00Z", "2026-07-15T16:00:00Z"])
        #expect(try starts("America/Mexico_City") == ["2026-01-15T16:00:00Z", "2026-07-15T16:00:00Z"])
        #expect(try starts("America/Tijuana") == ["2026-01-15T18:00:00Z", "2026-07-15T17:00:00Z"])
    }

    @Test func columnsPrintsAMappingThatReadsTheFileTheSameWay() throws {
        let dir = CLI.tempDir()
        let r = try CLI.run(["columns", "../shared/corpus/cdr/cdr-stats-CDRImport-2015-10-26.csv"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("caller         4: caller_id_number"))
        let mapping =
            String(r.stdout[r.stdout.range(of: "# celda mapping")!.lowerBound...])
            + "\n[call_types]\noutgoing = [\"1\"]\n"
        try mapping.write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
        let a = try CLI.run([
            "analyze", "../shared/corpus/cdr/cdr-stats-CDRImport-2015-10-26.csv", "--mapping", dir + "/m.toml",
            "--alerts", dir + "/a.jsonl", "--summary-json", dir + "/s.json",
        ])
        #expect(a.status == 0, "\(a.stderr)")
        let s = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        #expect(s["rows_accepted"] as? Int == 5)
        let bad = try CLI.run(["analyze", "Samples/cdr/sample.csv.gz", "--mapping", dir + "/missing.toml"])
        #expect(bad.status == 64)
    }

    @Test func aDirectoryIsOneDump() throws {
        let dir = CLI.tempDir()
        let synth = try CLI.run(["synth", "--out", dir, "--seed", "4", "--rows", "10000", "--no-gzip"])
        #expect(synth.status == 0)
        let lines = try CLI.lines(dir + "/cdr.csv")
        let header = lines[0]
        let body = Array(lines.dropFirst())
        // Two overlapping exports of one dump, in a folder of their own.
        try FileManager.default.createDirectory(atPath: dir + "/parts", withIntermediateDirectories: true)
        try ([header] + body[0..<7000]).joined(separator: "\n").appending("\n").write(
            toFile: dir + "/parts/a.csv", atomically: true, encoding: .utf8)
        try ([header] + body[5000...]).joined(separator: "\n").appending("\n").write(
            toFile: dir + "/parts/b.csv", atomically: true, encoding: .utf8)
        let whole = try CLI.run([
            "analyze", dir + "/cdr.csv", "--towers", dir + "/towers.csv", "--alerts", dir + "/w.jsonl",
        ])
        let parts = try CLI.run([
            "analyze", dir + "/parts", "--towers", dir + "/towers.csv", "--alerts", dir + "/p.jsonl", "--summary-json",
            dir + "/s.json",
        ])
        #expect(whole.status == 0 && parts.status == 0)
        let s = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        #expect(s["rows_duplicate"] as? Int == 2000)
        #expect(s["rows_accepted"] as? Int == body.count)
        // Evidence of the same call can cite either copy; the alerts are otherwise the same.
        let w = try CLI.lines(dir + "/w.jsonl").map(CLI.json).map {
            "\($0["id"]!) \($0["detected_at"]!) \($0["score"]!)"
        }
        let p = try CLI.lines(dir + "/p.jsonl").map(CLI.json).map {
            "\($0["id"]!) \($0["detected_at"]!) \($0["score"]!)"
        }
        #expect(w == p)
        #expect(!w.isEmpty)
    }
}

/// Detection quality over several synthetic worlds (issue: measured quality).
@Suite(.serialized) struct DetectionQualityTests {
    @Test(arguments: [101, 202, 303] as [Int])
    func qualityOverSeeds(seed: Int) throws {
        let dir = CLI.tempDir()
        #expect(
            try CLI.run(["synth", "--out", dir, "--seed", String(seed), "--rows", "90000", "--days", "3"]).status == 0)
        let a = try CLI.run([
            "analyze", dir + "/cdr.csv.gz", "--towers", dir + "/towers.csv", "--alerts", dir + "/a.jsonl",
        ])
        #expect(a.status == 0)
        let e = try CLI.run(["eval", "--truth", dir + "/truth.json", dir + "/a.jsonl", "--json", dir + "/q.json"])
        #expect(e.status == 0)
        let q = try CLI.json(try String(contentsOfFile: dir + "/q.json", encoding: .utf8))
        func score(_ kind: String, _ key: String) -> Double { (q[kind] as? [String: Any])?[key] as? Double ?? -1 }
        #expect(score("line", "recall") >= 0.95, "\(e.stdout)")
        #expect(score("line", "precision") >= 0.95, "\(e.stdout)")
        #expect(q["line_alerts_with_prison"] as? Int == q["line_alerts"] as? Int)
        #expect(q["lookalikes_flagged"] as? Int == 0, "\(e.stdout)")
        #expect(score("victim", "recall") >= 0.8, "\(e.stdout)")
        #expect(score("victim", "precision") >= 0.8, "\(e.stdout)")
        #expect(score("device", "recall") >= 0.8, "\(e.stdout)")
        let slow = q["slow_lines"] as? Int ?? 0
        #expect(slow > 0)
        #expect(Double(q["slow_lines_found"] as? Int ?? 0) >= Double(slow) / 2, "\(e.stdout)")
        #expect(score("tower", "recall") == 1, "\(e.stdout)")
        #expect(score("prison-pair", "recall") == 1, "\(e.stdout)")
    }
}

@Suite struct ListsEndToEndTests {
    @Test func allowlistAndWatchlistFromFiles() throws {
        let dir = CLI.tempDir()
        let first = try CLI.run([
            "analyze", "Samples/cdr/sample.csv.gz", "--towers", "Samples/towers/sample-towers.csv", "--alerts",
            dir + "/a.jsonl", "--quiet",
        ])
        #expect(first.status == 0)
        let line = try #require(
            try CLI.lines(dir + "/a.jsonl").map(CLI.json).first {
                ($0["entity"] as? [String: Any])?["kind"] as? String == "line"
            })
        let id = try #require((line["entity"] as? [String: Any])?["id"] as? String)
        try (id + "\n").write(toFile: dir + "/allow.txt", atomically: true, encoding: .utf8)
        try ("# known\n" + id + "\n").write(toFile: dir + "/watch.txt", atomically: true, encoding: .utf8)
        let allowed = try CLI.run([
            "analyze", "Samples/cdr/sample.csv.gz", "--towers", "Samples/towers/sample-towers.csv", "--allowlist",
            dir + "/allow.txt",
            "--alerts", dir + "/b.jsonl", "--summary-json", dir + "/s.json",
        ])
        #expect(allowed.status == 0)
        #expect(!(try String(contentsOfFile: dir + "/b.jsonl", encoding: .utf8)).contains(id))
        #expect(
            ((try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8)))["records_allowlisted"] as? Int
                ?? 0) > 0)
        let watched = try CLI.run([
            "analyze", "Samples/cdr/sample.csv.gz", "--watchlist", dir + "/watch.txt", "--alerts", dir + "/c.jsonl",
            "--quiet",
        ])
        #expect(watched.status == 0)
        #expect(try CLI.lines(dir + "/c.jsonl").map(CLI.json).contains { $0["detector"] as? String == "watchlist" })
        try "55ABC\n".write(toFile: dir + "/bad.txt", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["analyze", "Samples/cdr/sample.csv.gz", "--watchlist", dir + "/bad.txt"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("bad.txt"))
    }

    @Test func configDefaultsReadBackAndBadConfigIsAnError() throws {
        let dir = CLI.tempDir()
        let d = try CLI.run(["config", "--defaults"])
        #expect(d.status == 0)
        try d.stdout.write(toFile: dir + "/c.toml", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["config", "--config", dir + "/c.toml"]).stdout == d.stdout)
        try "[burst]\nwindw = \"1h\"\n".write(toFile: dir + "/bad.toml", atomically: true, encoding: .utf8)
        let bad = try CLI.run(["analyze", "Samples/cdr/sample.csv.gz", "--config", dir + "/bad.toml"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("burst.windw"))
    }
}

@Suite(.serialized) struct CaptureEndToEndTests {
    static let corpus = CLI.root.deletingLastPathComponent().appendingPathComponent("shared/corpus/pcap").path

    /// A synthetic IMS capture with planted rings goes through detection; its calls table reads
    /// back as a dump and gives the very same alert log.
    @Test func synthCaptureDetectsRingsAndReadsBackAsCSV() throws {
        let dir = CLI.tempDir()
        let s = try CLI.run(["synth", "--pcap", "--calls", "30000", "--days", "2", "--seed", "404", "--out", dir])
        #expect(s.status == 0, "\(s.stderr)")
        let a = try CLI.run([
            "analyze", dir + "/capture.pcap", "--towers", dir + "/towers.csv", "--alerts", dir + "/cap.jsonl",
            "--summary-json", dir + "/s.json",
        ])
        #expect(a.status == 0, "\(a.stderr)")
        let summary = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        #expect(summary["calls_assembled"] as? Int == summary["rows_read"] as? Int)
        #expect((summary["packets_read"] as? Int ?? 0) > 150_000)
        #expect((summary["capture_problems"] as? [String: Any])?.isEmpty == true)
        #expect(summary["records_unlocated"] as? Int == 0)
        let e = try CLI.run(["eval", "--truth", dir + "/truth.json", dir + "/cap.jsonl", "--json", dir + "/q.json"])
        let q = try CLI.json(try String(contentsOfFile: dir + "/q.json", encoding: .utf8))
        let line = q["line"] as? [String: Any]
        #expect(line?["recall"] as? Double == 1, "\(e.stdout)")
        #expect(line?["precision"] as? Double == 1, "\(e.stdout)")
        #expect(q["lookalikes_flagged"] as? Int == 0, "\(e.stdout)")
        #expect(q["line_alerts_with_prison"] as? Int == q["line_alerts"] as? Int)

        let c = try CLI.run(["calls", dir + "/capture.pcap", "-o", dir + "/calls.csv"])
        #expect(c.status == 0)
        #expect(try CLI.lines(dir + "/calls.csv").first == CallsHeader.text)
        let b = try CLI.run([
            "analyze", dir + "/calls.csv", "--towers", dir + "/towers.csv", "--alerts", dir + "/csv.jsonl", "--quiet",
        ])
        #expect(b.status == 0)
        let fromCapture = try String(contentsOfFile: dir + "/cap.jsonl", encoding: .utf8)
        #expect(!fromCapture.isEmpty)
        #expect(try String(contentsOfFile: dir + "/csv.jsonl", encoding: .utf8) == fromCapture)
    }

    @Test func capturesAndDumpsMixAndCorpusReadsClean() throws {
        let dir = CLI.tempDir()
        let r = try CLI.run([
            "analyze", Self.corpus, "Samples/cdr/sample.csv.gz", "--towers", "Samples/towers/sample-towers.csv",
            "--alerts", dir + "/a.jsonl", "--summary-json", dir + "/s.json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try CLI.json(try String(contentsOfFile: dir + "/s.json", encoding: .utf8))
        #expect(summary["calls_assembled"] as? Int == 73)
        #expect(summary["rows_read"] as? Int == 50_000 + 73)
        #expect(summary["packets_read"] as? Int == 9_122)
        #expect(r.stderr.contains("captures: 9122 packets"))
    }

    @Test func truncatedCaptureExitsOneNamingThePacket() throws {
        let dir = CLI.tempDir()
        let whole = try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/ndpi-gre-sip.pcapng"))
        _ = FileManager.default.createFile(atPath: dir + "/cut.pcapng", contents: whole.prefix(whole.count - 300))
        let c = try CLI.run(["calls", dir + "/cut.pcapng", "-o", dir + "/calls.csv"])
        #expect(c.status == 1)
        #expect(c.stderr.contains("packet 36"), "\(c.stderr)")
        #expect(try CLI.lines(dir + "/calls.csv").count == 6)
        let a = try CLI.run(["analyze", dir + "/cut.pcapng", "--alerts", dir + "/a.jsonl"])
        #expect(a.status == 1)
        #expect(a.stderr.contains("packet 36"))
        #expect(a.stderr.contains("read 5 rows"))
    }

    @Test func captureFromAPipeOrGzipGivesTheSameCalls() throws {
        let dir = CLI.tempDir()
        let file = Self.corpus + "/hep-sip-ipv4-tcp-fragmented.pcap"
        let direct = try CLI.run(["calls", file, "--quiet"])
        let piped = try CLI.run(["calls", "-", "--quiet"], stdin: try Data(contentsOf: URL(fileURLWithPath: file)))
        func body(_ s: String) -> [String] {
            s.split(separator: "\n").map { String($0.split(separator: ",").dropLast().joined(separator: ",")) }
        }
        #expect(piped.status == 0)
        #expect(body(piped.stdout) == body(direct.stdout))
        #expect(direct.stdout.split(separator: "\n").count == 38)
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/sh")
        gz.arguments = ["-c", "gzip -c '\(file)' > '\(dir)/f.pcap.gz'"]
        try gz.run()
        gz.waitUntilExit()
        let zipped = try CLI.run(["calls", dir + "/f.pcap.gz", "--quiet"])
        #expect(zipped.status == 0, "\(zipped.stderr)")
        #expect(body(zipped.stdout) == body(direct.stdout))
        let analysed = try CLI.run(["analyze", dir + "/f.pcap.gz", "--alerts", dir + "/a.jsonl"])
        #expect(analysed.stderr.contains("37 calls"), "\(analysed.stderr)")
    }
}

extension EndToEndTests {
    /// A capture file is read from a mapping, which drops the pages already read every 8 MiB; a
    /// pipe goes through a stream. A capture of several such steps gives the same calls both
    /// ways, and the same when cut short in the middle of a packet.
    @Test func aMappedCaptureGivesTheCallsOfAStream() throws {
        let dir = CLI.tempDir()
        let made = try CLI.run(["synth", "--pcap", "--calls", "9000", "--seed", "12", "--out", dir])
        #expect(made.status == 0, "\(made.stderr)")
        let file = dir + "/capture.pcap"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(bytes.count > 2 * (8 << 20))
        func body(_ s: String) -> [String] {
            s.split(separator: "\n").map { String($0.split(separator: ",").dropLast().joined(separator: ",")) }
        }
        let direct = try CLI.run(["calls", file, "--quiet"])
        let piped = try CLI.run(["calls", "-", "--quiet"], stdin: bytes)
        #expect(direct.status == 0 && piped.status == 0)
        #expect(body(direct.stdout).count > 8000)
        // (Compared as one truth value: a failure would print both tables of 9,000 calls.)
        let sameCalls = body(direct.stdout) == body(piped.stdout)
        #expect(sameCalls)
        // Cut in the middle of a packet, past the first release.
        let cut = dir + "/cut.pcap"
        let at = (8 << 20) + 12_345
        try bytes.prefix(at).write(to: URL(fileURLWithPath: cut))
        let shortFile = try CLI.run(["calls", cut, "--quiet"])
        let shortPipe = try CLI.run(["calls", "-", "--quiet"], stdin: bytes.prefix(at))
        #expect(shortFile.status == shortPipe.status)
        #expect(shortFile.status != 0)
        #expect(shortFile.stderr.contains("truncated"), "\(shortFile.stderr)")
        let sameShort = body(shortFile.stdout) == body(shortPipe.stdout)
        #expect(sameShort)
        #expect(body(shortFile.stdout).count > 1000)
    }
}

enum CallsHeader {
    static let text = "call_id,start_time,answer_time,end_time,duration_s,caller,callee,cell_id,disposition,icid,source"
}

/// The same log whatever the thread count, the input order or the number of shard processes.
@Suite(.serialized) struct ScaleOutTests {
    static let world: String = {
        let dir = CLI.tempDir()
        _ = try? CLI.run(["synth", "--out", dir, "--seed", "77", "--rows", "25000", "--days", "2", "--no-gzip"])
        return dir
    }()

    static func analyze(_ input: String, _ extra: [String], to log: String) throws -> CLI.Result {
        try CLI.run(["analyze", input, "--towers", world + "/towers.csv", "--alerts", log, "--quiet"] + extra)
    }

    @Test func threadsAndInputOrderGiveTheSameLog() throws {
        let dir = Self.world
        var logs: [String] = []
        for t in [1, 2, 3] {
            let r = try Self.analyze(dir + "/cdr.csv", ["--threads", String(t)], to: dir + "/t\(t).jsonl")
            #expect(r.status == 0, "\(r.stderr)")
            logs.append(try String(contentsOfFile: dir + "/t\(t).jsonl", encoding: .utf8))
        }
        #expect(logs[0].split(separator: "\n").count > 20)
        #expect(logs[1] == logs[0])
        #expect(logs[2] == logs[0])
        // The synthetic dump is in call-end order, as switches write; sorted by start it gives the same log.
        let lines = try CLI.lines(dir + "/cdr.csv")
        let body = lines.dropFirst()
        let sorted = body.sorted { $0.split(separator: ",")[1] < $1.split(separator: ",")[1] }
        #expect(Array(body) != sorted)
        try ([lines[0]] + sorted).joined(separator: "\n").appending("\n").write(
            toFile: dir + "/sorted.csv", atomically: true, encoding: .utf8)
        let r = try Self.analyze(dir + "/sorted.csv", ["--threads", "2"], to: dir + "/sorted.jsonl")
        #expect(r.status == 0)
        #expect(try String(contentsOfFile: dir + "/sorted.jsonl", encoding: .utf8) == logs[0])
    }

    @Test(arguments: [1, 3, 7])
    func shardsMergeToTheSingleRunLog(parts: Int) throws {
        let dir = Self.world
        let single = dir + "/single.jsonl"
        if !FileManager.default.fileExists(atPath: single) {
            #expect(try Self.analyze(dir + "/cdr.csv", ["--threads", "1"], to: single).status == 0)
        }
        var files: [String] = []
        for k in (0..<parts).reversed() {
            let f = dir + "/shard-\(k)-of-\(parts).bin"
            let r = try Self.analyze(dir + "/cdr.csv", ["--shard", "\(k)/\(parts)", "--threads", "2"], to: f)
            #expect(r.status == 0, "\(r.stderr)")
            files.append(f)
        }
        let m = try CLI.run(["merge"] + files + ["-o", dir + "/merged-\(parts).jsonl"])
        #expect(m.status == 0, "\(m.stderr)")
        let merged = try String(contentsOfFile: dir + "/merged-\(parts).jsonl", encoding: .utf8)
        #expect(merged == (try String(contentsOfFile: single, encoding: .utf8)))
        if parts > 1 {
            // A missing part is refused.
            let bad = try CLI.run(["merge"] + files.dropLast() + ["-o", dir + "/bad.jsonl"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("parts 0..\(parts - 1)"))
        }
    }

    /// Shards run with other settings (here a pair sketch of another size) are refused with a
    /// message, whatever order they come in, not merged.
    @Test func shardsOfOtherSettingsAreRefused() throws {
        let dir = Self.world
        let config = dir + "/small-sketch.toml"
        try "[victim]\npair_sketch_mib = 4\n".write(toFile: config, atomically: true, encoding: .utf8)
        let a = dir + "/other-0-of-2.bin"
        let b = dir + "/other-1-of-2.bin"
        #expect(try Self.analyze(dir + "/cdr.csv", ["--shard", "0/2"], to: a).status == 0)
        #expect(try Self.analyze(dir + "/cdr.csv", ["--shard", "1/2", "--config", config], to: b).status == 0)
        for files in [[a, b], [b, a]] {
            let m = try CLI.run(["merge"] + files + ["-o", dir + "/other.jsonl"])
            #expect(m.status == 64)
            #expect(m.stderr.contains("refusing to merge"), "\(m.stderr)")
            #expect(m.stderr.split(separator: "\n").count == 1, "\(m.stderr)")
        }
    }

    @Test func badShardAndThreadValuesAreUsageErrors() throws {
        for args in [["--shard", "3/3"], ["--shard", "x"], ["--threads", "0"]] {
            let r = try CLI.run(["analyze", "Samples/cdr/sample.csv.gz"] + args)
            #expect(r.status == 64)
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        let notFindings = try CLI.run(["merge", "Samples/cdr/sample.csv.gz"])
        #expect(notFindings.status == 1)
    }
}
