/// Every threshold and window of every detector, with the engine's disorder bound: what
/// `--config FILE` sets and `celda config --defaults` prints.
public struct DetectorSettings: Sendable, Hashable {
    public var maxDisorder: EventTime = 2 * CivilTime.hour
    public var burst = BurstConfig()
    public var sequential = SequentialConfig()
    public var victim = VictimConfig()
    public var towerSurge = TowerSurgeConfig()
    public var simChurn = SimChurnConfig()
    public var alliance = AllianceConfig()
    public var watchlist = WatchlistConfig()

    public init() {}

    /// One setting: its `section.key`, what it means, and where it lives.
    public struct Setting: @unchecked Sendable {
        public enum Slot: @unchecked Sendable {
            case duration(WritableKeyPath<DetectorSettings, EventTime>)
            case int(WritableKeyPath<DetectorSettings, Int>)
            case double(WritableKeyPath<DetectorSettings, Double>)
            case gap(WritableKeyPath<DetectorSettings, UInt64>)
        }
        public var key: String
        public var comment: String
        public var slot: Slot
        /// The values a whole-number setting may take (any `>= 0` when `nil`).
        public var range: ClosedRange<Int>? = nil
    }

    /// The catalogue, in the order `celda config --defaults` prints it.
    public static let catalogue: [Setting] = [
        .init(
            key: "engine.max_disorder",
            comment: "how far out of start-time order rows may arrive before they count as late",
            slot: .duration(\.maxDisorder)),
        .init(key: "burst.window", comment: "sliding window of a line's calls", slot: .duration(\.burst.window)),
        .init(
            key: "burst.min_calls",
            comment: "calls in the window before the rule can hold (an inmate operator places about 30 an hour)",
            slot: .int(\.burst.minCalls)),
        .init(
            key: "burst.min_distinct_callees", comment: "different numbers called in the window",
            slot: .int(\.burst.minDistinctCallees)),
        .init(
            key: "burst.min_distinct_share",
            comment: "different numbers as a share of calls (a dispatcher calls the same few drivers)",
            slot: .double(\.burst.minDistinctShare)),
        .init(
            key: "burst.short_call_seconds", comment: "a call shorter than this is short; unanswered calls are short",
            slot: .int(\.burst.shortCallSeconds)),
        .init(key: "burst.min_short_share", comment: "share of short calls", slot: .double(\.burst.minShortShare)),
        .init(
            key: "burst.max_answer_ratio",
            comment: "highest answered share (a call centre's calls are mostly answered)",
            slot: .double(\.burst.maxAnswerRatio)),
        .init(
            key: "burst.max_reciprocity",
            comment: "highest share of callees who call the line back (customers of a business do)",
            slot: .double(\.burst.maxReciprocity)),
        .init(
            key: "burst.min_prison_share",
            comment: "share of calls on prison-reaching towers for the burst to be tied to a prison",
            slot: .double(\.burst.minPrisonShare)),
        .init(
            key: "burst.slow_window", comment: "low-and-slow: long window over a line's prison-linked calls",
            slot: .duration(\.burst.slowWindow)),
        .init(
            key: "burst.slow_min_calls", comment: "low-and-slow: calls in the long window",
            slot: .int(\.burst.slowMinCalls)),
        .init(
            key: "burst.slow_min_distinct", comment: "low-and-slow: different numbers in the long window",
            slot: .int(\.burst.slowMinDistinct)),
        .init(
            key: "burst.new_line_age", comment: "a line first seen less than this before it bursts counts as a new SIM",
            slot: .duration(\.burst.newLineAge)),
        .init(
            key: "burst.cooldown", comment: "no repeat alert for a line within this time unless it escalates",
            slot: .duration(\.burst.cooldown)),
        .init(
            key: "burst.critical_score", comment: "score from which a prison-linked burst is critical",
            slot: .double(\.burst.criticalScore)),
        .init(
            key: "sequential.window", comment: "sliding window of a line's calls", slot: .duration(\.sequential.window)),
        .init(
            key: "sequential.min_run", comment: "numbers in one run of consecutive or nearly consecutive numbers",
            slot: .int(\.sequential.minRun)),
        .init(
            key: "sequential.max_gap", comment: "largest step between two numbers of a run",
            slot: .gap(\.sequential.maxGap)),
        .init(
            key: "sequential.min_prison_share",
            comment: "share of calls on prison-reaching towers to tie the line to a prison",
            slot: .double(\.sequential.minPrisonShare)),
        .init(
            key: "sequential.cooldown", comment: "no repeat alert within this time unless it escalates",
            slot: .duration(\.sequential.cooldown)),
        .init(
            key: "sequential.critical_score", comment: "score from which a prison-linked alert is critical",
            slot: .double(\.sequential.criticalScore)),
        .init(
            key: "victim.window", comment: "window over which a number's prison-linked callers are counted",
            slot: .duration(\.victim.window)),
        .init(
            key: "victim.min_lines", comment: "different prison-linked lines calling one number",
            slot: .int(\.victim.minLines)),
        .init(
            key: "victim.min_repeat", comment: "or calls from one prison-linked line", slot: .int(\.victim.minRepeat)),
        .init(
            key: "victim.min_repeat_unanswered_share",
            comment: "of which this share unanswered (a victim who stopped picking up)",
            slot: .double(\.victim.minRepeatUnansweredShare)),
        .init(
            key: "victim.max_callers",
            comment: "a number called by more lines than this is popular (a radio call-in line), not a victim",
            slot: .int(\.victim.maxCallers)),
        .init(
            key: "victim.min_prison_caller_share", comment: "prison-linked lines as a share of all its callers",
            slot: .double(\.victim.minPrisonCallerShare)),
        .init(
            key: "victim.cooldown", comment: "no repeat alert within this time unless it escalates",
            slot: .duration(\.victim.cooldown)),
        .init(
            key: "victim.critical_score", comment: "score from which the alert is critical",
            slot: .double(\.victim.criticalScore)),
        .init(
            key: "victim.pair_sketch_mib",
            comment:
                "MiB of the sketch of who usually calls whom, for virtual kidnappings (one per run; about 2.5 MiB per million rows keeps false matches under one in a million)",
            slot: .int(\.victim.pairSketchMiB), range: 1...8_192),
        .init(
            key: "victim.kidnap_max_chance",
            comment: "a kidnapping's family matches must be at most this likely from the sketch's false matches",
            slot: .double(\.victim.kidnapMaxChance)),
        .init(
            key: "tower_surge.min_calls", comment: "calls in an hour before a surge is possible",
            slot: .int(\.towerSurge.minCalls)),
        .init(
            key: "tower_surge.min_z", comment: "robust z-score of a surging hour against the tower's baseline",
            slot: .double(\.towerSurge.minZ)),
        .init(
            key: "tower_surge.min_ratio", comment: "and at least this many times the baseline median",
            slot: .double(\.towerSurge.minRatio)),
        .init(
            key: "tower_surge.min_lines",
            comment: "different lines calling in a surging hour (one busy line is not a surge)",
            slot: .int(\.towerSurge.minLines)),
        .init(
            key: "tower_surge.min_baseline_days",
            comment:
                "days of the same hour of day needed as the baseline (daily rhythms make shorter histories misleading)",
            slot: .int(\.towerSurge.minBaselineDays)),
        .init(
            key: "tower_surge.history_hours", comment: "hours of history kept per tower",
            slot: .int(\.towerSurge.historyHours)),
        .init(
            key: "tower_surge.critical_score", comment: "score from which the alert is critical",
            slot: .double(\.towerSurge.criticalScore)),
        .init(
            key: "sim_churn.window", comment: "window over which lines per handset and handsets per line are counted",
            slot: .duration(\.simChurn.window)),
        .init(
            key: "sim_churn.min_lines_per_device",
            comment: "different lines in one handset on prison-linked towers (dual-SIM phones hold two)",
            slot: .int(\.simChurn.minLinesPerDevice)),
        .init(
            key: "sim_churn.min_devices_per_line",
            comment: "different handsets one line moves across on prison-linked towers",
            slot: .int(\.simChurn.minDevicesPerLine)),
        .init(
            key: "sim_churn.cooldown", comment: "no repeat alert within this time unless it escalates",
            slot: .duration(\.simChurn.cooldown)),
        .init(
            key: "sim_churn.critical_score", comment: "score from which the alert is critical",
            slot: .double(\.simChurn.criticalScore)),
        .init(
            key: "alliance.min_shared_victims", comment: "numbers called by lines of both prisons",
            slot: .int(\.alliance.minSharedVictims)),
        .init(
            key: "alliance.critical_score", comment: "score from which the alert is critical",
            slot: .double(\.alliance.criticalScore)),
        .init(
            key: "watchlist.cooldown", comment: "one alert per watched number within this time",
            slot: .duration(\.watchlist.cooldown)),
    ]

