/// A telephone party (calling or called line), normalised once at decode time.
///
/// Packed in 64 bits so records stay fixed-width and hashing is one integer:
///
/// | bits 63-62 | meaning | payload |
/// | --- | --- | --- |
/// | `00` | E.164 number | the digits after `+` as an integer (at most 15 digits) |
/// | `01` | digit string that is not E.164 (a PBX extension such as `1002`) | bits 57-61 length, bits 0-56 value |
/// | `10` | text identity (a SIP URI or name) | 62-bit hash; the text lives in an ``IdentityTable`` |
///
/// `raw == 0` means "no party".
@frozen
public struct Party: Hashable, Comparable, Sendable, BitwiseCopyable {
    public var raw: UInt64

    @inlinable public init(raw: UInt64) { self.raw = raw }

    /// No party (an empty field).
    public static let none = Party(raw: 0)

    @inlinable public var isNone: Bool { raw == 0 }
    @inlinable public var isE164: Bool { raw != 0 && raw >> 62 == 0 }
    @inlinable public var isDigitString: Bool { raw >> 62 == 1 }
    @inlinable public var isText: Bool { raw >> 62 == 2 }

    /// An E.164 number from its digits (country code first, no `+`).
    @inlinable public static func e164(_ digits: UInt64) -> Party { Party(raw: digits) }

    /// A non-E.164 digit string of `length` digits (leading zeros kept by the length).
    @inlinable public static func digitString(_ value: UInt64, length: Int) -> Party {
        Party(raw: 1 << 62 | UInt64(length) << 57 | value)
    }

    /// A text identity by its hash (see ``IdentityTable``).
    @inlinable public static func text(hash: UInt64) -> Party { Party(raw: 2 << 62 | (hash & (1 << 62 - 1)) | 1) }

    @inlinable public static func < (a: Party, b: Party) -> Bool { a.raw < b.raw }

    @inlinable public static func == (a: Party, b: Party) -> Bool { a.raw == b.raw }

    @inlinable public func hash(into hasher: inout Hasher) { hasher.combine(raw) }

    /// Dictionaries and sets keyed by party (the detectors' per-line state) hash with one
    /// multiply-xorshift round instead of SipHash: the keys are not attacker-chosen strings, and
    /// this lookup is on every record's path.
    @inlinable public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: StableHash.mix(raw ^ UInt64(truncatingIfNeeded: seed)))
    }

    /// The digits of an E.164 number (no `+`), or `nil` for other kinds.
    @inlinable public var e164Digits: UInt64? { isE164 ? raw : nil }

    /// The printable form: `+525512345678` for E.164, the digits for a digit string;
    /// `nil` for a text identity (ask the ``IdentityTable``) and for ``none``.
    public var formatted: String? {
        if isE164 { return "+" + String(raw) }
        if isDigitString {
            let length = Int(raw >> 57 & 0x1F)
            let value = raw & (1 << 57 - 1)
            let s = String(value)
            return String(repeating: "0", count: max(0, length - s.count)) + s
        }
        return nil
    }
}

/// The text of identities that are not phone numbers (SIP URIs, names), keyed by hash.
///
/// Only rows with such identities touch it, so it stays small on carrier dumps.
public struct IdentityTable: Sendable {
    public private(set) var names: [UInt64: String] = [:]
    public init() {}

    /// Records `text` and returns its party.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Party {
        let h = StableHash.bytes(bytes)
        let party = Party.text(hash: h)
        if names[party.raw] == nil { names[party.raw] = String(decoding: bytes, as: UTF8.self) }
        return party
    }

    /// Adds every name of another table.
    public mutating func merge(_ other: IdentityTable) {
        names.merge(other.names) { a, _ in a }
    }

    /// The printable form of any party.
    public func name(of party: Party) -> String {
        if let s = party.formatted { return s }
        if party.isNone { return "" }
        return names[party.raw] ?? "identity-\(String(party.raw, radix: 16))"
    }
}

/// How phone numbers are normalised to E.164 (spec/inputs.md §1).
public struct NumberPlan: Sendable, Hashable {
    /// Default country calling code (Mexico: 52).
    public var countryCode: UInt64
    /// Digits in a national significant number of that country (Mexico: 10).
    public var nationalLength: Int

    public init(countryCode: UInt64 = 52, nationalLength: Int = 10) {
        self.countryCode = countryCode
        self.nationalLength = nationalLength
    }

    @inlinable static func power10(_ n: Int) -> UInt64 {
        var p: UInt64 = 1
        for _ in 0..<n { p &*= 10 }
        return p
    }

    /// Mexico's plan: `+52` and ten national digits.
    public static let mexico = NumberPlan()

    /// Outcome of normalising a field.
    public enum Outcome: Equatable, Sendable {
        case party(Party)
        case empty
        /// Letters among digits, or too many digits: the row is rejected.
        case invalid
        /// Not a number at all (e.g. `anonymous`, `sip:alice@host`): keep as text identity.
        case text
    }

