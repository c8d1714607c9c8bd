public import CeldaCore

/// Reading `--config FILE` (TOML, see `celda config --defaults`) and number lists.
public enum SettingsFile {
    /// Applies a configuration file over the defaults; an unknown key or a bad value is an
    /// error naming the line.
    public static func parse(
        _ text: String, path: String, base: DetectorSettings = DetectorSettings()
    ) throws(InputError)
        -> DetectorSettings
    {
        let entries: [(key: String, value: TOMLValue, line: Int)]
        do { entries = try MiniTOML.parse(text) } catch { throw InputError(.badHeader, path: path, error.description) }
        var s = base
        let byKey = Dictionary(uniqueKeysWithValues: DetectorSettings.catalogue.map { ($0.key, $0) })
        for (key, value, line) in entries {
            guard let setting = byKey[key] else {
                throw InputError(
                    .badHeader, path: path, "line \(line): unknown setting '\(key)' (see `celda config --defaults`)")
            }
            func bad(_ what: String) -> InputError {
                InputError(.badHeader, path: path, "line \(line): \(key): expected \(what)")
            }
            switch setting.slot {
            case .duration(let k):
                if let t = value.string, let d = DetectorSettings.parseDuration(t) {
                    s[keyPath: k] = d
                } else if let i = value.integer, i >= 0 {
                    s[keyPath: k] = EventTime(i) * CivilTime.second
                } else {
                    throw bad("a duration such as \"90m\", \"2h\" or a number of seconds")
                }
            case .int(let k):
                guard let i = value.integer, i >= 0 else { throw bad("a whole number") }
                if let r = setting.range, !r.contains(i) {
                    throw bad("a whole number from \(r.lowerBound) to \(r.upperBound)")
                }
                s[keyPath: k] = i
            case .double(let k):
                guard let d = value.double, d >= 0 else { throw bad("a number") }
                s[keyPath: k] = d
            case .gap(let k):
                guard let i = value.integer, i >= 0 else { throw bad("a whole number") }
                s[keyPath: k] = UInt64(i)
            }
        }
        return s
    }

    /// A list of numbers and prefixes, one a line (`#` comments). A line ending in `*` is a prefix
    /// (`+52551*`); other lines are numbers normalised like the dump's.
    public static func numberList(_ text: String, path: String, plan: NumberPlan) throws(InputError) -> NumberList {
        var list = NumberList()
        var identities = IdentityTable()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingSuffix("\r")
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            var t = String(line).trimmingSpaces
            if t.isEmpty { continue }
            if t.hasSuffix("*") {
                t.removeLast()
                let digits = t.filter(\.isNumber)
                guard !digits.isEmpty, digits.count <= 15, let v = UInt64(digits), t.hasPrefix("+") else {
                    throw InputError(
                        .badHeader, path: path, "line \(n + 1): a prefix is written +DIGITS* (e.g. +52551*)")
                }
                list.addPrefix(digits: v, count: digits.count)
                continue
            }
            let outcome = t.withUTF8 { plan.normalise(UnsafeRawBufferPointer($0)) }
            switch outcome {
            case .party(let p): list.add(p)
            case .text: list.add(t.withUTF8 { identities.intern(UnsafeRawBufferPointer($0)) })
            case .empty, .invalid:
                throw InputError(.badHeader, path: path, "line \(n + 1): '\(t)' is not a phone number or prefix")
            }
        }
        return list
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ s: String) -> Substring { hasSuffix(s) ? dropLast(s.count) : self }
}
