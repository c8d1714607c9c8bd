/// What an alert is about (spec/alerts.md `entity`).
public enum Entity: Hashable, Sendable {
    case line(Party)
    case victim(Party)
    case device(UInt64)
    case tower(CellID)
    case prisonPair(String)

    /// The spec's `kind` string.
    public var kind: String {
        switch self {
        case .line: "line"
        case .victim: "victim"
        case .device: "device"
        case .tower: "tower"
        case .prisonPair: "prison-pair"
        }
    }

    /// A stable 64-bit identity (for alert ids).
    public var stableHash: UInt64 {
        switch self {
        case .line(let p): StableHash.combine(1, p.raw)
        case .victim(let p): StableHash.combine(2, p.raw)
        case .device(let d): StableHash.combine(3, d)
        case .tower(let c): StableHash.combine(4, c.stableHash)
        case .prisonPair(let s): StableHash.combine(5, StableHash.string(s))
        }
    }
}

/// Alert severity, ordered.
public enum Severity: Int, Comparable, Sendable, CaseIterable, BitwiseCopyable {
    case low, medium, high, critical
    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
    public var name: String {
        switch self {
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        case .critical: "critical"
        }
    }
}

/// A metric value: integers print as integers.
public enum MetricValue: Sendable, Equatable {
    case int(Int)
    case number(Double)
}

/// The prison an alert is tied to.
public struct AlertPrison: Sendable, Equatable {
    public var index: Int
    public var distanceM: Double
    public init(index: Int, distanceM: Double) {
        self.index = index
        self.distanceM = distanceM
    }
}

/// One alert as a detector emits it: integers and references, turned into the spec's JSON by
/// ``AlertEncoder`` once names and call ids are resolved.
public struct Alert: Sendable {
    public var detector: String
    public var severity: Severity
    /// 0...1.
    public var score: Double
    public var entity: Entity
    public var windowStart: EventTime
    public var windowEnd: EventTime
    public var detectedAt: EventTime
    public var prison: AlertPrison?
    /// Cells, most used first (at most 16).
    public var towers: [CellID]
    /// Metrics by name, in the order written.
    public var metrics: [(String, MetricValue)]
    public var reasons: [String]
    /// Up to 50 evidence rows, earliest first.
    public var evidence: [SourceRef]
    public var evidenceTotal: Int
    public var related: [Entity]

    public init(
        detector: String, severity: Severity, score: Double, entity: Entity, windowStart: EventTime,
        windowEnd: EventTime, detectedAt: EventTime, prison: AlertPrison?, towers: [CellID],
        metrics: [(String, MetricValue)], reasons: [String], evidence: [SourceRef], evidenceTotal: Int,
        related: [Entity]
    ) {
        self.detector = detector
        self.severity = severity
        self.score = score
        self.entity = entity
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.detectedAt = detectedAt
        self.prison = prison
        self.towers = towers
        self.metrics = metrics
        self.reasons = reasons
        self.evidence = evidence
        self.evidenceTotal = evidenceTotal
        self.related = related
    }

    /// The stable id: a hash of detector, entity and window start.
    public var id: String {
        StableHash.hex(
            StableHash.combine(
                StableHash.combine(StableHash.string(detector), entity.stableHash), UInt64(bitPattern: windowStart)))
    }

    /// Maximum evidence ids per alert (spec).
    public static let maxEvidence = 50
    /// Maximum towers per alert (spec).
    public static let maxTowers = 16
}

/// Resolves what an alert refers to by reference: party names and evidence call ids.
public protocol AlertResolver {
    func name(of party: Party) -> String
    func callID(of ref: SourceRef) -> String
    /// The printable id of a tower (a CGI, or a carrier site code's text).
    func towerName(_ cell: CellID) -> String
}

extension AlertResolver {
    public func towerName(_ cell: CellID) -> String { cell.formatted }
}
