import ArgumentParser
import CeldaCore

/// A duration argument: `90m`, `2h`, `45s`, `1d`, or plain seconds.
struct Duration: ExpressibleByArgument, Sendable {
    var micros: EventTime

    init(micros: EventTime) { self.micros = micros }

    init?(argument: String) {
        var text = argument.lowercased()
        var unit: EventTime = CivilTime.second
        if let last = text.last, !last.isNumber {
            switch last {
            case "s": unit = CivilTime.second
            case "m": unit = CivilTime.minute
            case "h": unit = CivilTime.hour
            case "d": unit = 24 * CivilTime.hour
            default: return nil
            }
            text.removeLast()
        }
        guard let v = Double(text), v >= 0, v.isFinite, v < 1e9 else { return nil }
        micros = EventTime(v * Double(unit))
    }

    var defaultValueDescription: String { Duration.describe(micros) }

    static func describe(_ m: EventTime) -> String {
        if m % CivilTime.hour == 0 { return "\(m / CivilTime.hour)h" }
        if m % CivilTime.minute == 0 { return "\(m / CivilTime.minute)m" }
        return "\(m / CivilTime.second)s"
    }
}
