public import CeldaCore

/// Semantic fields of a CDR row (spec/inputs.md §1).
public enum CDRField: String, CaseIterable, Sendable {
    case callID = "call_id"
    /// One timestamp column (date and time).
    case start = "start_time"
    /// A date column (with `time`), or a date-and-time column.
    case date
    /// A time-of-day column (with `date`).
    case time
    case answerTime = "answer_time"
    case end = "end_time"
    /// Talk time in seconds (answer to hang-up).
    case duration = "duration_s"
    case caller
    case callee
    case callType = "call_type"
    case answered
    case disposition
    /// A dashed CGI `MCC-MNC-LAC-CI`, or a carrier site code.
    case cell = "cell_id"
    case mcc, mnc, lac, ci
    case latitude, longitude, azimuth
    case imei, imsi
    /// IMS charging id (`P-Charging-Vector icid-value`): legs of one call share it.
    case icid

    /// Header names recognised for the field, normalised (lowercase, no accents, spaces,
    /// underscores, dashes, dots or slashes). Earlier names win when several columns match.
    public var aliases: [String] {
        switch self {
        case .callID:
            ["callid", "id", "uniqueid", "uuid", "cdrid", "idllamada", "recordid", "idregistro", "folio", "idcdr"]
        case .start:
            [
                "starttime", "start", "startdate", "datetime", "timestamp", "fechahora", "fechayhora",
                "fechahorainicio",
                "inicio", "startingdate", "setuptime", "seizuretime", "startstamp", "calldate", "fechainicio",
            ]
        case .date: ["fecha", "date", "fechallamada", "dia", "fechadellamada"]
        case .time: ["hora", "time", "horallamada", "horainicio", "hour", "horadellamada"]
        case .answerTime: ["answertime", "answer", "answerstamp", "horacontestacion"]
        case .end: ["endtime", "end", "endstamp", "fin", "fechafin", "horafin"]
        case .duration:
            [
                "durations", "billsec", "talktime", "durationsec", "duracions", "duracionseg", "duracionsegundos",
                "duration",
                "duracion", "dur", "durs", "tiempo", "segundos", "duracionllamada",
            ]
        case .caller:
            [
                "caller", "anumber", "callingnumber", "msisdn", "numeroa", "origen", "callingparty", "callerid",
                "calleridnumber", "src", "source", "from", "aparty", "callernumber", "calling", "telefonoorigen",
                "numeroorigen", "lineaorigen", "targetno", "abonadoa", "telefonoa", "numerotelefonico", "linea",
            ]
        case .callee:
            [
                "callee", "bnumber", "callednumber", "numerob", "destino", "calledparty", "dst", "destination", "to",
                "bparty", "bpartyno", "destinationnumber", "called", "telefonodestino", "numerodestino", "abonadob",
                "telefonob",
            ]
        case .callType:
            [
                "calltype", "tipo", "tipollamada", "tipodellamada", "direction", "direccion", "typeofcall", "toc",
                "tipoevento", "tipocomunicacion", "sentido", "servicio", "tipodeevento",
            ]
        case .answered: ["answered", "contestada", "atendida"]
        case .disposition: ["disposition", "estado", "status", "resultado", "hangupcause", "causa"]
        case .cell:
            [
                "cellid", "cgi", "celda", "firstcgi", "cell", "firstcell", "firstcellid", "cellglobalid",
                "celdainicial",
                "celdaorigen", "idcelda", "cellidinicial", "radiobase", "sitio", "site", "cgiinicial", "ecgi",
            ]
        case .mcc: ["mcc"]
        case .mnc: ["mnc", "net"]
        case .lac: ["lac", "tac", "area"]
        case .ci: ["ci", "eci", "cellidentity"]
        case .latitude: ["latitud", "latitude", "lat", "latitudcelda", "latitudinicial", "latinicial"]
        case .longitude: ["longitud", "longitude", "lon", "lng", "long", "longitudcelda", "longitudinicial"]
        case .azimuth: ["azimuth", "azimut", "azimutcelda", "orientacion"]
        case .icid: ["icid", "icidvalue", "imschargingid", "chargingid"]
        case .imei: ["imei", "imeia"]
        case .imsi: ["imsi", "imsia"]
        }
    }
}

