/// Semantic fields of a CDR row.
public enum CDRField: String, CaseIterable, Sendable {
    case callID = "call_id"
    case start = "start_time"
    case caller
    case callee
    case duration = "duration_s"
    case cell = "cell_id"
    case imei
    case imsi
    case answered

    /// Header names recognised for the field, normalised (lowercase, no accents, spaces,
    /// underscores, dashes or dots).
    public var aliases: [String] {
        switch self {
        case .callID: ["callid", "id", "uniqueid", "uuid", "cdrid", "idllamada", "recordid"]
        case .start:
            [
                "starttime", "start", "startdate", "datetime", "timestamp", "fechahora", "inicio", "startingdate",
                "calldate",
                "setuptime", "seizuretime",
            ]
        case .caller:
            [
                "caller", "anumber", "callingnumber", "msisdn", "numeroa", "origen", "callingparty", "callerid", "src",
                "source", "from", "aparty", "callernumber", "calling",
            ]
        case .callee:
            [
                "callee", "bnumber", "callednumber", "numerob", "destino", "calledparty", "dst", "destination", "to",
                "bparty", "destinationnumber", "called",
            ]
        case .duration: ["durations", "duration", "durationsec", "duracion", "duracions", "talktime", "billsec", "dur"]
        case .cell: ["cellid", "cgi", "celda", "firstcgi", "cell", "firstcell", "firstcellid", "cellglobalid"]
        case .imei: ["imei"]
        case .imsi: ["imsi"]
        case .answered: ["answered", "contestada", "atendida", "answer"]
        }
    }

    /// Fields a row cannot do without.
    public static let required: [CDRField] = [.start, .caller, .callee]
}

/// Which column holds which field.
public struct CDRColumns: Sendable, Equatable {
    public var index: [CDRField: Int] = [:]
    public var header: [String] = []
    public init() {}

    public subscript(_ f: CDRField) -> Int? { index[f] }

    /// Fields required but absent.
    public var missing: [CDRField] { CDRField.required.filter { index[$0] == nil } }

    /// Normalises a header name for alias matching.
    public static func normalise(_ name: String) -> String {
        var out = ""
        for ch in name.lowercased() {
            switch ch {
            case " ", "_", "-", ".", "\u{FEFF}", "\"", "'", "(", ")", "/": continue
            case "á", "à", "ä", "â": out.append("a")
            case "é", "è", "ë", "ê": out.append("e")
            case "í", "ì", "ï", "î": out.append("i")
            case "ó", "ò", "ö", "ô": out.append("o")
            case "ú", "ù", "ü", "û": out.append("u")
            case "ñ": out.append("n")
            default: out.append(ch)
            }
        }
        return out
    }

    /// Maps a header row by the aliases; the first matching column wins.
    public static func detect(header: [String]) -> CDRColumns {
        var c = CDRColumns()
        c.header = header
        let names = header.map(normalise)
        for field in CDRField.allCases {
            for alias in field.aliases {
                if let i = names.firstIndex(of: alias), !c.index.values.contains(i) {
                    c.index[field] = i
                    break
                }
            }
        }
        return c
    }
}
