/// Thresholds of the `sim-churn` detector.
public struct SimChurnConfig: Sendable, Hashable {
    public var window: EventTime = 24 * CivilTime.hour
    /// Distinct lines one handset uses on prison-linked towers (dual-SIM phones hold two).
    public var minLinesPerDevice = 3
    /// Distinct handsets one line moves across on prison-linked towers.
    public var minDevicesPerLine = 3
    public var cooldown: EventTime = 24 * CivilTime.hour
    public var criticalScore = 0.85
    public init() {}
}

/// `sim-churn`: one handset (IMEI) cycling through many lines on prison-linked towers within a
/// window (entity `device`), and one line moving across many handsets (entity `line`). Only
/// calls from towers that reach a prison count.
public struct SimChurnDetector: Detector {
    /// Which churn this instance watches.
    public enum Mode: Sendable { case device, line }

    public let config: SimChurnConfig
    public let mode: Mode
    public var name: String { "sim-churn" }

    struct State {
        /// The other side (line for a device, device for a line) by last use.
        var seen: [UInt64: (first: EventTime, last: EventTime, ref: SourceRef, cell: CellID, site: UInt32)] = [:]
        var lastSeen: EventTime = .min
        var suppression = Suppression()
    }

    private var states: [UInt64: State] = [:]
    private var sweep = SweepClock()

    public init(mode: Mode, config: SimChurnConfig = .init()) {
        self.mode = mode
        self.config = config
    }

    public func makeShard() -> SimChurnDetector { SimChurnDetector(mode: mode, config: config) }
    public var keyCount: Int { states.count }

    public func routingKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        guard r.imei != 0, !r.caller.isNone, r.isPrisonLinked else { return nil }
        return mode == .device ? r.imei : r.caller.raw
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        let key = mode == .device ? r.imei : r.caller.raw
        let other = mode == .device ? r.caller.raw : r.imei
        var s = states.removeValue(forKey: key) ?? State()
        s.lastSeen = max(s.lastSeen, r.start)
        let now = s.lastSeen
        if var v = s.seen[other] {
            v.last = max(v.last, r.start)
            s.seen[other] = v
        } else {
            s.seen[other] = (r.start, r.start, r.source, r.cell, r.site)
        }
        let from = now - config.window
        if s.seen.count > (mode == .device ? config.minLinesPerDevice : config.minDevicesPerLine) * 4 {
            s.seen = s.seen.filter { $0.value.last > from }
        }
        let threshold = mode == .device ? config.minLinesPerDevice : config.minDevicesPerLine
        // Counted first: the active map is built only when it may alert.
        var activeCount = 0
        for v in s.seen.values where v.last > from { activeCount += 1 }
        if activeCount >= threshold, !r.flags.contains(.late) {
            emit(key, s.seen.filter { $0.value.last > from }, now: now, state: &s, context: context, output: &output)
        }
        states[key] = s
    }

    private func emit(
        _ key: UInt64,
        _ active: [UInt64: (first: EventTime, last: EventTime, ref: SourceRef, cell: CellID, site: UInt32)],
        now: EventTime, state s: inout State, context: DetectorContext, output: inout DetectorOutput
    ) {
        let threshold = mode == .device ? config.minLinesPerDevice : config.minDevicesPerLine
        let n = active.count
        let ordered = active.sorted { ($0.value.first, $0.key) < ($1.value.first, $1.key) }
        let place = PlaceSummary(ordered.lazy.map { ($0.value.site, $0.value.cell) }, sites: context.sites)
        let strength = min(1, Double(n) / Double(2 * threshold))
        let (score, severity) = Scoring.linked(
            strength: strength, confidence: place.confidence, critical: config.criticalScore)
        guard s.suppression.allow(severity, at: now, cooldown: config.cooldown) else { return }
        let hours = config.window / CivilTime.hour
        let prisonName = place.prison.map { context.sites.prisons[$0].name } ?? "a prison"
        let reasons =
            mode == .device
            ? [
                "one handset (IMEI \(key)) used \(n) different lines within \(hours) hours on towers reaching \(prisonName)",
                "prepaid SIMs rotated through one phone, as extortion rings do after lines are blocked",
            ]
            : [
                "this line was used in \(n) different handsets within \(hours) hours on towers reaching \(prisonName)",
                "one SIM passed between phones",
            ]
        let entity: Entity = mode == .device ? .device(key) : .line(Party(raw: key))
        let related: [Entity] = ordered.map { mode == .device ? .line(Party(raw: $0.key)) : .device($0.key) }
        output.alerts.append(
            Alert(
                detector: name, severity: severity, score: score, entity: entity, windowStart: now - config.window,
                windowEnd: now, detectedAt: now,
                prison: place.prison.map { AlertPrison(index: $0, distanceM: place.distanceM) }, towers: place.towers,
                metrics: [
                    (mode == .device ? "lines" : "devices", .int(n)), ("window_hours", .int(Int(hours))),
                    ("proximity_confidence", .number(place.confidence)),
                ],
                reasons: reasons, evidence: ordered.prefix(Alert.maxEvidence).map(\.value.ref), evidenceTotal: n,
                related: related))
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {
        guard sweep.due(at: watermark, every: CivilTime.hour) else { return }
        let idle = SweepClock.idle(watermark, after: config.window)
        let cooldown = config.cooldown
        states.evict { s in !(s.lastSeen > idle || s.suppression.active(at: watermark, cooldown: cooldown)) }
    }
}

/// Thresholds of the `watchlist` detector.
public struct WatchlistConfig: Sendable, Hashable {
    public var cooldown: EventTime = 6 * CivilTime.hour
    public init() {}
}

/// `watchlist`: any call from or to a known extortion number (`--watchlist`) is flagged, one
/// alert per number while its calls go on (again after the cooldown). Entity `line` for the
/// watched number; `related` is the other party.
public struct WatchlistDetector: Detector {
    public let config: WatchlistConfig
    public var name: String { "watchlist" }
    private var suppression: [Party: Suppression] = [:]

    public init(config: WatchlistConfig = .init()) { self.config = config }
    public func makeShard() -> WatchlistDetector { WatchlistDetector(config: config) }
    public var keyCount: Int { suppression.count }

    public func routingKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        context.watchlist.contains(r.caller) ? r.caller.raw : nil
    }

    public func secondaryKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        context.watchlist.contains(r.callee) ? r.callee.raw : nil
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        let watched = role == .primary ? r.caller : r.callee
        let other = role == .primary ? r.callee : r.caller
        let link = context.prisonLink(r)
        let severity: Severity = link != nil ? .critical : .high
        guard suppression[watched, default: Suppression()].allow(severity, at: r.start, cooldown: config.cooldown)
        else {
            return
        }
        var reasons = [
            role == .primary
                ? "a number on the watchlist of known extortion numbers placed a call"
                : "a call was placed to a number on the watchlist of known extortion numbers"
        ]
        if let link { reasons.append("the call used a tower reaching \(context.sites.prisons[link.prison].name)") }
        output.alerts.append(
            Alert(
                detector: name, severity: severity, score: link != nil ? 1 : 0.9, entity: .line(watched),
                windowStart: r.start, windowEnd: r.start, detectedAt: r.start,
                prison: link.map { AlertPrison(index: $0.prison, distanceM: $0.edgeDistanceM) },
                towers: r.cell.isNone ? [] : [r.cell], metrics: [("calls", .int(1))], reasons: reasons,
                evidence: [r.source], evidenceTotal: 1, related: [role == .primary ? .victim(other) : .line(other)]))
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {}
}
