import ArgumentParser
import CeldaCore
import CeldaIngest

/// `celda columns`: what Celda detects in a file, and the mapping that reproduces it.
struct Columns: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the layout Celda detects in a dump and the mapping that reproduces it.",
        discussion: """
            Prints the encoding, delimiter, header line and the column of every field, the first rows as \
            Celda reads them, then a mapping file (TOML) for --mapping: fix one line instead of guessing.
            """
    )

    @Argument(help: "A CDR dump.")
    var input: String

    @Option(help: "How many data rows to show.")
    var rows: Int = 3

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        let options: ReaderOptions
        do { options = try reading.readerOptions() } catch {
            ProcessInfoLite.stderr("celda: \(error.description)")
            throw CeldaExit(code: 64)
        }
        let reader = DumpReader(path: input, inputIndex: 0, options: options)
        do { try reader.open() } catch {
            ProcessInfoLite.stderr("celda: \(error)")
            throw CeldaExit(code: 1)
        }
        let d = reader.detection!
        var out = "\(input)\n"
        for n in d.notes { out += "  \(n)\n" }
        out += "  time zone for local times: \(options.zone.name)\n\n"
        out += "  field          column\n"
        for field in CDRField.allCases {
            guard let i = d.layout.columns[field] else { continue }
            let name = i < d.layout.header.count ? d.layout.header[i] : "column \(i + 1)"
            out += "  " + field.rawValue.padding(15) + "\(i + 1): \(name)\n"
        }
        let used = Set(d.layout.columns.values)
        let unused = d.layout.header.enumerated().filter { !used.contains($0.offset) }.map {
            "\($0.offset + 1): \($0.element)"
        }
        if !unused.isEmpty { out += "  not used: \(unused.joined(separator: ", "))\n" }
        out += "\n"
        var shown = 0
        var identities = IdentityTable()
        while shown < rows {
            let record: CallRecord?
            do { record = try reader.next() } catch {
                out += "  (stopped: \(error))\n"
                break
            }
            guard let r = record else { break }
            identities = reader.identities
            shown += 1
            out +=
                "  line \(r.source.line): \(CivilTime.format(r.start)) \(identities.name(of: r.caller)) -> "
                + "\(identities.name(of: r.callee)), \(r.durationMs / 1000) s, \(r.answered ? "answered" : "not answered")"
                + (r.cell.isNone ? "" : ", cell \(reader.siteNames.name(of: r.cell))") + "\n"
        }
        let s = reader.stats
        if s.rejected + s.skipped > 0 {
            out +=
                "  (\(s.rejected) rejected and \(s.skipped) skipped rows before these; `celda analyze --rejects FILE` lists them)\n"
        }
        out += "\n" + CDRMapping.render(d.layout, timezone: options.zone.name, countryCode: options.plan.countryCode)
        print(out, terminator: "")
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
