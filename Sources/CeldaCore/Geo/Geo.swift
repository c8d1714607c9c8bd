public import RealModule

/// A WGS84 position in degrees.
@frozen
public struct GeoPoint: Hashable, Sendable {
    public var lat: Double
    public var lon: Double
    @inlinable public init(lat: Double, lon: Double) {
        self.lat = lat
        self.lon = lon
    }

    /// Whether the coordinates are finite and within WGS84 bounds.
    @inlinable public var isValid: Bool {
        lat.isFinite && lon.isFinite && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
    }
}

/// Great-circle geometry on a sphere of the mean Earth radius.
public enum Geo {
    /// Mean Earth radius in metres (IUGG).
    public static let earthRadius: Double = 6_371_008.8

    @inlinable static func radians(_ deg: Double) -> Double { deg * Double.pi / 180 }

    /// Haversine distance in metres.
    @inlinable
    public static func distance(_ a: GeoPoint, _ b: GeoPoint) -> Double {
        let dLat = radians(b.lat - a.lat)
        let dLon = radians(b.lon - a.lon)
        let s1 = Double.sin(dLat / 2)
        let s2 = Double.sin(dLon / 2)
        let h = s1 * s1 + Double.cos(radians(a.lat)) * Double.cos(radians(b.lat)) * s2 * s2
        return 2 * earthRadius * Double.asin(Swift.min(1, h.squareRoot()))
    }

    /// Initial bearing from `a` to `b` in degrees clockwise from north, 0..<360.
    @inlinable
    public static func bearing(_ a: GeoPoint, _ b: GeoPoint) -> Double {
        let φ1 = radians(a.lat)
        let φ2 = radians(b.lat)
        let dλ = radians(b.lon - a.lon)
        let y = Double.sin(dλ) * Double.cos(φ2)
        let x = Double.cos(φ1) * Double.sin(φ2) - Double.sin(φ1) * Double.cos(φ2) * Double.cos(dλ)
        let deg = Double.atan2(y: y, x: x) * 180 / Double.pi
        return deg < 0 ? deg + 360 : deg
    }
}

/// A known prison: a circle around a point (`radiusM` covers the compound and the coordinate's
/// uncertainty), or polygons (an OpenStreetMap outline), in which case `location` is their
/// centroid and `radiusM` the distance to the farthest vertex.
public struct Prison: Sendable, Hashable {
    public var id: String
    public var name: String
    public var location: GeoPoint
    public var radiusM: Double
    public var state: String
    public var source: String
    /// Polygons, each an outer ring followed by holes; empty for a circle.
    public var polygons: [[[GeoPoint]]]

    public init(
        id: String, name: String, location: GeoPoint, radiusM: Double, state: String = "", source: String = "",
        polygons: [[[GeoPoint]]] = []
    ) {
        self.id = id
        self.name = name
        self.location = location
        self.radiusM = radiusM
        self.state = state
        self.source = source
        self.polygons = polygons
    }

    /// A prison outlined by polygons.
    public init(id: String, name: String, polygons: [[[GeoPoint]]], state: String = "", source: String = "") {
        let outer = polygons.compactMap(\.first).flatMap { $0 }
        let n = Double(max(1, outer.count))
        let c = GeoPoint(lat: outer.reduce(0) { $0 + $1.lat } / n, lon: outer.reduce(0) { $0 + $1.lon } / n)
        let r = outer.map { Geo.distance(c, $0) }.max() ?? 0
        self.init(id: id, name: name, location: c, radiusM: r, state: state, source: source, polygons: polygons)
    }

    /// Distance in metres from a point to the prison's area (0 inside).
    public func distanceToArea(from p: GeoPoint) -> Double {
        guard !polygons.isEmpty else { return Swift.max(0, Geo.distance(p, location) - radiusM) }
        // Local equirectangular projection around the point (accurate at prison scale).
        let k = Double.cos(p.lat * Double.pi / 180)
        func xy(_ q: GeoPoint) -> (Double, Double) {
            (
                (q.lon - p.lon) * k * Double.pi / 180 * Geo.earthRadius,
                (q.lat - p.lat) * Double.pi / 180 * Geo.earthRadius
            )
        }
        var best = Double.infinity
        for polygon in polygons {
            var inside = false
            for (ri, ring) in polygon.enumerated() {
                let pts = ring.map(xy)
                guard pts.count >= 3 else { continue }
                var crossing = false
                var j = pts.count - 1
                for i in 0..<pts.count {
                    let (xi, yi) = pts[i]
                    let (xj, yj) = pts[j]
                    if (yi > 0) != (yj > 0), 0 < (xj - xi) * (0 - yi) / (yj - yi) + xi { crossing.toggle() }
                    // Distance from the origin (the point) to segment i-j.
                    let dx = xj - xi
                    let dy = yj - yi
                    let len2 = dx * dx + dy * dy
                    let t = len2 > 0 ? Swift.min(1, Swift.max(0, -(xi * dx + yi * dy) / len2)) : 0
                    let ex = xi + t * dx
                    let ey = yi + t * dy
                    best = Swift.min(best, (ex * ex + ey * ey).squareRoot())
                    j = i
                }
                if ri == 0 { inside = crossing } else if crossing { inside = false }
            }
            if inside { return 0 }
        }
        return best
    }
}

