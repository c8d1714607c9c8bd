import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda eval`: detection quality of an alert log against a synthetic world's truth.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score an alert log against truth.json: precision and recall per entity kind.",
        discussion: """
            Counts alerts of --min-severity (default high) and above. Lines: the planted ring and low-and-slow \
            lines; devices: the ring handsets; victims: the numbers the rings chased; towers: the surging tower; \
            prison pairs: the cooperating rings. Also reports the legitimate look-alikes flagged at any severity.
            """
    )

    @Option(help: "The truth file written by `celda synth`.")
    var truth: String

    @Argument(help: "The alert log (JSON Lines).")
    var alerts: String

    @Option(name: .customLong("min-severity"), help: "Lowest severity counted: low, medium, high, critical.")
    var minSeverity: String = "high"

    @Option(help: "Also write the figures as JSON here.")
    var json: String?

    static let severities = ["low", "medium", "high", "critical"]

    func validate() throws {
        if !Self.severities.contains(minSeverity) {
            throw ValidationError("--min-severity must be low, medium, high or critical")
        }
    }

    struct Score {
        var kind: String
        var truth: Int
        var predicted: Int
        var hits: Int
        var precision: Double { predicted == 0 ? (truth == 0 ? 1 : 0) : Double(hits) / Double(predicted) }
        var recall: Double { truth == 0 ? 1 : Double(hits) / Double(truth) }
    }

    func run() throws {
        let t: JSONValue
        var lines: [String] = []
        do {
            t = try MiniJSON.parse(try FileSystemLite.read(truth))
            lines = String(decoding: try FileSystemLite.read(alerts), as: UTF8.self).split(separator: "\n").map(
                String.init)
        } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
        func strings(_ key: String, field: String? = nil) -> Set<String> {
            Set((t[key]?.array ?? []).compactMap { v in field.map { v[$0]?.string } ?? v.string })
        }
        let ringLines = strings("ring_lines", field: "line")
        let slowLines = strings("slow_lines", field: "line")
        let lookalikes = strings("lookalike_lines", field: "line")
        let truthByKind: [String: Set<String>] = [
            "line": ringLines.union(slowLines),
            "device": strings("ring_devices"),
            "victim": strings("victims"),
            "tower": strings("surges", field: "tower"),
            "prison-pair": strings("alliances"),
        ]
        let minRank = Self.severities.firstIndex(of: minSeverity)!
        var predicted: [String: Set<String>] = [:]
        var flaggedLookalikes = Set<String>()
        var lineAlertsWithPrison = 0
        var lineAlerts = 0
        for (n, line) in lines.enumerated() where !line.isEmpty {
            let a: JSONValue
            do { a = try MiniJSON.parse(Array(line.utf8)) } catch {
                ProcessInfoLite.stderr("celda: \(alerts):\(n + 1): not JSON: \(error)")
                throw CeldaExit(code: 1)
            }
            guard let kind = a["entity"]?["kind"]?.string, let id = a["entity"]?["id"]?.string,
                let sev = a["severity"]?.string, let rank = Self.severities.firstIndex(of: sev)
            else { continue }
            if kind == "line", lookalikes.contains(id) { flaggedLookalikes.insert(id) }
            guard rank >= minRank else { continue }
            predicted[kind, default: []].insert(id)
            if kind == "line" {
                lineAlerts += 1
                if case .object = a["prison"] ?? .null { lineAlertsWithPrison += 1 }
            }
        }
        let kinds = ["line", "device", "victim", "tower", "prison-pair"]
        let scores = kinds.map { k in
            let tr = truthByKind[k] ?? []
            let pr = predicted[k] ?? []
            return Score(kind: k, truth: tr.count, predicted: pr.count, hits: tr.intersection(pr).count)
        }
        let slowFound = slowLines.intersection(predicted["line"] ?? []).count
        var out = "kind          truth  flagged  correct  precision  recall\n"
        func f(_ x: Double) -> String { String(Int((x * 1000).rounded())).leftPadded(4).replacingLast3() }
        for s in scores {
            out +=
                s.kind.padding(12) + String(s.truth).leftPadded(7) + String(s.predicted).leftPadded(9)
                + String(s.hits).leftPadded(9) + "     " + f(s.precision) + "   " + f(s.recall) + "\n"
        }
        out += "low-and-slow lines found: \(slowFound) of \(slowLines.count)\n"
        out += "look-alike lines flagged (any severity): \(flaggedLookalikes.count) of \(lookalikes.count)"
        out += flaggedLookalikes.isEmpty ? "\n" : " (\(flaggedLookalikes.sorted().joined(separator: ", ")))\n"
        out += "line alerts naming a prison: \(lineAlertsWithPrison) of \(lineAlerts)\n"
        print(out, terminator: "")
        if let path = json {
            var w = JSONWriter()
            w.raw("{")
            for (i, s) in scores.enumerated() {
                if i > 0 { w.raw(",") }
                w.string(s.kind)
                w.raw(":{\"truth\":")
                w.int(s.truth)
                w.raw(",\"flagged\":")
                w.int(s.predicted)
                w.raw(",\"correct\":")
                w.int(s.hits)
                w.raw(",\"precision\":")
                w.number(s.precision)
                w.raw(",\"recall\":")
                w.number(s.recall)
                w.raw("}")
            }
            w.raw(",\"slow_lines\":")
            w.int(slowLines.count)
            w.raw(",\"slow_lines_found\":")
            w.int(slowFound)
            w.raw(",\"lookalikes\":")
            w.int(lookalikes.count)
            w.raw(",\"lookalikes_flagged\":")
            w.int(flaggedLookalikes.count)
            w.raw(",\"line_alerts\":")
            w.int(lineAlerts)
            w.raw(",\"line_alerts_with_prison\":")
            w.int(lineAlertsWithPrison)
            w.raw("}\n")
            do {
                let file = try OutputFile(path: path)
                try file.write(w.bytes)
                try file.close()
            } catch {
                ProcessInfoLite.stderr("celda: \(error)")
                throw CeldaExit(code: 64)
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
    /// "1000" → "1.000", " 950" → "0.950".
    func replacingLast3() -> String {
        let digits = trimmingCharacters(in: " ")
        let v = Int(digits) ?? 0
        let frac = String(v % 1000)
        return "\(v / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    func trimmingCharacters(in set: Character) -> String { String(drop { $0 == set }) }
}
