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
        path: String, _ body: (_ header: [String], _ row: Row) throws(InputError) -> Void
    ) throws(InputError) {
        let (opened, kind, _) = try InputOpener.open(path)
        if kind == .pcap || kind == .pcapng {
            throw InputError(.unsupported, path: path, "is a packet capture, not a CSV file")
        }
        let cursor = RowCursor.make(opened)
        let head = try cursor.peek(16 * 1024)
        cursor.scanner.delimiter = DumpReader.sniffDelimiter(head)
        let encoding = TextEncoding.isValidUTF8(head) ? TextEncoding.utf8 : .windows1252
        var header: [String]?
        while try cursor.next() {
            let row = cursor.row
            if row.isBlank { continue }
            if header == nil {
                header = row.fields.map { f in
                    CDRLayout.normalise(
                        f.quoted
                            ? CSVScanner.text(f, in: row.buffer)
                            : encoding.decode(UnsafeRawBufferPointer(rebasing: row.buffer[f.start..<f.end])))
                }
                continue
            }
            try body(header!, row)
        }
        if header == nil { throw InputError(.badHeader, path: path, "is empty: no header row") }
    }

    static func field(_ row: Row, _ i: Int?) -> UnsafeRawBufferPointer {
        guard let i else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return row.field(i)
    }
}

/// A tower file that was read: the towers and what could not be used.
public struct TowerLoad: Sendable {
    public var towers: [Tower] = []
    public var rows = 0
    public var rejected = 0
    /// The first few problems, `FILE:LINE: reason`.
    public var problems: [String] = []
    /// Names of towers given by site code.
    public var siteNames = SiteNames()
    public init() {}
}

/// Tower files: OpenCellID / Mozilla Location Service CSV
/// (`radio,mcc,net,area,cell,unit,lon,lat,range,…`, lon before lat, MNC without leading zeros),
/// or a carrier's site list (a cell id — dashed CGI or site code — with lat, lon and optionally
/// azimuth, beamwidth and range).
public enum TowerFile {
    public static func load(path: String) throws(InputError) -> TowerLoad {
        var load = TowerLoad()
        var layout: Layout?
        try ReferenceCSV.read(path: path) { (header, row) throws(InputError) in
            if layout == nil { layout = try Layout(header: header, path: path) }
            let c = layout!
            load.rows += 1
            func bad(_ why: String) {
                load.rejected += 1
                if load.problems.count < 10 { load.problems.append("\(path):\(row.line): \(why)") }
            }
            guard !row.malformed else { return bad("unterminated quoted field") }
            let cell: CellID
            if let ci = c.cellText {
                let text = row.field(ci)
                if let parsed = CellID.parseDashed(text) ?? CellID.parseDashed(text, hex: true) {
                    cell = parsed
                } else if !CDRDecoder.isBlank(text) {
                    cell = load.siteNames.intern(TextEncoding.utf8.decode(CDRDecoder.trimmed(text)))
                } else {
                    return bad("cell id is empty")
                }
            } else {
                guard let mcc = FieldParse.uint(ReferenceCSV.field(row, c.mcc)), mcc > 0, mcc <= 999,
                    let net = FieldParse.uint(ReferenceCSV.field(row, c.net)), net <= 999,
                    let area = FieldParse.uint(ReferenceCSV.field(row, c.area)), area <= 0xFF_FFFF,
                    let ci = FieldParse.uint(ReferenceCSV.field(row, c.cell))
                else { return bad("mcc, net, area or cell is not a number in range") }
                cell = CellID(mcc: UInt32(mcc), mnc: UInt32(net), lac: UInt32(area), ci: ci)
            }
            guard let lon = FieldParse.double(ReferenceCSV.field(row, c.lon)),
                let lat = FieldParse.double(ReferenceCSV.field(row, c.lat))
            else { return bad("lat/lon is not a number") }
            let point = GeoPoint(lat: lat, lon: lon)
            guard point.isValid else { return bad("lat/lon out of range") }
            let range = c.range.flatMap { FieldParse.double(row.field($0)) }
            let azimuth = c.azimuth.flatMap { FieldParse.double(row.field($0)) }
            let beam = c.beamwidth.flatMap { FieldParse.double(row.field($0)) }
            load.towers.append(Tower(cell: cell, location: point, rangeM: range, azimuth: azimuth, beamwidth: beam))
        }
        return load
    }

    struct Layout {
        var mcc, net, area, cell: Int?
        var cellText: Int?
        var lon, lat: Int?
        var range, azimuth, beamwidth: Int?

        init(header: [String], path: String) throws(InputError) {
            func idx(_ names: String...) -> Int? { names.lazy.compactMap { header.firstIndex(of: $0) }.first }
            mcc = idx("mcc")
            net = idx("net", "mnc")
            area = idx("area", "lac", "tac")
            cell = idx("cell", "ci", "eci")
            lon = idx("lon", "longitude", "longitud", "lng")
            lat = idx("lat", "latitude", "latitud")
            range = idx("range", "rangem", "radio", "alcance", "radius")
            azimuth = idx("azimuth", "azimut", "orientacion")
            beamwidth = idx("beamwidth", "apertura", "anchodehaz")
            if mcc == nil || net == nil || area == nil || cell == nil {
                cellText = idx(
                    "cellid", "cgi", "celda", "site", "sitio", "siteid", "idcelda", "ecgi", "cellglobalid", "cell")
                guard cellText != nil else {
                    throw InputError(
                        .badHeader, path: path,
                        "is not a tower file: expected OpenCellID columns radio,mcc,net,area,cell,unit,lon,lat,range or a site list with cell_id,lat,lon (found: \(header.joined(separator: ",")))"
                    )
                }
            }
            guard lon != nil, lat != nil else {
                throw InputError(
                    .badHeader, path: path, "has no lat/lon columns (found: \(header.joined(separator: ",")))")
            }
        }
    }
}