/// A cell tower (or sector) and its coverage.
public struct Tower: Sendable, Hashable {
    public var cell: CellID
    public var location: GeoPoint
    /// Coverage radius in metres (spec §3 default 1,000 m when the source does not say).
    public var rangeM: Double
    /// Sector azimuth in degrees, `nil` for an omnidirectional site.
    public var azimuth: Double?
    /// Sector beamwidth in degrees (spec §3 default 120° when an azimuth is given).
    public var beamwidth: Double

    public init(cell: CellID, location: GeoPoint, rangeM: Double?, azimuth: Double? = nil, beamwidth: Double? = nil) {
        self.cell = cell
        self.location = location
        self.rangeM = (rangeM ?? 0) > 0 ? rangeM! : Coverage.defaultRangeM
        self.azimuth = azimuth
        self.beamwidth = (beamwidth ?? 0) > 0 ? beamwidth! : Coverage.defaultBeamwidth
    }
}

/// A tower's tie to one prison, computed once per tower.
public struct PrisonLink: Sendable, Hashable {
    /// Index of the prison in the run's prison list.
    public var prison: Int
    /// Distance from the tower to the prison's edge in metres, 0 when the tower is inside.
    public var edgeDistanceM: Double
    /// Proximity confidence 0...1 (see ``Coverage/confidence(edgeDistanceM:rangeM:)``).
    public var confidence: Double
}

/// Coverage rules of spec/inputs.md §3.
public enum Coverage {
    public static let defaultRangeM: Double = 1_000
    public static let defaultBeamwidth: Double = 120

    /// Whether `tower`'s coverage overlaps the prison circle, and how.
    public static func link(_ tower: Tower, _ prison: Prison, index: Int) -> PrisonLink? {
        let d = Geo.distance(tower.location, prison.location)
        let edge = prison.distanceToArea(from: tower.location)
        guard edge <= tower.rangeM else { return nil }
        if let az = tower.azimuth, edge > 0, d > 0 {
            // A sector reaches the circle when the bearing to the prison centre is within the half
            // beamwidth widened by the angle the circle subtends.
            let bearing = Geo.bearing(tower.location, prison.location)
            var delta = abs(bearing - az).truncatingRemainder(dividingBy: 360)
            if delta > 180 { delta = 360 - delta }
            let subtended = prison.radiusM >= d ? 180 : Double.asin(prison.radiusM / d) * 180 / Double.pi
            guard delta <= tower.beamwidth / 2 + subtended else { return nil }
        }
        return PrisonLink(
            prison: index, edgeDistanceM: edge, confidence: confidence(edgeDistanceM: edge, rangeM: tower.rangeM))
    }

    /// Proximity confidence: 1 inside the prison circle, falling linearly with the distance to the
    /// prison's edge as a share of the tower's range, never below 0.05 while the tower still
    /// reaches the prison.
    public static func confidence(edgeDistanceM: Double, rangeM: Double) -> Double {
        if edgeDistanceM <= 0 { return 1 }
        return Swift.min(1, Swift.max(0.05, 1 - edgeDistanceM / Swift.max(rangeM, 1)))
    }
}

/// Every known tower, placed against the prisons once.
///
/// A cell maps to a site index by one hash lookup; only towers that reach a prison carry links.
/// Towers carried inline by a dump are added with ``add(_:)`` during the locate stage (before any
/// detector reads them), so the table is shared read-only by the detectors.
public final class SiteTable: @unchecked Sendable {
    public let prisons: [Prison]
    @exclusivity(unchecked) public private(set) var towers: [Tower] = []
    /// Links of tower `i`: `links[linkStart[i]..<linkStart[i + 1]]`, nearest prison first.
    @exclusivity(unchecked) public private(set) var links: [PrisonLink] = []
    @exclusivity(unchecked) var linkStart: [UInt32] = [0]
    @exclusivity(unchecked) @usableFromInline var index = CellMap()
    /// Bumped by every ``add(_:)``: a reader on another thread takes a ``snapshot()`` when it changes.
    public private(set) var version = 0

    /// Builds the table.
    ///
    /// - Complexity: O(towers × prisons) distance checks behind a cheap latitude prefilter.
    public init(towers: [Tower], prisons: [Prison]) {
        self.prisons = prisons
        index = CellMap(capacity: towers.count)
        self.towers.reserveCapacity(towers.count)
        linkStart.reserveCapacity(towers.count + 1)
        for t in towers { _ = add(t) }
    }

