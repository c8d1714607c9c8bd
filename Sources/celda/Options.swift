import ArgumentParser
import CeldaCore
import CeldaIngest

/// A duration argument: `90m`, `2h`, `45s`, `1d`, or plain seconds.
struct Duration: ExpressibleByArgument, Sendable {
    var micros: EventTime

    init(micros: EventTime) { self.micros = micros }

    init?(argument: String) {
        guard let m = DetectorSettings.parseDuration(argument) else { return nil }
        micros = m
    }

    var defaultValueDescription: String { DetectorSettings.durationText(micros) }
}

/// The reference data and settings a run loads (shared by `analyze` and the Spark stages).
struct ReferenceOptions: ParsableArguments {
    @Option(help: "Tower file (OpenCellID CSV or a site list). Without it calls are unlocated.")
    var towers: String?

    @Option(help: "Prison list (CSV id,name,lat,lon,radius_m, or GeoJSON). Default: the built-in Mexico list.")
    var prisons: String?

    @Option(help: "Detector configuration (TOML); see `celda config --defaults`.")
    var config: String?

    @Option(help: "Numbers and prefixes never alerted on, one a line (+52551* for a prefix).")
    var allowlist: String?

    @Option(help: "Known extortion numbers, one a line: any call from or to one is flagged.")
    var watchlist: String?

    func load(reading: ReadingOptions) throws(ConfigError) -> ReferenceData {
        try ReferenceData.load(
            towers: towers, prisons: prisons, config: config, allowlist: allowlist, watchlist: watchlist,
            reading: reading)
    }
}

/// How dumps are read (shared by `analyze` and `columns`).
struct ReadingOptions: ParsableArguments {
    @Option(help: "Layout of headerless files: header (detect), asterisk, asterisk-21, asterisk-custom, freeswitch.")
    var layout: String?

    @Option(help: "Mapping file (TOML) naming columns, formats, time zone and call types; see `celda columns`.")
    var mapping: String?

    @Option(help: "Time zone of local times without an offset (IANA name, or UTC-6).")
    var timezone: String = "America/Mexico_City"

    @Option(name: .customLong("date-order"), help: "How DD/MM dates are read: dmy or mdy.")
    var dateOrderText: String = "dmy"

    var dateOrder: DateOrder { DateOrder(rawValue: dateOrderText) ?? .dayFirst }

    @Option(name: .customLong("country-code"), help: "Country calling code for national numbers.")
    var countryCode: UInt64 = 52

    func validate() throws {
        if countryCode < 1 || countryCode > 999 { throw ValidationError("--country-code must be 1 to 999") }
        if DateOrder(rawValue: dateOrderText) == nil { throw ValidationError("--date-order must be dmy or mdy") }
        if let layout, !CDRLayout.layoutNames.contains(layout) {
            throw ValidationError(
                "--layout '\(layout)' is not one of \(CDRLayout.layoutNames.joined(separator: ", "))")
        }
    }

    /// Loads the mapping and the time zone; errors are configuration errors.
    func readerOptions() throws(ConfigError) -> ReaderOptions {
        var o = ReaderOptions()
        var zoneName = timezone
        var country = countryCode
        if let path = mapping {
            do {
                let bytes = try FileSystemLite.read(path)
                let m = try CDRMapping.parse(String(decoding: bytes, as: UTF8.self), path: path)
                o.mapping = m
                if let z = m.timezone { zoneName = z }
                if let c = m.countryCode { country = c }
                if let d = m.dateOrder { o.dateOrder = d } else { o.dateOrder = dateOrder }
            } catch {
                throw ConfigError("--mapping \(error)")
            }
        } else {
            o.dateOrder = dateOrder
        }
        do { o.zone = try ZoneLoader.load(zoneName) } catch { throw ConfigError("--timezone: \(error.message)") }
        o.plan = NumberPlan(countryCode: country, nationalLength: 10)
        o.layoutName = layout
        return o
    }
}

/// `--shard K/N`: part K (from 0) of N.
struct ShardSpec: ExpressibleByArgument {
    var part: Int
    var parts: Int

    init?(argument: String) {
        let bits = argument.split(separator: "/")
        guard bits.count == 2, let k = Int(bits[0]), let n = Int(bits[1]), n >= 1, n <= 4096, k >= 0, k < n else {
            return nil
        }
        part = k
        parts = n
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// The reference data and settings of a run: prisons, towers, detector settings, lists and
/// reading options, loaded the same way for `analyze` and every `spark` stage. A problem is a
/// configuration error (the message names the flag).
struct ReferenceData {
    var settings: DetectorSettings
    var prisons: [Prison]
    /// `file:PATH`, or `built-in:` and the built-in list's SHA-256 (for the configuration hash).
    var prisonSource: String
    var towerLoad: TowerLoad
    var sites: SiteTable
    var allow: NumberList
    var watch: NumberList
    var options: ReaderOptions
    var context: DetectorContext { DetectorContext(sites: sites, allowlist: allow, watchlist: watch) }

    static func load(
        towers: String?, prisons: String?, config: String?, allowlist: String?, watchlist: String?,
        reading: ReadingOptions
    ) throws(ConfigError) -> ReferenceData {
        let prisonList: [Prison]
        let prisonSource: String
        do {
            if let path = prisons {
                prisonList = try PrisonFile.load(path: path)
                prisonSource = "file:\(path)"
            } else {
                prisonList = try PrisonFile.parse(text: DefaultPrisons.csv, path: "built-in prison list")
                prisonSource = "built-in:" + SHA256.hash(DefaultPrisons.csv)
            }
        } catch { throw ConfigError("--prisons \(error)") }
        if prisonList.isEmpty { throw ConfigError("--prisons \(prisons ?? "built-in"): the list has no prisons") }
        var towerLoad = TowerLoad()
        if let path = towers {
            do { towerLoad = try TowerFile.load(path: path) } catch { throw ConfigError("--towers \(error)") }
        }
        let options = try reading.readerOptions()
        var st = DetectorSettings()
        if let path = config {
            do {
                let bytes = try FileSystemLite.read(path)
                st = try SettingsFile.parse(String(decoding: bytes, as: UTF8.self), path: path)
            } catch { throw ConfigError("--config \(error)") }
        }
        var allow = NumberList()
        var watch = NumberList()
        if let path = allowlist { allow = try numberList(path, flag: "--allowlist", plan: options.plan) }
        if let path = watchlist { watch = try numberList(path, flag: "--watchlist", plan: options.plan) }
        return ReferenceData(
            settings: st, prisons: prisonList, prisonSource: prisonSource, towerLoad: towerLoad,
            sites: SiteTable(towers: towerLoad.towers, prisons: prisonList), allow: allow, watch: watch,
            options: options)
    }

    static func numberList(_ path: String, flag: String, plan: NumberPlan) throws(ConfigError) -> NumberList {
        do {
            let bytes = try FileSystemLite.read(path)
            return try SettingsFile.numberList(String(decoding: bytes, as: UTF8.self), path: path, plan: plan)
        } catch { throw ConfigError("\(flag) \(error)") }
    }
}