/// Prison lists: CSV `id,name,lat,lon,radius_m` (optional `state`, `source`, extra columns allowed).
public enum PrisonFile {
    /// Parses a prison list (CSV, or GeoJSON when the file starts with `{`); any bad row or
    /// feature is an error naming it (the list is configuration).
    public static func load(path: String) throws(InputError) -> [Prison] {
        if let bytes = try? readSmallFile(path),
            let first = bytes.first(where: { $0 > 0x20 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }),
            first == 0x7B
        {
            return try GeoJSONPrisons.parse(bytes, path: path)
        }
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
                        header = fields.map { CDRLayout.normalise(CSVScanner.text($0, in: buf)) }
                    } else {
                        let row = Row(
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

    static func parse(header: [String], row: Row, path: String) throws(InputError) -> Prison {
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

/// Reads a whole (small) file.
func readSmallFile(_ path: String) throws(InputError) -> [UInt8] {
    let (opened, _, _) = try InputOpener.open(path)
    switch opened {
    case .mapped(let file): return Array(file.bytes)
    case .stream(var source, _):
        defer { source.close() }
        var out: [UInt8] = []
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { buf.deallocate() }
        while true {
            let n = try source.read(into: buf)
            if n == 0 { break }
            out.append(contentsOf: buf.prefix(n))
            if out.count > 512 << 20 { throw InputError(.unsupported, path: path, "is larger than 512 MiB") }
        }
        return out
    }
}

/// Prison lists as GeoJSON, as an OpenStreetMap export of `amenity=prison` gives: Point features
/// (with a `radius_m` property, 1,000 m when absent), Polygon and MultiPolygon features. The id
/// comes from `properties.id`, `properties["@id"]` or the feature's `id`; the name from `name`.
public enum GeoJSONPrisons {
    public static func parse(_ bytes: [UInt8], path: String) throws(InputError) -> [Prison] {
        let root: JSONValue
        do { root = try MiniJSON.parse(bytes) } catch {
            throw InputError(.corrupt, path: path, "is not valid JSON: \(error)")
        }
        let features: [JSONValue]
        if root["type"]?.string == "FeatureCollection", let f = root["features"]?.array {
            features = f
        } else if root["type"]?.string == "Feature" {
            features = [root]
        } else {
            throw InputError(.badHeader, path: path, "is JSON but not a GeoJSON FeatureCollection")
        }
        var out: [Prison] = []
        for (n, f) in features.enumerated() {
            func bad(_ why: String) -> InputError { InputError(.corrupt, path: path, "feature \(n + 1): \(why)") }
            let props = f["properties"] ?? .object([])
            func text(_ v: JSONValue?) -> String? {
                switch v {
                case .string(let s)?: s
                case .number(let d)?: d == d.rounded() ? String(Int(d)) : String(d)
                default: nil
                }
            }
            guard let id = text(props["id"]) ?? text(props["@id"]) ?? text(f["id"]) ?? text(props["osm_id"]) else {
                throw bad("no id (properties.id, properties[\"@id\"] or id)")
            }
            let name = text(props["name"]) ?? text(props["nombre"]) ?? text(props["official_name"]) ?? id
            let state = text(props["state"]) ?? text(props["addr:state"]) ?? ""
            let source = text(props["source"]) ?? "GeoJSON \(path)"
            guard let geometry = f["geometry"], let type = geometry["type"]?.string,
                let coords = geometry["coordinates"]
            else { throw bad("no geometry") }
            func point(_ v: JSONValue) throws(InputError) -> GeoPoint {
                guard let a = v.array, a.count >= 2, let lon = a[0].number, let lat = a[1].number,
                    GeoPoint(lat: lat, lon: lon).isValid
                else { throw bad("a coordinate is not [lon, lat]") }
                return GeoPoint(lat: lat, lon: lon)
            }
            func polygon(_ v: JSONValue) throws(InputError) -> [[GeoPoint]] {
                guard let rings = v.array, !rings.isEmpty else { throw bad("a polygon has no rings") }
                var out: [[GeoPoint]] = []
                for r in rings {
                    guard let pts = r.array, pts.count >= 4 else {
                        throw bad("a polygon ring has fewer than 4 positions")
                    }
                    var ring: [GeoPoint] = []
                    for p in pts { ring.append(try point(p)) }
                    out.append(ring)
                }
                return out
            }
            switch type {
            case "Point":
                var radius = 1_000.0
                if let r = props["radius_m"] ?? props["radius"] {
                    guard let v = r.number ?? text(r).flatMap(Double.init), v >= 0 else {
                        throw bad("radius_m is not a number")
                    }
                    radius = v
                }
                out.append(
                    Prison(
                        id: id, name: name, location: try point(coords), radiusM: radius, state: state, source: source))
            case "Polygon":
                out.append(Prison(id: id, name: name, polygons: [try polygon(coords)], state: state, source: source))
            case "MultiPolygon":
                guard let polys = coords.array else { throw bad("MultiPolygon coordinates are not a list") }
                var all: [[[GeoPoint]]] = []
                for p in polys { all.append(try polygon(p)) }
                out.append(Prison(id: id, name: name, polygons: all, state: state, source: source))
            default:
                throw bad("geometry \(type) is not a Point, Polygon or MultiPolygon")
            }
        }
        return out
    }
}
