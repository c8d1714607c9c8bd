/// Thresholds of the `tower-surge` detector.
public struct TowerSurgeConfig: Sendable, Hashable {
    /// Calls in an hour before a surge is possible.
    public var minCalls = 40
    /// Robust z-score (against the median and MAD of the baseline) of a surging hour.
    public var minZ = 6.0
    /// And at least this many times the baseline median.
    public var minRatio = 3.0
    /// Different lines calling in a surging hour (one busy line is not a surge).
    public var minLines = 10
    /// Days of the same hour of day needed as the baseline: daily rhythms (a business opening at
    /// nine) make a baseline of the preceding hours misleading, so shorter dumps are not judged.
    public var minBaselineDays = 2
    /// Hours of history kept per tower.
    public var historyHours = 24 * 14
    public var criticalScore = 0.85
    public init() {}
}

/// `tower-surge`: a prison-linked tower's hourly call volume far above its own robust baseline
/// (the median and MAD of the same hour of day over up to 14 earlier days; a dump must span
/// `minBaselineDays` before an hour is judged), from many lines at once, as when jammers are
/// switched off or phones are smuggled in. Entity `tower`; the window is the surge
/// (consecutive surging hours).
public struct TowerSurgeDetector: Detector {
    public let config: TowerSurgeConfig
    public var name: String { "tower-surge" }

    struct State {
        /// Calls per hour by absolute hour index.
        var hours: [Int64: Int] = [:]
        /// Distinct calling lines of the hours not yet judged (bounded by `minLines`).
        var lines: [Int64: Set<Party>] = [:]
        var cell: CellID
        var site: UInt32
        var firstHour: Int64
        var judgedThrough: Int64
        /// The surge in progress: first hour, last hour, peak, baseline, z, refs.
        var surge: (first: Int64, last: Int64, peak: Int, baseline: Double, z: Double, detected: EventTime)?
        var surgeRefs: [SourceRef] = []
        var surgeCalls = 0
        var refs: [Int64: [SourceRef]] = [:]
    }

    private var towers: [CellID: State] = [:]

    public init(config: TowerSurgeConfig = .init()) { self.config = config }
    public func makeShard() -> TowerSurgeDetector { TowerSurgeDetector(config: config) }
    public var keyCount: Int { towers.count }