/// Which column holds which field, how a file is split and how its values are read.
public struct CDRLayout: Sendable, Equatable {
    /// `header` (columns named in a header row), a built-in headerless layout name, or `mapping`.
    public var name = "header"
    public var columns: [CDRField: Int] = [:]
    /// Header names (or the built-in layout's column names).
    public var header: [String] = []
    public var hasHeader = true
    /// Lines before the header (report titles).
    public var skipLines = 0
    public var delimiter: UInt8 = 0x2C
    public var encoding = TextEncoding.utf8
    public var dateOrder = DateOrder.dayFirst
    /// Cell numbers in hexadecimal (dashed CGI parts or separate columns).
    public var cellHex = false
    /// Extra call-type words (uppercased) by class, from a mapping.
    public var callTypes: [String: CallClass] = [:]

    public init() {}

    public subscript(_ f: CDRField) -> Int? {
        get { columns[f] }
        set { columns[f] = newValue }
    }

    /// Whether the fields a row cannot do without are mapped: caller, callee, and a start time
    /// (one column, a date and time pair, or a date-and-time column).
    public var missing: [String] {
        var m: [String] = []
        if columns[.start] == nil && columns[.date] == nil { m.append("start_time (or date and time)") }
        if columns[.caller] == nil { m.append("caller") }
        if columns[.callee] == nil { m.append("callee") }
        return m
    }

