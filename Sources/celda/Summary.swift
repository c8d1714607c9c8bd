import CeldaCore
import CeldaIngest

/// The run summary: a human version on stderr, a JSON version with `--summary-json`.
struct Summary {
    struct Input {
        var path: String
        var bytes: Int
        var sha256: String?
        var error: String?
    }

    var rows = RowStats()
    var stats = EngineStats()
    var alerts = 0
    var byDetector: [String: Int] = [:]
    var byPrison: [String: Int] = [:]
    var bySeverity: [String: Int] = [:]
    var seconds = 0.0
    var peakRSS = 0
    var inputs: [Input] = []
    var configSHA256 = ""
    var towers = 0
    var towersRejected = 0
    var prisonTowers = 0
    var prisons = 0
    var alertsPath = ""
    var rejectsShown: [String] = []
    var towerProblems: [String] = []
    var hasTowerFile = false
    var timezone = "UTC"
    var inlineTowers = 0
    var towerDisagreements = 0
    var layouts: [String] = []
    var capture: CaptureStats?

    var rowsPerSecond: Double { seconds > 0 ? Double(rows.read) / seconds : 0 }

    func json() -> String {
        var w = JSONWriter()
        func key(_ k: String, first: Bool = false) {
            w.rawText(first ? "{\n  " : ",\n  ")
            w.string(k)
            w.raw(": ")
        }
        func counts(_ d: [String: Int]) {
            w.raw("{")
            for (i, (k, v)) in d.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { w.raw(", ") }
                w.string(k)
                w.raw(": ")
                w.int(v)
            }
            w.raw("}")
        }
        key("rows_read", first: true)
        w.int(rows.read)
        key("rows_accepted")
        w.int(rows.accepted)
        key("rows_rejected")
        w.int(rows.rejected)
        key("rows_skipped")
        w.int(rows.skipped)
        key("rows_duplicate")
        w.int(rows.duplicate)
        key("rows_same_call_legs")
        w.int(rows.sameCallLegs)
        if let c = capture {
            key("packets_read")
            w.int(c.packets)
            key("packets_sip")
            w.int(c.sipPackets)
            key("sip_messages")
            w.int(c.sipMessages)
            key("sip_messages_unusable")
            w.int(c.sipRejected)
            key("sip_orphan_messages")
            w.int(c.orphanMessages)
            key("calls_assembled")
            w.int(c.calls)
            key("capture_problems")
            counts(c.faults)
        }
        key("rejected_by_reason")
        counts(rows.rejectedByReason)
        key("skipped_by_reason")
        counts(rows.skippedByReason)
        key("blank_lines")
        w.int(rows.blankLines)
        key("title_lines")
        w.int(rows.titleLines)
        key("records_late")
        w.int(stats.late)
        key("records_unlocated")
        w.int(stats.unlocated)
        key("records_prison_linked")
        w.int(stats.prisonLinked)
        key("records_allowlisted")
        w.int(stats.allowlisted)
        key("alerts")
        w.int(alerts)
        key("alerts_by_detector")
        counts(byDetector)
        key("alerts_by_prison")
        counts(byPrison)
        key("alerts_by_severity")
        counts(bySeverity)
        key("towers")
        w.int(towers)
        key("towers_rejected")
        w.int(towersRejected)
        key("towers_inline")
        w.int(inlineTowers)
        key("towers_disagreeing")
        w.int(towerDisagreements)
        key("towers_reaching_prisons")
        w.int(prisonTowers)
        key("prisons")
        w.int(prisons)
        key("seconds")
        w.number(AlertEncoder.round(seconds, 3))
        key("rows_per_second")
        w.int(Int(rowsPerSecond.rounded()))
        key("peak_rss_bytes")
        w.int(peakRSS)
        key("timezone")
        w.string(timezone)
        key("version")
        w.string(Celda.version)
        key("config_sha256")
        w.string(configSHA256)
        key("inputs")
        w.raw("[")
        for (i, input) in inputs.enumerated() {
            w.raw(i == 0 ? "\n    {\"path\": " : ",\n    {\"path\": ")
            w.string(input.path)
            w.raw(", \"bytes\": ")
            w.int(input.bytes)
            w.raw(", \"sha256\": ")
            if let s = input.sha256 { w.string(s) } else { w.raw("null") }
            w.raw(", \"error\": ")
            if let e = input.error { w.string(e) } else { w.raw("null") }
            w.raw("}")
        }
        w.raw(inputs.isEmpty ? "]" : "\n  ]")
        w.raw("\n}\n")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }

    func human() -> String {
        var lines: [String] = []
        let g = Self.grouped
        lines.append(
            "celda: read \(g(rows.read)) rows from \(inputs.count) input\(inputs.count == 1 ? "" : "s"): "
                + "\(g(rows.accepted)) accepted, \(g(rows.rejected)) rejected, \(g(rows.skipped)) skipped, "
                + "\(g(rows.duplicate)) duplicate, in \(AlertEncoder.round(seconds, 2)) s "
                + "(\(g(Int(rowsPerSecond))) rows/s, peak memory \(peakRSS / (1 << 20)) MiB)")
        lines.append(
            "celda: \(g(towers)) towers (\(g(prisonTowers)) reach one of \(prisons) prisons); "
                + "\(g(stats.prisonLinked)) calls on prison towers, \(g(stats.unlocated)) unlocated, \(g(stats.late)) late"
        )
        for l in layouts { lines.append("celda: read \(l)") }
        if let c = capture {
            lines.append("celda: captures: " + CaptureSummary.line(c))
            if rows.sameCallLegs > 0 {
                lines.append("celda: \(g(rows.sameCallLegs)) call legs share a charging id with a call already counted")
            }
        }
        if inlineTowers > 0 || towerDisagreements > 0 {
            lines.append(
                "celda: \(g(inlineTowers)) towers placed from coordinates in the dump"
                    + (towerDisagreements > 0
                        ? "; \(g(towerDisagreements)) inline positions more than 1 km from the tower file's (the file wins)"
                        : ""))
        }
        if stats.allowlisted > 0 {
            lines.append("celda: \(g(stats.allowlisted)) calls from allowlisted lines counted and not analysed")
        }
        if rows.skipped > 0 {
            let reasons = rows.skippedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                separator: ", ")
            lines.append("celda: skipped rows (not outgoing voice calls): \(reasons)")
        }
        lines.append("celda: local times read in time zone \(timezone)")
        if stats.unlocated > 0 && !hasTowerFile && inlineTowers == 0 {
            lines.append("celda: no tower file given: pass --towers FILE (OpenCellID CSV) to place calls near prisons")
        }
        if towersRejected > 0 {
            lines.append("celda: \(g(towersRejected)) tower rows could not be used, e.g. \(towerProblems.first ?? "")")
        }
        let det = byDetector.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let sev = Severity.allCases.reversed().compactMap { s in bySeverity[s.name].map { "\($0) \(s.name)" } }
            .joined(separator: ", ")
        lines.append(
            "celda: \(g(alerts)) alert\(alerts == 1 ? "" : "s")\(alerts > 0 ? " (\(det); \(sev))" : "") written to \(alertsPath)"
        )
        for (name, n) in byPrison.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            lines.append("celda:   \(n) tied to \(name)")
        }
        if rows.rejected > 0 {
            let reasons = rows.rejectedByReason.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                .joined(separator: ", ")
            lines.append("celda: rejected rows by reason: \(reasons)")
            for r in rejectsShown { lines.append("celda:   \(r)") }
            if rows.rejected > rejectsShown.count {
                lines.append("celda:   (pass --rejects FILE to list every rejected row)")
            }
        }
        for input in inputs where input.error != nil {
            lines.append("celda: input \(input.path) failed: \(input.error!)")
        }
        return lines.joined(separator: "\n")
    }
}