    public func routingKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        r.isPrisonLinked ? r.cell.stableHash : nil
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        let hour = r.start / CivilTime.hour
        // In place, through a static function: a copy of the state, or a call on `self` while
        // `towers` is open, would copy the dictionaries on every call.
        Self.count(
            r, hour: hour, minLines: config.minLines,
            into: &towers[r.cell, default: State(cell: r.cell, site: r.site, firstHour: hour, judgedThrough: hour - 1)])
    }

    private static func count(_ r: CallRecord, hour: Int64, minLines: Int, into s: inout State) {
        s.hours[hour, default: 0] += 1
        // Late for an hour already judged: counted in the history only.
        if hour <= s.judgedThrough { return }
        if s.lines[hour, default: []].count < minLines { s.lines[hour, default: []].insert(r.caller) }
        if s.refs[hour, default: []].count < Alert.maxEvidence { s.refs[hour, default: []].append(r.source) }
    }

    /// Median and MAD.
    static func robust(_ xs: [Double]) -> (median: Double, mad: Double) {
        guard !xs.isEmpty else { return (0, 0) }
        let sorted = xs.sorted()
        let m =
            sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let dev = sorted.map { abs($0 - m) }.sorted()
        let mad = dev.count % 2 == 1 ? dev[dev.count / 2] : (dev[dev.count / 2 - 1] + dev[dev.count / 2]) / 2
        return (m, mad)
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {
        // Judge every complete hour before the watermark.
        let through = watermark == .max ? Int64.max : watermark / CivilTime.hour - 1
        // Out of `self` while judging, so the calls on `self` below do not share (and copy) it.
        var all = towers
        towers = [:]
        for cell in all.keys.sorted() {
            advance(
                &all.values[all.index(forKey: cell)!], through: through, final: watermark == .max, context: context,
                output: &output)
        }
        towers = all
    }

    private func advance(
        _ s: inout State, through: Int64, final: Bool, context: DetectorContext, output: inout DetectorOutput
    ) {
        let last = min(through, (s.hours.keys.max() ?? s.judgedThrough))
        var h = s.judgedThrough + 1
        while h <= last {
            judge(&s, hour: h, context: context, output: &output)
            h += 1
        }
        if final, let surge = s.surge { emit(&s, surge, context: context, output: &output) }
        s.judgedThrough = max(s.judgedThrough, last)
        // Forget history beyond what baselines need, and the judged hours' lines and refs (in
        // place, so a tick that judges nothing allocates nothing).
        let keepFrom = s.judgedThrough - Int64(config.historyHours)
        if s.hours.count > config.historyHours + 48 { s.hours = s.hours.filter { $0.key >= keepFrom } }
        let judged = s.judgedThrough
        for k in s.refs.keys.filter({ $0 <= judged }) { s.refs.removeValue(forKey: k) }
        for k in s.lines.keys.filter({ $0 <= judged }) { s.lines.removeValue(forKey: k) }
    }

    private func baseline(_ s: State, hour h: Int64) -> [Double]? {
        let days = (h - s.firstHour) / 24
        guard days >= Int64(max(1, config.minBaselineDays)) else { return nil }
        // The same hour of day on earlier days.
        return (1...min(days, 14)).map { Double(s.hours[h - 24 * $0] ?? 0) }
    }

    private func judge(_ s: inout State, hour h: Int64, context: DetectorContext, output: inout DetectorOutput) {
        let x = s.hours[h] ?? 0
        guard let base = baseline(s, hour: h) else { return }
        let (median, mad) = Self.robust(base)
        let spread = max(1.4826 * mad, median.squareRoot(), 1)
        let z = (Double(x) - median) / spread
        let surging =
            x >= config.minCalls && z >= config.minZ && Double(x) >= config.minRatio * max(median, 1)
            && (s.lines[h]?.count ?? 0) >= config.minLines
        if surging {
            if var surge = s.surge {
                surge.last = h
                if x > surge.peak { surge.peak = x }
                surge.z = max(surge.z, z)
                s.surge = surge
            } else {
                s.surge = (h, h, x, median, z, (h + 1) * CivilTime.hour)
                s.surgeRefs = []
                s.surgeCalls = 0
            }
            s.surgeCalls += x
            for r in s.refs[h] ?? [] where s.surgeRefs.count < Alert.maxEvidence { s.surgeRefs.append(r) }
        } else if let surge = s.surge {
            emit(&s, surge, context: context, output: &output)
        }
    }

    private func emit(
        _ s: inout State,
        _ surge: (first: Int64, last: Int64, peak: Int, baseline: Double, z: Double, detected: EventTime),
        context: DetectorContext, output: inout DetectorOutput
    ) {
        s.surge = nil
        let link = context.sites.links(ofSite: s.site).first
        let hours = Int(surge.last - surge.first + 1)
        let ratio = Double(surge.peak) / max(surge.baseline, 1)
        let strength =
            0.5 * min(1, surge.z / (2 * config.minZ)) + 0.3 * min(1, ratio / (3 * config.minRatio))
            + 0.2 * min(1, Double(hours) / 4)
        let (score, severity) = Scoring.linked(
            strength: strength, confidence: link?.confidence ?? 0, critical: config.criticalScore)
        var reasons = [
            "\(surge.peak) calls in one hour on this tower against a usual \(Int(surge.baseline.rounded())) for that hour (robust z-score \(Int(surge.z.rounded())))",
            "the surge lasted \(hours) hour\(hours == 1 ? "" : "s") with \(s.surgeCalls) calls",
        ]
        if let link {
            let name = context.sites.prisons[link.prison].name
            reasons.append(
                link.edgeDistanceM <= 0
                    ? "the tower stands inside the perimeter of \(name)"
                    : "the tower is \(Int(link.edgeDistanceM.rounded())) m from \(name) and its coverage reaches it")
            reasons.append("a jammer switched off or phones smuggled in look like this")
        }
        output.alerts.append(
            Alert(
                detector: name, severity: severity, score: score, entity: .tower(s.cell),
                windowStart: surge.first * CivilTime.hour, windowEnd: (surge.last + 1) * CivilTime.hour,
                detectedAt: surge.detected,
                prison: link.map { AlertPrison(index: $0.prison, distanceM: $0.edgeDistanceM) },
                towers: [s.cell],
                metrics: [
                    ("peak_calls_per_hour", .int(surge.peak)), ("baseline", .number(surge.baseline)),
                    ("zscore", .number(surge.z)), ("surge_hours", .int(hours)), ("calls", .int(s.surgeCalls)),
                ],
                reasons: reasons, evidence: s.surgeRefs, evidenceTotal: s.surgeCalls, related: []))
    }
}
