public import CeldaCore

/// A column reference in a mapping: a header name or a 1-based column number.
public enum ColumnRef: Sendable, Equatable {
    case name(String)
    /// 0-based internally (the file says 1-based).
    case index(Int)
}

/// A `--mapping` file: how to read a carrier export that detection gets wrong.
///
/// ```toml
/// # celda mapping
/// layout = "header"           # or asterisk, asterisk-21, asterisk-custom, freeswitch
/// header = true               # false: no header row (columns by number)
/// skip_lines = 2              # title lines before the header
/// delimiter = ";"             # ",", ";", "\t" or "|"
/// encoding = "windows-1252"   # or "utf-8"
/// date_order = "dmy"          # dmy (DD/MM/YYYY) or mdy
/// timezone = "America/Mexico_City"
/// country_code = 52
/// cell_hex = false            # LAC and CI written in hexadecimal
///
/// [columns]                   # a header name, or a column number counted from 1
/// caller = "NUMERO A"
/// callee = "NUMERO B"
/// date = "FECHA"
/// time = "HORA"
/// duration_s = "DURACION"
/// cell_id = "CGI"
///
/// [call_types]                # words of the export's call-type column
/// outgoing = ["SALIENTE", "MOC"]
/// incoming = ["ENTRANTE", "MTC"]
/// sms = ["SMS"]
/// ```
public struct CDRMapping: Sendable, Equatable {
    public var layout: String?
    public var hasHeader: Bool?
    public var skipLines: Int?
    public var delimiter: UInt8?
    public var encoding: TextEncoding?
    public var dateOrder: DateOrder?
    public var timezone: String?
    public var countryCode: UInt64?
    public var cellHex: Bool?
    public var columns: [CDRField: ColumnRef] = [:]
    /// Uppercased words → class.
    public var callTypes: [String: CallClass] = [:]

    public init() {}

    /// Parses mapping text; errors name the line and the key.
    public static func parse(_ text: String, path: String) throws(InputError) -> CDRMapping {
        let entries: [(key: String, value: TOMLValue, line: Int)]
        do { entries = try MiniTOML.parse(text) } catch {
            throw InputError(.badHeader, path: path, error.description)
        }
        var m = CDRMapping()
        for (key, value, line) in entries {
            func bad(_ why: String) -> InputError { InputError(.badHeader, path: path, "line \(line): \(key): \(why)") }
            switch key {
            case "layout":
                guard let s = value.string, CDRLayout.layoutNames.contains(s) else {
                    throw bad("expected one of \(CDRLayout.layoutNames.joined(separator: ", "))")
                }
                m.layout = s
            case "header":
                guard let b = value.bool else { throw bad("expected true or false") }
                m.hasHeader = b
            case "skip_lines":
                guard let i = value.integer, i >= 0, i < 1000 else { throw bad("expected a number of lines") }
                m.skipLines = i
            case "delimiter":
                guard let s = value.string, s.utf8.count == 1, let b = s.utf8.first, b != 0x22, b != 0x0A else {
                    throw bad("expected one character such as \",\" \";\" \"\\t\" or \"|\"")
                }
                m.delimiter = b
            case "encoding":
                switch value.string?.lowercased() {
                case "utf-8", "utf8": m.encoding = .utf8
                case "windows-1252", "cp1252", "latin-1", "latin1", "iso-8859-1": m.encoding = .windows1252
                default: throw bad("expected \"utf-8\" or \"windows-1252\"")
                }
            case "date_order":
                guard let s = value.string, let o = DateOrder(rawValue: s) else {
                    throw bad("expected \"dmy\" or \"mdy\"")
                }
                m.dateOrder = o
            case "timezone":
                guard let s = value.string else { throw bad("expected a time zone name") }
                m.timezone = s
            case "country_code":
                guard let i = value.integer, i >= 1, i <= 999 else { throw bad("expected a country calling code") }
                m.countryCode = UInt64(i)
            case "cell_hex":
                guard let b = value.bool else { throw bad("expected true or false") }
                m.cellHex = b
            default:
                if key.hasPrefix("columns.") {
                    let name = String(key.dropFirst(8))
                    guard let field = CDRField(rawValue: name) else {
                        throw bad("unknown field (known: \(CDRField.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    if let i = value.integer {
                        guard i >= 1 else { throw bad("column numbers count from 1") }
                        m.columns[field] = .index(i - 1)
                    } else if let s = value.string {
                        m.columns[field] = .name(s)
                    } else {
                        throw bad("expected a header name or a column number")
                    }
                } else if key.hasPrefix("call_types.") {
                    guard let cls = CallClass(rawValue: String(key.dropFirst(11))) else {
                        throw bad("expected outgoing, incoming, sms, data, forwarded or other")
                    }
                    guard let words = value.strings else { throw bad("expected a list of words") }
                    for w in words { m.callTypes[w.uppercased().trimmingSpaces] = cls }
                } else {
                    throw bad("unknown key")
                }
            }
        }
        return m
    }

    /// The mapping text that reproduces a detected layout.
    public static func render(_ l: CDRLayout, timezone: String, countryCode: UInt64) -> String {
        func quote(_ s: String) -> String {
            "\"" + s.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
        }
        var out = "# celda mapping (edit and pass with --mapping FILE)\n"
        out += "layout = \(quote(l.hasHeader || l.name == "mapping" ? "header" : l.name))\n"
        if !l.hasHeader && l.name == "mapping" { out += "header = false\n" }
        out += "skip_lines = \(l.skipLines)\n"
        let d = l.delimiter == 0x09 ? "\\t" : String(Character(Unicode.Scalar(l.delimiter)))
        out += "delimiter = \"\(d)\"\n"
        out += "encoding = \(quote(l.encoding.rawValue))\n"
        out += "date_order = \(quote(l.dateOrder.rawValue))\n"
        out += "timezone = \(quote(timezone))\n"
        out += "country_code = \(countryCode)\n"
        out += "cell_hex = \(l.cellHex)\n\n[columns]\n"
        for field in CDRField.allCases {
            guard let i = l.columns[field] else { continue }
            if l.hasHeader, i < l.header.count {
                out += "\(field.rawValue) = \(quote(l.header[i]))\n"
            } else {
                out += "\(field.rawValue) = \(i + 1)\n"
            }
        }
        if !l.callTypes.isEmpty {
            out += "\n[call_types]\n"
            let grouped = Dictionary(grouping: l.callTypes, by: \.value)
            for (cls, words) in grouped.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                out += "\(cls.rawValue) = [\(words.map(\.key).sorted().map(quote).joined(separator: ", "))]\n"
            }
        }
        return out
    }
}
