/// A value of the TOML subset Celda's mapping and configuration files use.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var integer: Int? { if case .integer(let i) = self { i } else { nil } }
    public var double: Double? {
        switch self {
        case .float(let d): d
        case .integer(let i): Double(i)
        default: nil
        }
    }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var strings: [String]? {
        if case .array(let a) = self { return a.compactMap(\.string).count == a.count ? a.compactMap(\.string) : nil }
        if case .string(let s) = self { return [s] }
        return nil
    }
}

/// A small TOML reader: `# comments`, `[table]` and `[table.sub]` headers, `key = value` with
/// bare or quoted keys, basic and literal strings, integers (with `_`), floats, booleans and
/// one-line arrays. Keys come back flattened with dots: `columns.caller`.
///
/// Enough for mapping and detector configuration files; anything else is an error naming the
/// line.
public enum MiniTOML {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [(key: String, value: TOMLValue, line: Int)] {
        var out: [(String, TOMLValue, Int)] = []
        var table = ""
        var seen = Set<String>()
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = n + 1
            var chars = Array(rawLine.unicodeScalars)
            if chars.last == "\r" { chars.removeLast() }
            var i = 0
            func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
            func fail(_ m: String) -> ParseError { ParseError(line: lineNo, message: m) }
            skipSpace()
            if i == chars.count || chars[i] == "#" { continue }
            if chars[i] == "[" {
                guard let close = chars.lastIndex(of: "]") else { throw fail("a table header needs ']'") }
                let name = String(String.UnicodeScalarView(chars[(i + 1)..<close])).trimmingSpaces
                guard !name.isEmpty else { throw fail("empty table name") }
                table = name
                continue
            }
            // Key.
            var key = ""
            if chars[i] == "\"" {
                i += 1
                while i < chars.count, chars[i] != "\"" {
                    key.unicodeScalars.append(chars[i])
                    i += 1
                }
                guard i < chars.count else { throw fail("unterminated quoted key") }
                i += 1
            } else {
                while i < chars.count, chars[i] != "=", chars[i] != " ", chars[i] != "\t" {
                    key.unicodeScalars.append(chars[i])
                    i += 1
                }
            }
            skipSpace()
            guard i < chars.count, chars[i] == "=" else { throw fail("expected 'key = value'") }
            i += 1
            skipSpace()
            let value = try parseValue(chars, &i, lineNo)
            skipSpace()
            guard i == chars.count || chars[i] == "#" else { throw fail("unexpected text after the value") }
            let full = table.isEmpty ? key : table + "." + key
            guard seen.insert(full).inserted else { throw fail("'\(full)' is set twice") }
            out.append((full, value, lineNo))
        }
        return out
    }

    static func parseValue(_ c: [Unicode.Scalar], _ i: inout Int, _ line: Int) throws(ParseError) -> TOMLValue {
        func fail(_ m: String) -> ParseError { ParseError(line: line, message: m) }
        guard i < c.count else { throw fail("missing value") }
        switch c[i] {
        case "\"":
            i += 1
            var s = String.UnicodeScalarView()
            while i < c.count, c[i] != "\"" {
                if c[i] == "\\", i + 1 < c.count {
                    i += 1
                    switch c[i] {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "\\": s.append("\\")
                    case "\"": s.append("\"")
                    default: throw fail("unsupported escape \\\(c[i])")
                    }
                } else {
                    s.append(c[i])
                }
                i += 1
            }
            guard i < c.count else { throw fail("unterminated string") }
            i += 1
            return .string(String(s))
        case "'":
            i += 1
            var s = String.UnicodeScalarView()
            while i < c.count, c[i] != "'" {
                s.append(c[i])
                i += 1
            }
            guard i < c.count else { throw fail("unterminated string") }
            i += 1
            return .string(String(s))
        case "[":
            i += 1
            var items: [TOMLValue] = []
            while true {
                while i < c.count, c[i] == " " || c[i] == "\t" { i += 1 }
                guard i < c.count else { throw fail("unterminated array (arrays must fit on one line)") }
                if c[i] == "]" {
                    i += 1
                    return .array(items)
                }
                items.append(try parseValue(c, &i, line))
                while i < c.count, c[i] == " " || c[i] == "\t" { i += 1 }
                if i < c.count, c[i] == "," { i += 1 }
            }
        default:
            var word = ""
            while i < c.count, c[i] != ",", c[i] != "]", c[i] != " ", c[i] != "\t", c[i] != "#" {
                word.unicodeScalars.append(c[i])
                i += 1
            }
            if word == "true" { return .bool(true) }
            if word == "false" { return .bool(false) }
            let digits = word.replacing("_", with: "")
            if let v = Int(digits) { return .integer(v) }
            if let d = Double(digits), d.isFinite { return .float(d) }
            throw fail("'\(word)' is not a string, number, boolean or array (quote text values)")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