    /// A duration as text: `90m`, `2h`, `45s`.
    public static func durationText(_ m: EventTime) -> String {
        if m % CivilTime.hour == 0 { return "\(m / CivilTime.hour)h" }
        if m % CivilTime.minute == 0 { return "\(m / CivilTime.minute)m" }
        return "\(m / CivilTime.second)s"
    }

    /// Parses `90m`, `2h`, `45s`, `1d` or plain seconds.
    public static func parseDuration(_ text: String) -> EventTime? {
        var t = Substring(text.lowercased())
        var unit: EventTime = CivilTime.second
        switch t.last {
        case "s": unit = CivilTime.second
        case "m": unit = CivilTime.minute
        case "h": unit = CivilTime.hour
        case "d": unit = 24 * CivilTime.hour
        default: unit = 0
        }
        if unit != 0 { t = t.dropLast() } else { unit = CivilTime.second }
        guard let v = Double(t), v >= 0, v.isFinite, v < 1e9 else { return nil }
        return EventTime(v * Double(unit))
    }

    /// The value of a setting as TOML text.
    public func text(of s: Setting) -> String {
        switch s.slot {
        case .duration(let k): "\"\(Self.durationText(self[keyPath: k]))\""
        case .int(let k): String(self[keyPath: k])
        case .double(let k): self[keyPath: k].description
        case .gap(let k): String(self[keyPath: k])
        }
    }

    /// The whole configuration as commented TOML.
    public func rendered() -> String {
        var out = "# celda detector configuration: pass with `celda analyze --config FILE`; any key may be left out.\n"
        var section = ""
        for s in Self.catalogue {
            let parts = s.key.split(separator: ".", maxSplits: 1)
            if parts[0] != section {
                section = String(parts[0])
                out += "\n[\(section)]\n"
            }
            out += "\(parts[1]) = \(text(of: s))  # \(s.comment)\n"
        }
        return out
    }

    /// Canonical text of the effective settings (hashed into `config_sha256`).
    public var canonical: String { Self.catalogue.map { "\($0.key)=\(text(of: $0))" }.joined(separator: "\n") }
}
