public import CeldaCore

/// Parsing helpers for small numeric fields.
enum FieldParse {
    /// A decimal number such as `-99.7487472` or `1e3` (no allocation).
    static func double(_ p: UnsafeRawBufferPointer) -> Double? {
        var s = 0
        var e = p.count
        while s < e, p[s] == 0x20 || p[s] == 0x22 { s += 1 }
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x22 || p[e - 1] == 0x0D { e -= 1 }
        guard s < e else { return nil }
        var i = s
        var negative = false
        if p[i] == 0x2D || p[i] == 0x2B {
            negative = p[i] == 0x2D
            i += 1
        }
        var mantissa: UInt64 = 0
        var scale = 0
        var digits = 0
        while i < e, p[i] &- 0x30 < 10 {
            if digits < 18 {
                mantissa = mantissa * 10 + UInt64(p[i] &- 0x30)
                digits += 1
            } else {
                scale -= 1
            }
            i += 1
        }
        if i < e, p[i] == 0x2E {
            i += 1
            while i < e, p[i] &- 0x30 < 10 {
                if digits < 18 {
                    mantissa = mantissa * 10 + UInt64(p[i] &- 0x30)
                    digits += 1
                    scale += 1
                }
                i += 1
            }
        }
        guard digits > 0 else { return nil }
        var exp = 0
        if i < e, p[i] | 0x20 == 0x65 {
            i += 1
            var expNeg = false
            if i < e, p[i] == 0x2D || p[i] == 0x2B {
                expNeg = p[i] == 0x2D
                i += 1
            }
            var any = false
            while i < e, p[i] &- 0x30 < 10 {
                exp = exp * 10 + Int(p[i] &- 0x30)
                any = true
                i += 1
                if exp > 400 { return nil }
            }
            guard any else { return nil }
            if expNeg { exp = -exp }
        }
        guard i == e else { return nil }
        var v = Double(mantissa)
        let power = exp - scale
        if power > 0 {
            for _ in 0..<power { v *= 10 }
        } else if power < 0 {
            var d = 1.0
            for _ in 0..<(-power) { d *= 10 }
            v /= d
        }
        return negative ? -v : v
    }

    static func uint(_ p: UnsafeRawBufferPointer) -> UInt64? {
        var v: UInt64 = 0
        var n = 0
        for b in p {
            let d = b &- 0x30
            if d < 10 {
                n += 1
                if n > 19 { return nil }
                v = v &* 10 &+ UInt64(d)
            } else if b == 0x20 || b == 0x22 || b == 0x0D {
                continue
            } else {
                return nil
            }
        }
        return n > 0 ? v : nil
    }
}

/// Reads every row of a CSV reference file (towers, prisons) with its header names.
enum ReferenceCSV {
    static func read(
        path: String, _ body: (_ header: [String], _ row: RowReader.Row) throws(InputError) -> Void
    ) throws(InputError) {
        let (opened, kind, _) = try InputOpener.open(path)
        if kind == .pcap || kind == .pcapng {
            throw InputError(.unsupported, path: path, "is a packet capture, not a CSV file")
        }
        var header: [String]?
        var failure: InputError?
        let handler: (inout RowReader.Row) -> Bool = { row in
            if !row.malformed, row.fields.count == 1, row.fields[0].start == row.fields[0].end { return true }
            if header == nil {
                header = row.fields.map { CDRColumns.normalise(CSVScanner.text($0, in: row.buffer)) }
                return true
            }
            do throws(InputError) {
                try body(header!, row)
            } catch {
                failure = error
                return false
            }
            return true
        }
        switch opened {
        case .mapped(let file): RowReader().read(mapped: file, handler)
        case .stream(var source, _):
            defer { source.close() }
            try RowReader().read(stream: &source, handler)
        }
        if let failure { throw failure }
        if header == nil { throw InputError(.badHeader, path: path, "is empty: no header row") }
    }

    static func field(_ row: RowReader.Row, _ i: Int?) -> UnsafeRawBufferPointer {
        guard let i, i < row.fields.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let f = row.fields[i]
        return UnsafeRawBufferPointer(rebasing: row.buffer[f.start..<f.end])
    }
}

/// A tower file that was read: the towers and what could not be used.
public struct TowerLoad: Sendable {
    public var towers: [Tower] = []
    public var rows = 0
    public var rejected = 0
    /// The first few problems, `FILE:LINE: reason`.
    public var problems: [String] = []
    public init() {}
}