    /// Normalises a header name for alias matching.
    public static func normalise(_ name: String) -> String {
        var out = ""
        for ch in name.lowercased() {
            switch ch {
            case " ", "_", "-", ".", "\u{FEFF}", "\"", "'", "(", ")", "/", ":", "#", "\t": continue
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

    /// Maps a header row by the aliases.
    public static func detect(header: [String]) -> CDRLayout {
        var c = CDRLayout()
        c.header = header
        let names = header.map(normalise)
        var taken = Set<Int>()
        for field in CDRField.allCases {
            for alias in field.aliases {
                if let i = names.firstIndex(of: alias), !taken.contains(i) {
                    c.columns[field] = i
                    taken.insert(i)
                    break
                }
            }
        }
        return c
    }

    /// How many fields a header row maps (to choose the header among title lines).
    var score: Int { columns.count }

    // MARK: built-in headerless layouts

    /// Built-in layouts for files without a header row.
    public static let builtIn: [String: CDRLayout] = {
        var out: [String: CDRLayout] = [:]
        func make(_ name: String, _ cols: [String], _ map: [CDRField: String]) -> CDRLayout {
            var l = CDRLayout()
            l.name = name
            l.header = cols
            l.hasHeader = false
            l.dateOrder = .dayFirst
            for (f, col) in map { l.columns[f] = cols.firstIndex(of: col)! }
            return l
        }
        let classic = [
            "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
            "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
        ]
        let asteriskMap: [CDRField: String] = [
            .caller: "src", .callee: "dst", .start: "start", .answerTime: "answer", .end: "end", .duration: "billsec",
            .disposition: "disposition", .callID: "uniqueid",
        ]
        out["asterisk"] = make("asterisk", classic, asteriskMap)
        out["asterisk-21"] = make("asterisk-21", classic + ["peeraccount", "linkedid", "sequence"], asteriskMap)
        let custom = [
            "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer", "end",
            "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "sequence",
        ]
        out["asterisk-custom"] = make("asterisk-custom", custom, asteriskMap)
        let fs = [
            "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
            "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
            "write_codec",
        ]
        out["freeswitch"] = make(
            "freeswitch", fs,
            [
                .caller: "caller_id_number", .callee: "destination_number", .start: "start_stamp",
                .answerTime: "answer_stamp", .end: "end_stamp", .duration: "billsec", .callID: "uuid",
            ])
        return out
    }()

    /// Names of the built-in layouts.
    public static var layoutNames: [String] { ["header"] + builtIn.keys.sorted() }

    /// The built-in headerless layout whose shape fits a first row, if any.
    public static func guessHeaderless(fieldCount: Int, startText: (Int) -> String) -> CDRLayout? {
        let candidates: [String] =
            switch fieldCount {
            case 18: ["asterisk"]
            case 21: ["asterisk-21"]
            case 19: ["asterisk-custom"]
            case 15: ["freeswitch"]
            default: []
            }
        for name in candidates {
            guard let l = builtIn[name], let s = l.columns[.start] else { continue }
            var text = startText(s)
            let ok = text.withUTF8 { CivilTime.parseWritten(UnsafeRawBufferPointer($0)) != nil }
            if ok { return l }
        }
        return nil
    }
}

/// Text encodings of CSV exports.
public enum TextEncoding: String, Sendable, Hashable {
    case utf8 = "utf-8"
    /// Windows-1252 (a superset of Latin-1's printable range), common in Spanish exports.
    case windows1252 = "windows-1252"

    /// Decodes bytes to text.
    public func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        switch self {
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        case .windows1252:
            var scalars = String.UnicodeScalarView()
            for b in bytes { scalars.append(Self.cp1252(b)) }
            return String(scalars)
        }
    }

    static let high: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ]

    static func cp1252(_ b: UInt8) -> Unicode.Scalar {
        if b >= 0x80 && b < 0xA0 { return Unicode.Scalar(high[Int(b - 0x80)])! }
        return Unicode.Scalar(b)
    }

    /// Whether bytes are valid UTF-8 (a cut multi-byte sequence at the very end is allowed).
    public static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            let len: Int
            if b < 0x80 {
                i += 1
                continue
            } else if b & 0xE0 == 0xC0, b >= 0xC2 {
                len = 2
            } else if b & 0xF0 == 0xE0 {
                len = 3
            } else if b & 0xF8 == 0xF0, b <= 0xF4 {
                len = 4
            } else {
                return false
            }
            if i + len > n { return true }
            for k in 1..<len where bytes[i + k] & 0xC0 != 0x80 { return false }
            i += len
        }
        return true
    }
}

/// What kind of event a call-type value names.
public enum CallClass: String, Sendable, Hashable {
    case outgoing, incoming, sms, data, forwarded, other

    /// Recognises a call-type value (case and accents ignored).
    public static func classify(_ text: String) -> CallClass? {
        let t = CDRLayout.normalise(text)
        switch t {
        case "saliente", "sal", "s", "mo", "moc", "out", "outgoing", "originating", "orig", "o", "vozsaliente",
            "llamadasaliente", "salida", "voiceout", "movoice", "outbound", "voz", "voice", "llamada", "call",
            "originada", "vozmo":
            return .outgoing
        case "entrante", "ent", "e", "mt", "mtc", "in", "incoming", "terminating", "term", "i", "vozentrante",
            "llamadaentrante", "entrada", "voicein", "mtvoice", "inbound", "terminada", "vozmt", "recibida":
            return .incoming
        case "sms", "smo", "smt", "smssaliente", "smsentrante", "mensaje", "msg", "mosms", "mtsms", "smsmo", "smsmt",
            "mensajesaliente", "mensajeentrante", "mms":
            return .sms
        case "datos", "data", "gprs", "internet", "ps", "sesiondedatos", "datosmoviles", "lte", "apn":
            return .data
        case "desvio", "cfw", "forward", "forwarded", "transferida", "desviada", "callforward":
            return .forwarded
        default: return nil
        }
    }
}