    /// Adds a tower unless its cell is known; returns its site index.
    @discardableResult
    public func add(_ t: Tower) -> UInt32 {
        if let existing = index.get(t.cell) { return existing }
        version += 1
        let site = UInt32(towers.count)
        index.insert(t.cell, site: site)
        towers.append(t)
        var found = [PrisonLink]()
        for (i, p) in prisons.enumerated() {
            let latGap = abs(t.location.lat - p.location.lat) * 111_000
            if latGap > t.rangeM + p.radiusM + 1_000 { continue }
            if let l = Coverage.link(t, p, index: i) { found.append(l) }
        }
        found.sort { ($0.edgeDistanceM, $0.prison) < ($1.edgeDistanceM, $1.prison) }
        links.append(contentsOf: found)
        linkStart.append(UInt32(links.count))
        return site
    }

    private init(copying o: SiteTable) {
        prisons = o.prisons
        towers = o.towers
        links = o.links
        linkStart = o.linkStart
        index = o.index
        version = o.version
    }

    /// A copy that later ``add(_:)`` calls on this table do not touch (for detector threads).
    public func snapshot() -> SiteTable { SiteTable(copying: self) }

    /// Whether a cell is known.
    public func contains(_ cell: CellID) -> Bool { index.get(cell) != nil }

    /// The tower of a cell, if known.
    public func tower(of cell: CellID) -> Tower? { index.get(cell).map { towers[Int($0)] } }

    /// The site index of a cell, or ``CallRecord/unlocated``.
    @inlinable public func site(of cell: CellID) -> UInt32 {
        if cell.isNone { return CallRecord.unlocated }
        return lookup(cell)
    }

    @inlinable func lookup(_ cell: CellID) -> UInt32 { index.get(cell) ?? CallRecord.unlocated }

    /// The prison links of a site, nearest first (empty for unlocated sites).
    public func links(ofSite site: UInt32) -> ArraySlice<PrisonLink> {
        guard site != CallRecord.unlocated, Int(site) < towers.count else { return [] }
        return links[Int(linkStart[Int(site)])..<Int(linkStart[Int(site) + 1])]
    }

    /// Places a record: its site, and whether that site reaches a prison (a flag the detectors
    /// read instead of asking the table again).
    @inlinable public func locate(_ r: inout CallRecord) {
        r.site = site(of: r.cell)
        if reachesPrison(r.site) { r.flags.insert(.prisonLinked) } else { r.flags.remove(.prisonLinked) }
    }

    /// Whether a site reaches any prison.
    @inlinable public func reachesPrison(_ site: UInt32) -> Bool {
        site != CallRecord.unlocated && linkCount(site) > 0
    }

    @usableFromInline func linkCount(_ site: UInt32) -> Int {
        Int(site) < towers.count ? Int(linkStart[Int(site) + 1] - linkStart[Int(site)]) : 0
    }

    /// Number of sites that reach at least one prison.
    public var prisonSiteCount: Int {
        (0..<towers.count).reduce(0) { $0 + (linkStart[$1 + 1] > linkStart[$1] ? 1 : 0) }
    }
}

/// Site indices by cell: one open-addressing array of (cell, site) with linear probing, found
/// by one multiply-xorshift of the cell. It replaces a `Dictionary`, whose lookup (its bucket
/// bitmap, the `Hashable` calls) cost about 240 instructions on every record's serial path.
/// ``CellID/none`` (MCC 0) marks an empty slot; a tower with no cell is kept aside.
@usableFromInline struct CellMap: Sendable {
    @usableFromInline struct Slot: Sendable {
        @usableFromInline var cell: CellID
        @usableFromInline var site: UInt32
    }

    @usableFromInline var slots: [Slot]
    @usableFromInline var mask: Int
    @usableFromInline var noneSite: UInt32?
    @usableFromInline private(set) var count = 0

    init(capacity: Int = 0) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(cell: .none, site: 0), count: size)
        mask = size - 1
    }

    @inlinable @inline(__always) static func home(_ c: CellID, mask: Int) -> Int {
        let x = (UInt64(c.plmn) << 32 | UInt64(c.lac)) &* 0x9E37_79B9_7F4A_7C15 ^ c.ci &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: x ^ x >> 29) & mask
    }

    /// The site of a cell, if known.
    @inlinable func get(_ c: CellID) -> UInt32? {
        if c.isNone { return noneSite }
        return slots.withUnsafeBufferPointer { s in
            var i = Self.home(c, mask: mask)
            while true {
                let k = s[i].cell
                if k == c { return s[i].site }
                if k.isNone { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Sets the site of a cell not yet in the map.
    mutating func insert(_ c: CellID, site: UInt32) {
        if c.isNone {
            noneSite = site
            return
        }
        if (count + 1) * 2 > slots.count { grow() }
        place(c, site)
        count += 1
    }

    private mutating func place(_ c: CellID, _ site: UInt32) {
        var i = Self.home(c, mask: mask)
        while !slots[i].cell.isNone { i = (i + 1) & mask }
        slots[i] = Slot(cell: c, site: site)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(cell: .none, site: 0), count: old.count * 2)
        mask = slots.count - 1
        for s in old where !s.cell.isNone { place(s.cell, s.site) }
    }
}
