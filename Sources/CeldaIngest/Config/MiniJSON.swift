/// A parsed JSON value (for GeoJSON prison lists and small configuration files).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var number: Double? { if case .number(let d) = self { d } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: [(String, JSONValue)]? { if case .object(let o) = self { o } else { nil } }
}

/// A strict RFC 8259 reader. Errors give the byte offset.
public enum MiniJSON {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var offset: Int
        public var message: String
        public var description: String { "\(message) at byte \(offset)" }
    }

    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
        var p = Parser(b: bytes)
        p.skip()
        let v = try p.value(depth: 0)
        p.skip()
        guard p.i == bytes.count else { throw ParseError(offset: p.i, message: "unexpected text after the value") }
        return v
    }

    struct Parser {
        let b: [UInt8]
        var i = 0

        mutating func skip() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        func fail(_ m: String) -> ParseError { ParseError(offset: i, message: m) }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth < 256 else { throw fail("nesting too deep") }
            guard i < b.count else { throw fail("unexpected end") }
            switch b[i] {
            case 0x7B:
                i += 1
                var members: [(String, JSONValue)] = []
                skip()
                if i < b.count, b[i] == 0x7D {
                    i += 1
                    return .object(members)
                }
                while true {
                    skip()
                    guard i < b.count, b[i] == 0x22 else { throw fail("expected a key") }
                    let k = try string()
                    skip()
                    guard i < b.count, b[i] == 0x3A else { throw fail("expected ':'") }
                    i += 1
                    skip()
                    members.append((k, try value(depth: depth + 1)))
                    skip()
                    guard i < b.count else { throw fail("unexpected end") }
                    if b[i] == 0x2C {
                        i += 1
                        continue
                    }
                    guard b[i] == 0x7D else { throw fail("expected ',' or '}'") }
                    i += 1
                    return .object(members)
                }
            case 0x5B:
                i += 1
                var items: [JSONValue] = []
                skip()
                if i < b.count, b[i] == 0x5D {
                    i += 1
                    return .array(items)
                }
                while true {
                    skip()
                    items.append(try value(depth: depth + 1))
                    skip()
                    guard i < b.count else { throw fail("unexpected end") }
                    if b[i] == 0x2C {
                        i += 1
                        continue
                    }
                    guard b[i] == 0x5D else { throw fail("expected ',' or ']'") }
                    i += 1
                    return .array(items)
                }
            case 0x22: return .string(try string())
            case 0x74: return try word("true", .bool(true))
            case 0x66: return try word("false", .bool(false))
            case 0x6E: return try word("null", .null)
            default: return .number(try number())
            }
        }

        mutating func word(_ w: String, _ v: JSONValue) throws(ParseError) -> JSONValue {
            let u = Array(w.utf8)
            guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { throw fail("unexpected text") }
            i += u.count
            return v
        }

        mutating func number() throws(ParseError) -> Double {
            let start = i
            while i < b.count,
                (b[i] >= 0x30 && b[i] <= 0x39) || b[i] == 0x2D || b[i] == 0x2B || b[i] == 0x2E || b[i] | 0x20 == 0x65
            {
                i += 1
            }
            guard i > start, let d = Double(String(decoding: b[start..<i], as: UTF8.self)) else {
                throw fail("expected a value")
            }
            return d
        }

        mutating func string() throws(ParseError) -> String {
            i += 1
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                if c == 0x22 {
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if c == 0x5C {
                    i += 1
                    guard i < b.count else { break }
                    switch b[i] {
                    case 0x22: out.append(0x22)
                    case 0x5C: out.append(0x5C)
                    case 0x2F: out.append(0x2F)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x6E: out.append(0x0A)
                    case 0x72: out.append(0x0D)
                    case 0x74: out.append(0x09)
                    case 0x75:
                        guard i + 4 < b.count,
                            let u = UInt32(String(decoding: b[(i + 1)...(i + 4)], as: UTF8.self), radix: 16)
                        else {
                            throw fail("bad \\u escape")
                        }
                        i += 4
                        var scalar = u
                        if (0xD800..<0xDC00).contains(u), i + 6 < b.count, b[i + 1] == 0x5C, b[i + 2] == 0x75,
                            let lo = UInt32(String(decoding: b[(i + 3)...(i + 6)], as: UTF8.self), radix: 16),
                            (0xDC00..<0xE000).contains(lo)
                        {
                            scalar = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                            i += 6
                        }
                        out.append(
                            contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                    default: throw fail("bad escape")
                    }
                    i += 1
                    continue
                }
                out.append(c)
                i += 1
            }
            throw fail("unterminated string")
        }
    }
}
