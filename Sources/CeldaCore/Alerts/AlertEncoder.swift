/// Writes alerts as `celda.alert.v1` JSON lines (spec/alerts.md): keys in the spec's order,
/// UTF-8, one object per line.
public struct AlertEncoder {
    public let prisons: [Prison]

    public init(prisons: [Prison]) { self.prisons = prisons }

    /// The entity id string the spec prescribes.
    public static func entityID(_ e: Entity, resolver: some AlertResolver) -> String {
        switch e {
        case .line(let p), .victim(let p): resolver.name(of: p)
        case .device(let d): String(d)
        case .tower(let c): resolver.towerName(c)
        case .prisonPair(let s): s
        }
    }

    /// One alert as a JSON line (with the trailing `\n`).
    public func encode(_ a: Alert, resolver: some AlertResolver) -> [UInt8] {
        var o = JSONWriter()
        o.raw("{\"schema\":\"celda.alert.v1\",\"id\":")
        o.string(a.id)
        o.raw(",\"detector\":")
        o.string(a.detector)
        o.raw(",\"severity\":")
        o.string(a.severity.name)
        o.raw(",\"score\":")
        o.number(Self.round(a.score, 2))
        o.raw(",\"entity\":")
        entity(a.entity, &o, resolver)
        o.raw(",\"window\":{\"start\":")
        o.string(CivilTime.format(a.windowStart))
        o.raw(",\"end\":")
        o.string(CivilTime.format(a.windowEnd))
        o.raw("},\"detected_at\":")
        o.string(CivilTime.format(a.detectedAt))
        o.raw(",\"prison\":")
        if let p = a.prison, p.index < prisons.count {
            o.raw("{\"id\":")
            o.string(prisons[p.index].id)
            o.raw(",\"name\":")
            o.string(prisons[p.index].name)
            o.raw(",\"distance_m\":")
            o.int(Int(p.distanceM.rounded()))
            o.raw("}")
        } else {
            o.raw("null")
        }
        o.raw(",\"towers\":[")
        for (i, t) in a.towers.prefix(Alert.maxTowers).enumerated() {
            if i > 0 { o.raw(",") }
            o.string(resolver.towerName(t))
        }
        o.raw("],\"metrics\":{")
        for (i, (k, v)) in a.metrics.enumerated() {
            if i > 0 { o.raw(",") }
            o.string(k)
            o.raw(":")
            switch v {
            case .int(let x): o.int(x)
            case .number(let x): o.number(Self.round(x, 3))
            }
        }
        o.raw("},\"reasons\":[")
        for (i, r) in a.reasons.enumerated() {
            if i > 0 { o.raw(",") }
            o.string(r)
        }
        o.raw("],\"evidence\":{\"call_ids\":[")
        for (i, ref) in a.evidence.prefix(Alert.maxEvidence).enumerated() {
            if i > 0 { o.raw(",") }
            o.string(resolver.callID(of: ref))
        }
        o.raw("],\"total\":")
        o.int(a.evidenceTotal)
        o.raw("},\"related\":[")
        for (i, e) in a.related.enumerated() {
            if i > 0 { o.raw(",") }
            entity(e, &o, resolver)
        }
        o.raw("]}\n")
        return o.bytes
    }

    private func entity(_ e: Entity, _ o: inout JSONWriter, _ resolver: some AlertResolver) {
        o.raw("{\"kind\":")
        o.string(e.kind)
        o.raw(",\"id\":")
        o.string(Self.entityID(e, resolver: resolver))
        o.raw("}")
    }

    /// Rounds to `places` decimals (half away from zero).
    public static func round(_ x: Double, _ places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (x * scale).rounded() / scale
    }
}

/// A minimal JSON text builder (deterministic, no Foundation).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(1024) }

    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func rawText(_ s: String) { bytes.append(contentsOf: s.utf8) }

    public mutating func int(_ x: Int) { bytes.append(contentsOf: String(x).utf8) }

    /// A finite number in its shortest round-trip form; integral values print without a fraction.
    public mutating func number(_ x: Double) {
        guard x.isFinite else {
            raw("null")
            return
        }
        if x == x.rounded(), abs(x) < 1e15 {
            int(Int(x))
        } else {
            bytes.append(contentsOf: x.description.utf8)
        }
    }

    public mutating func string(_ s: String) {
        bytes.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }
}