    /// Normalises a number field.
    ///
    /// Accepts `+52…`, `52…`, the old mobile form `+52 1` + 10 digits, legacy `044`/`045`/`01`
    /// prefixes, `00` international prefix, `tel:`/`sip:` URIs (user part), spaces, dashes, dots,
    /// parentheses and quotes. Other countries' numbers written with `+` stay in their E.164.
    @inlinable
    public func normalise(_ field: UnsafeRawBufferPointer) -> Outcome {
        // The usual field: digits, perhaps after a '+'.
        let n = field.count
        if n > 0, n <= 20 {
            let plus = field[0] == 0x2B
            var i = plus ? 1 : 0
            if n - i >= 8, n - i <= 16, let base = field.baseAddress {
                if let value = Digits.eightToSixteen(base + i, count: n - i) {
                    return classify(value: value, count: n - i, plus: plus)
                }
            } else if i < n {
                var value: UInt64 = 0
                while i < n {
                    let d = field[i] &- 0x30
                    if d >= 10 { break }
                    value = value &* 10 &+ UInt64(d)
                    i += 1
                }
                let count = plus ? n - 1 : n
                if i == n, count < 20 { return classify(value: value, count: count, plus: plus) }
            }
        }
        var start = 0
        var end = field.count
        // Trim blanks and quotes.
        while start < end, field[start] == 0x20 || field[start] == 0x22 || field[start] == 0x27 || field[start] == 0x09
        {
            start += 1
        }
        while end > start,
            field[end - 1] == 0x20 || field[end - 1] == 0x22 || field[end - 1] == 0x27 || field[end - 1] == 0x09
        {
            end -= 1
        }
        if start == end { return .empty }
        // URI schemes: tel:, sip:, sips: (case-insensitive); take the user part.
        var isURI = false
        if end - start > 4 {
            let c0 = field[start] | 0x20, c1 = field[start + 1] | 0x20, c2 = field[start + 2] | 0x20
            if c0 == 0x74, c1 == 0x65, c2 == 0x6C, field[start + 3] == 0x3A {  // tel:
                start += 4
                isURI = true
            } else if c0 == 0x73, c1 == 0x69, c2 == 0x70 {
                if field[start + 3] == 0x3A {
                    start += 4
                    isURI = true
                } else if field[start + 3] | 0x20 == 0x73, end - start > 5, field[start + 4] == 0x3A {
                    start += 5
                    isURI = true
                }
            }
        }
        // The user part ends at '@' or ';' (URI parameters).
        var userEnd = start
        while userEnd < end, field[userEnd] != 0x40, field[userEnd] != 0x3B { userEnd += 1 }
        if userEnd < end { isURI = true }
        var value: UInt64 = 0
        var count = 0
        var plus = false
        var letters = false
        var startsWithLetter = false
        var sawDigit = false
        var i = start
        while i < userEnd {
            let c = field[i]
            let d = c &- 0x30
            if d < 10 {
                if count >= 19 { return .invalid }
                value = value &* 10 &+ UInt64(d)
                count += 1
                sawDigit = true
            } else if c == 0x2B {
                if sawDigit { return isURI ? .text : .invalid }
                plus = true
            } else if c == 0x20 || c == 0x2D || c == 0x2E || c == 0x28 || c == 0x29 || c == 0x2F {
                // separators
            } else {
                if !sawDigit && !plus && !letters { startsWithLetter = true }
                letters = true
            }
            i += 1
        }
        if letters || count == 0 {
            // A name such as `anonymous` or a PBX user such as `client1` is an identity; letters
            // among a number's digits (`55123A4567`) make the field invalid.
            if isURI || !sawDigit || startsWithLetter { return .text }
            return .invalid
        }
        let outcome = classify(value: value, count: count, plus: plus)
        // A SIP/tel URI whose user part is no valid number (too many digits) is an identity.
        if isURI, outcome == .invalid { return .text }
        return outcome
    }

    @inlinable
    func classify(value: UInt64, count: Int, plus: Bool) -> Outcome {
        let national = nationalLength
        let cc = countryCode
        let ccDigits = cc < 10 ? 1 : cc < 100 ? 2 : 3
        let p10 = national == 10 ? 10_000_000_000 : Self.power10(national)
        if plus {
            if count < 7 || count > 15 { return count > 15 ? .invalid : .party(.digitString(value, length: count)) }
            // Old Mexican mobile form: +52 1 + ten digits.
            if cc == 52, count == 13, value / p10 == 521 { return .party(.e164(52 * p10 + value % p10)) }
            return .party(.e164(value))
        }
        if count == national, value >= p10 / 10 {
            // A national number (no leading zero).
            return .party(.e164(cc * p10 + value))
        }
        if count == national + ccDigits, value / p10 == cc, value % p10 >= p10 / 10 {
            return .party(.e164(value))
        }
        if cc == 52 {
            // 521 + ten digits (old mobile form without +).
            if count == 13, value / p10 == 521 { return .party(.e164(52 * p10 + value % p10)) }
            // 044 / 045 + ten digits (legacy mobile prefixes); 01 + ten digits (legacy long distance).
            if count == 13, value / p10 == 44 || value / p10 == 45 { return .party(.e164(52 * p10 + value % p10)) }
            if count == 12, value / p10 == 1 { return .party(.e164(52 * p10 + value % p10)) }
        }
        // 00 + international number.
        if count >= 9, count <= 17 {
            var p: UInt64 = 1
            for _ in 0..<(count - 2) { p &*= 10 }
            if value / p == 0, count - 2 >= 7 { return .party(.e164(value % p)) }
        }
        if count > 17 { return .invalid }
        return .party(.digitString(value, length: count))
    }
}