/// Tower files: OpenCellID / Mozilla Location Service CSV
/// (`radio,mcc,net,area,cell,unit,lon,lat,range,…`, lon before lat, MNC without leading zeros).
public enum TowerFile {
    public static func load(path: String) throws(InputError) -> TowerLoad {
        var load = TowerLoad()
        var cols: (mcc: Int?, net: Int?, area: Int?, cell: Int?, lon: Int?, lat: Int?, range: Int?, azimuth: Int?)?
        try ReferenceCSV.read(path: path) { (header, row) throws(InputError) in
            if cols == nil {
                func idx(_ names: String...) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
                cols = (
                    idx("mcc"), idx("net", "mnc"), idx("area", "lac", "tac"), idx("cell", "ci", "cellid", "eci"),
                    idx("lon", "longitude", "longitud"), idx("lat", "latitude", "latitud"), idx("range", "rangem"),
                    idx("azimuth", "azimut")
                )
                guard cols!.mcc != nil, cols!.net != nil, cols!.area != nil, cols!.cell != nil, cols!.lon != nil,
                    cols!.lat != nil
                else {
                    throw InputError(
                        .badHeader, path: path,
                        "is not an OpenCellID tower file: expected columns radio,mcc,net,area,cell,unit,lon,lat,range (found: \(header.joined(separator: ",")))"
                    )
                }
            }
            let c = cols!
            load.rows += 1
            func bad(_ why: String) {
                load.rejected += 1
                if load.problems.count < 10 { load.problems.append("\(path):\(row.line): \(why)") }
            }
            guard !row.malformed else { return bad("unterminated quoted field") }
            guard let mcc = FieldParse.uint(ReferenceCSV.field(row, c.mcc)), mcc > 0, mcc <= 999,
                let net = FieldParse.uint(ReferenceCSV.field(row, c.net)), net <= 999,
                let area = FieldParse.uint(ReferenceCSV.field(row, c.area)), area <= 0xFF_FFFF,
                let cell = FieldParse.uint(ReferenceCSV.field(row, c.cell))
            else { return bad("mcc, net, area or cell is not a number in range") }
            guard let lon = FieldParse.double(ReferenceCSV.field(row, c.lon)),
                let lat = FieldParse.double(ReferenceCSV.field(row, c.lat))
            else { return bad("lat/lon is not a number") }
            let point = GeoPoint(lat: lat, lon: lon)
            guard point.isValid else { return bad("lat/lon out of range") }
            let range = c.range.flatMap { FieldParse.double(ReferenceCSV.field(row, $0)) }
            let azimuth = c.azimuth.flatMap { FieldParse.double(ReferenceCSV.field(row, $0)) }
            load.towers.append(
                Tower(
                    cell: CellID(mcc: UInt32(mcc), mnc: UInt32(net), lac: UInt32(area), ci: cell), location: point,
                    rangeM: range, azimuth: azimuth))
        }
        return load
    }
}

/// Prison lists: CSV `id,name,lat,lon,radius_m` (optional `state`, `source`, extra columns allowed).
public enum PrisonFile {
    /// Parses a prison list; any bad row is an error naming its line (the list is configuration).
    public static func load(path: String) throws(InputError) -> [Prison] {
        var prisons: [Prison] = []
        try ReferenceCSV.read(path: path) { (header, row) throws(InputError) in
            try prisons.append(parse(header: header, row: row, path: path))
        }
        return prisons
    }

    /// Parses prison CSV text (the built-in list).
    public static func parse(text: String, path: String) throws(InputError) -> [Prison] {
        var prisons: [Prison] = []
        var header: [String]?
        var failure: InputError?
        var t = text
        t.withUTF8 { utf8 in
            let buf = UnsafeRawBufferPointer(utf8)
            var fields: [FieldSpan] = []
            var pos = 0
            var line = 1
            let scanner = CSVScanner()
            while pos < buf.count, failure == nil {
                guard case .row(let next, let newlines) = scanner.scan(buf, from: pos, eof: true, fields: &fields)
                else {
                    failure = InputError(.corrupt, path: path, "line \(line): unterminated quoted field")
                    break
                }
                if !(fields.count == 1 && fields[0].start == fields[0].end) {
                    if header == nil {
                        header = fields.map { CDRColumns.normalise(CSVScanner.text($0, in: buf)) }
                    } else {
                        let row = RowReader.Row(
                            buffer: buf, fields: fields, offset: pos, line: line, rawRange: pos..<next, malformed: false
                        )
                        do throws(InputError) {
                            try prisons.append(parse(header: header!, row: row, path: path))
                        } catch { failure = error }
                    }
                }
                line += newlines
                pos = next
            }
        }
        if let failure { throw failure }
        return prisons
    }

    static func parse(header: [String], row: RowReader.Row, path: String) throws(InputError) -> Prison {
        func idx(_ names: String...) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
        guard let iid = idx("id"), let iname = idx("name", "nombre"), let ilat = idx("lat", "latitude", "latitud"),
            let ilon = idx("lon", "longitude", "longitud", "lng")
        else {
            throw InputError(
                .badHeader, path: path,
                "is not a prison list: expected columns id,name,lat,lon,radius_m (found: \(header.joined(separator: ",")))"
            )
        }
        if row.malformed { throw InputError(.corrupt, path: path, "line \(row.line): unterminated quoted field") }
        func text(_ i: Int?) -> String {
            guard let i, i < row.fields.count else { return "" }
            return CSVScanner.text(row.fields[i], in: row.buffer)
        }
        let id = text(iid)
        guard !id.isEmpty else { throw InputError(.corrupt, path: path, "line \(row.line): prison id is empty") }
        guard let lat = FieldParse.double(ReferenceCSV.field(row, ilat)),
            let lon = FieldParse.double(ReferenceCSV.field(row, ilon)), GeoPoint(lat: lat, lon: lon).isValid
        else {
            throw InputError(
                .corrupt, path: path, "line \(row.line): lat/lon of prison '\(id)' is not a valid coordinate")
        }
        var radius = 1_000.0
        if let ir = idx("radiusm", "radius", "radio") {
            let f = ReferenceCSV.field(row, ir)
            if !f.isEmpty {
                guard let r = FieldParse.double(f), r >= 0 else {
                    throw InputError(
                        .corrupt, path: path, "line \(row.line): radius_m of prison '\(id)' is not a number")
                }
                radius = r
            }
        }
        return Prison(
            id: id, name: text(iname), location: GeoPoint(lat: lat, lon: lon), radiusM: radius,
            state: text(idx("state", "estado")),
            source: text(idx("source", "fuente")))
    }
}
