import Testing

@testable import CeldaIngest

/// The word-at-a-time digit reading of IMEIs and IMSIs against a digit-at-a-time definition:
/// every length up to 20 (past the word path's 8...16 on both sides), all digits, and each
/// byte in turn replaced by a byte just outside "0"..."9" or with its high bit set.
struct DigitsTests {
    static func reference(_ bytes: [UInt8], maxDigits: Int) -> UInt64? {
        guard bytes.count <= maxDigits else { return nil }
        var v: UInt64 = 0
        for c in bytes {
            guard c >= 0x30, c <= 0x39 else { return nil }
            v = v &* 10 &+ UInt64(c - 0x30)
        }
        return v
    }

    @Test func plainDigitsMatchesTheDefinition() {
        var rng = SplitMix(77)
        let outside: [UInt8] = [0x2F, 0x3A, 0x3F, 0x40, 0x20, 0x00, 0xB0, 0xB5, 0xF9, 0x2C, 0x7F, 0x1A]
        for length in 0...20 {
            for _ in 0..<200 {
                var bytes = (0..<length).map { _ in UInt8(0x30 + rng.next() % 10) }
                // Runs of nines and zeros, where carries and borrows would show.
                if rng.next() % 4 == 0 { bytes = bytes.map { _ in rng.next() % 2 == 0 ? 0x39 : 0x30 } }
                let digits = bytes
                for maxDigits in [length, 17] {
                    let got = digits.withUnsafeBytes { CDRDecoder.plainDigits($0, maxDigits: maxDigits) }
                    #expect(got == Self.reference(digits, maxDigits: maxDigits), "\(digits)")
                }
                if length > 0 {
                    for k in 0..<length {
                        var bad = digits
                        bad[k] = outside[Int(rng.next() % UInt64(outside.count))]
                        let got = bad.withUnsafeBytes { CDRDecoder.plainDigits($0, maxDigits: 17) }
                        #expect(got == nil, "\(bad)")
                    }
                }
            }
        }
        #expect(
            Array("358164670052457".utf8).withUnsafeBytes { CDRDecoder.plainDigits($0, maxDigits: 17) }
                == 358_164_670_052_457)
        #expect(
            Array("9999999999999999".utf8).withUnsafeBytes { CDRDecoder.plainDigits($0, maxDigits: 17) }
                == 9_999_999_999_999_999)
        #expect(Array("".utf8).withUnsafeBytes { CDRDecoder.plainDigits($0, maxDigits: 17) } == 0)
    }
}
